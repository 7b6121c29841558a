"""The reference checks of 0003, planned for each statement's own rows (as finance 0018 does for the ledger).

PL/pgSQL keeps the plan of a query without parameters for the whole session, made for the first statement's
rows: a million-line import's plan would serve every one-line change after it, and the other way round.
Through EXECUTE the query is planned each time. What is checked does not change.
"""

from importlib import import_module

from django.db import migrations

previous = import_module("congdoan.payments.migrations.0003_references_checked_per_statement")


def _function(name: str, query: str, message: str) -> str:
    body = query.format(rows=name + "_rows").replace("'", "''").replace(" INTO bad", "")
    return f"""
        CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
        DECLARE
            bad record;
            found_rows bigint;
        BEGIN
            EXECUTE '{body} LIMIT 1' INTO bad;
            GET DIAGNOSTICS found_rows = ROW_COUNT;  -- EXECUTE does not set FOUND
            IF found_rows > 0 THEN
                RAISE EXCEPTION {message} USING ERRCODE = '23503';
            END IF;
            RETURN NULL;
        END $$
        """


LINE_QUERY = ("SELECT n.bank_txn_id, n.bank_account_id INTO bad FROM {rows} n "
              "LEFT JOIN payments_bankaccount a ON a.id = n.bank_account_id "
              "LEFT JOIN payments_statementimport i ON i.id = n.statement_import_id "
              "WHERE a.id IS NULL OR (n.statement_import_id IS NOT NULL AND i.id IS NULL)")
ALLOCATION_QUERY = ("SELECT n.id, n.unit_id, n.member_id INTO bad FROM {rows} n "
                    "LEFT JOIN organizations_unit u ON u.id = n.unit_id "
                    "LEFT JOIN members_member m ON m.id = n.member_id "
                    "LEFT JOIN payments_banktransaction l ON l.id = n.transaction_id "
                    "LEFT JOIN payments_cashreceipt c ON c.id = n.cash_receipt_id "
                    "WHERE u.id IS NULL OR (n.member_id IS NOT NULL AND m.id IS NULL) "
                    "OR (n.transaction_id IS NOT NULL AND l.id IS NULL) OR (n.cash_receipt_id IS NOT NULL AND c.id IS NULL)")

PG_FORWARD = [
    _function("payments_line_references", LINE_QUERY,
              "'payments: line % names bank account % or an import that does not exist', bad.bank_txn_id, bad.bank_account_id"),
    _function("payments_allocation_references", ALLOCATION_QUERY,
              "'payments: allocation % names unit % or member % (or a payment) that does not exist', bad.id, bad.unit_id, "
              "bad.member_id"),
]
PG_BACKWARD = [sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION") for sql in previous.PG_FORWARD
               if "CREATE FUNCTION payments_line_references" in sql or "CREATE FUNCTION payments_allocation_references" in sql]


class Migration(migrations.Migration):
    dependencies = [("payments", "0004_unique_indexes_without_nulls")]
    operations = [migrations.RunPython(previous.run(PG_FORWARD), previous.run(PG_BACKWARD))]
