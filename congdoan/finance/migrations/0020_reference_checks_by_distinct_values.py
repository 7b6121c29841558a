"""The statement-level reference checks of entries and receipts probe each distinct value once.

0015/0018/0019 joined every row a statement inserted to the transaction, account, unit and member it names:
one index look-up per row and reference (a million-line bank statement's 827,191 entries and 900,042 receipts:
4.1 s of look-ups, measured with pg_stat_user_functions). Those rows name a few thousand transactions,
accounts and units: from 1,000 rows each distinct value (or account and unit pair) is now looked up once
(``congdoan.core.statement_checks``) and the row named in the message is searched only when a reference is
missing; a smaller statement is joined row by row as before. What is checked, the SQLSTATE and the messages
do not change, but for one addition: a receipt's upper levels (``unit_1..3``, which carry its parts) must exist
too; they were not checked by the database before (no foreign key, no statement check), and now cost three
probes of a few thousand values.
"""

from importlib import import_module

from django.db import migrations

from congdoan.core.statement_checks import check_function

previous = import_module("congdoan.finance.migrations.0018_reference_checks_planned_per_statement")
last = import_module("congdoan.finance.migrations.0019_receipt_references_per_statement")

ENTRY_CHECK = check_function(
    "finance_check_entry_references", "finance_entry_refs_inserted",
    [("transaction_id", "finance_transaction", "r.id = v.transaction_id"),
     ("account_id, unit_id", "finance_account", "r.id = v.account_id AND r.unit_id = v.unit_id")],
    "SELECT n.transaction_id, n.account_id, n.unit_id FROM finance_entry_refs_inserted n "
    "LEFT JOIN finance_transaction t ON t.id = n.transaction_id "
    "LEFT JOIN finance_account a ON a.id = n.account_id "
    "WHERE t.id IS NULL OR a.id IS NULL OR a.unit_id <> n.unit_id",
    "'finance: an entry names transaction %, account % of unit %: no such transaction, or no such account in that unit', "
    "bad.transaction_id, bad.account_id, bad.unit_id")
RECEIPT_CHECK = check_function(
    "finance_check_receipt_references", "finance_receipt_refs_inserted",
    [("transaction_id", "finance_transaction", "r.id = v.transaction_id"),
     ("unit_id", "organizations_unit", "r.id = v.unit_id"),
     ("member_id", "members_member", "r.id = v.member_id"),
     ("reversal_of_id", "finance_receipt", "r.id = v.reversal_of_id"),
     ("unit_1_id", "organizations_unit", "r.id = v.unit_1_id"),
     ("unit_2_id", "organizations_unit", "r.id = v.unit_2_id"),
     ("unit_3_id", "organizations_unit", "r.id = v.unit_3_id")],
    "SELECT n.external_id, n.transaction_id, n.unit_id FROM finance_receipt_refs_inserted n "
    "LEFT JOIN finance_transaction t ON t.id = n.transaction_id "
    "LEFT JOIN organizations_unit u ON u.id = n.unit_id "
    "WHERE t.id IS NULL OR u.id IS NULL "
    "OR (n.member_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members_member m WHERE m.id = n.member_id)) "
    "OR (n.reversal_of_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM finance_receipt r WHERE r.id = n.reversal_of_id)) "
    "OR (n.unit_1_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM organizations_unit x WHERE x.id = n.unit_1_id)) "
    "OR (n.unit_2_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM organizations_unit x WHERE x.id = n.unit_2_id)) "
    "OR (n.unit_3_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM organizations_unit x WHERE x.id = n.unit_3_id))",
    "'finance: receipt % names transaction % and unit %, a member, a receipt reversed or an upper level: one of them does "
    "not exist', "
    "bad.external_id, bad.transaction_id, bad.unit_id")


class Migration(migrations.Migration):
    dependencies = [("finance", "0019_receipt_references_per_statement")]
    operations = [migrations.RunPython(previous.run([ENTRY_CHECK, RECEIPT_CHECK]),
                                       previous.run([previous.ENTRY_CHECK, last.RECEIPT_CHECK]))]
