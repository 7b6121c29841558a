"""An allocation statement's lines are checked by their run of ids first.

A chunk of a statement's allocations names as many lines as it has rows (18,000 of a 20,000-line chunk), so
0007's probe of distinct values still looked each line up once: 2.2 s of a million-line import's 900,042
allocations, half of all its reference checks (measured with pg_stat_user_functions). Those lines are the
chunk's own, numbered in a row: when the lines table holds as many rows between the smallest and the largest
id named as the range has numbers, every one named exists (``congdoan.core.statement_checks.dense_probe``);
otherwise each is looked up as before. What is checked, the SQLSTATE and the message do not change.
"""

from importlib import import_module

from django.db import migrations

from congdoan.core.statement_checks import check_function

first = import_module("congdoan.payments.migrations.0003_references_checked_per_statement")
planned = import_module("congdoan.payments.migrations.0005_reference_checks_planned_per_statement")
by_values = import_module("congdoan.payments.migrations.0007_reference_checks_by_distinct_values")

ALLOCATION_CHECK = check_function(
    "payments_allocation_references", "payments_allocation_references_rows",
    [("unit_id", "organizations_unit", "r.id = v.unit_id"),
     ("member_id", "members_member", "r.id = v.member_id"),
     ("transaction_id", "payments_banktransaction", "r.id = v.transaction_id"),
     ("cash_receipt_id", "payments_cashreceipt", "r.id = v.cash_receipt_id")],
    planned.ALLOCATION_QUERY.format(rows="payments_allocation_references_rows").replace(" INTO bad", ""),
    "'payments: allocation % names unit % or member % (or a payment) that does not exist', bad.id, bad.unit_id, "
    "bad.member_id",
    dense=("transaction_id",))


class Migration(migrations.Migration):
    dependencies = [("payments", "0007_reference_checks_by_distinct_values")]
    operations = [migrations.RunPython(first.run([ALLOCATION_CHECK]), first.run([by_values.ALLOCATION_CHECK]))]
