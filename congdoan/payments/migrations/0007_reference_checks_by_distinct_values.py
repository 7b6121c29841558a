"""The statement-level reference checks of lines and allocations probe each distinct value once.

0003/0005/0006 joined every row a statement wrote to the bank account, import, official, unit, member, line
and cash receipt it names: one index look-up per row and reference (a million-line statement's 900,042
allocations: 4.2 s, measured with pg_stat_user_functions). A chunk of lines names one account and one
import, its allocations a few thousand units and members: from 1,000 rows each distinct value is now
looked up once (``congdoan.core.statement_checks``); only the lines an allocation names are as many as its
rows. The row named in the message is then searched only when a reference is missing; a smaller statement
is joined row by row as before. What is checked, the SQLSTATE and the messages do not change.
"""

from importlib import import_module

from django.db import migrations

from congdoan.core.statement_checks import check_function

first = import_module("congdoan.payments.migrations.0003_references_checked_per_statement")
planned = import_module("congdoan.payments.migrations.0005_reference_checks_planned_per_statement")
last = import_module("congdoan.payments.migrations.0006_last_references_per_statement")

LINE_CHECK = check_function(
    "payments_line_references", "payments_line_references_rows",
    [("bank_account_id", "payments_bankaccount", "r.id = v.bank_account_id"),
     ("statement_import_id", "payments_statementimport", "r.id = v.statement_import_id"),
     ("decided_by_id", "accounts_user", "r.id = v.decided_by_id")],
    last.LINE_QUERY.format(rows="payments_line_references_rows").replace(" INTO bad", ""),
    "'payments: line % names bank account %, an import or an official that does not exist', bad.bank_txn_id, "
    "bad.bank_account_id")
ALLOCATION_CHECK = check_function(
    "payments_allocation_references", "payments_allocation_references_rows",
    [("unit_id", "organizations_unit", "r.id = v.unit_id"),
     ("member_id", "members_member", "r.id = v.member_id"),
     ("transaction_id", "payments_banktransaction", "r.id = v.transaction_id"),
     ("cash_receipt_id", "payments_cashreceipt", "r.id = v.cash_receipt_id")],
    planned.ALLOCATION_QUERY.format(rows="payments_allocation_references_rows").replace(" INTO bad", ""),
    "'payments: allocation % names unit % or member % (or a payment) that does not exist', bad.id, bad.unit_id, "
    "bad.member_id")
PG_BACKWARD = [sql for sql in last.PG_FORWARD if "payments_line_references" in sql] + \
    [sql for sql in planned.PG_FORWARD if "payments_allocation_references" in sql]


class Migration(migrations.Migration):
    dependencies = [("payments", "0006_last_references_per_statement")]
    operations = [migrations.RunPython(first.run([LINE_CHECK, ALLOCATION_CHECK]), first.run(PG_BACKWARD))]
