"""The reference checks of 0015, planned for each statement's own rows.

PL/pgSQL keeps the plan of a query without parameters for the whole session: the plan made for a
million-row bulk posting (hash joins reading the transactions, accounts or units in full) would then serve
every one-receipt posting after it in that session, and the other way round. The same queries run through
EXECUTE are planned each time for the rows the statement inserted (planning takes a fraction of a
millisecond). What is checked does not change.
"""

from django.db import migrations

from congdoan.core.statement_checks import on_postgresql

ENTRY_CHECK = """
    CREATE OR REPLACE FUNCTION finance_check_entry_references() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
    DECLARE
        bad record;
        found_rows bigint;
    BEGIN
        EXECUTE 'SELECT n.transaction_id, n.account_id, n.unit_id FROM finance_entry_refs_inserted n
                 LEFT JOIN finance_transaction t ON t.id = n.transaction_id
                 LEFT JOIN finance_account a ON a.id = n.account_id
                 WHERE t.id IS NULL OR a.id IS NULL OR a.unit_id <> n.unit_id LIMIT 1' INTO bad;
        GET DIAGNOSTICS found_rows = ROW_COUNT;  -- EXECUTE does not set FOUND
        IF found_rows > 0 THEN
            RAISE EXCEPTION 'finance: an entry names transaction %, account % of unit %: no such transaction, or no such account in that unit',
                bad.transaction_id, bad.account_id, bad.unit_id USING ERRCODE = '23503';
        END IF;
        RETURN NULL;
    END $$
"""
RECEIPT_CHECK = """
    CREATE OR REPLACE FUNCTION finance_check_receipt_references() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
    DECLARE
        bad record;
        found_rows bigint;
    BEGIN
        EXECUTE 'SELECT n.external_id, n.transaction_id, n.unit_id FROM finance_receipt_refs_inserted n
                 LEFT JOIN finance_transaction t ON t.id = n.transaction_id
                 LEFT JOIN organizations_unit u ON u.id = n.unit_id
                 WHERE t.id IS NULL OR u.id IS NULL LIMIT 1' INTO bad;
        GET DIAGNOSTICS found_rows = ROW_COUNT;  -- EXECUTE does not set FOUND
        IF found_rows > 0 THEN
            RAISE EXCEPTION 'finance: receipt % names transaction % and unit %: one of them does not exist',
                bad.external_id, bad.transaction_id, bad.unit_id USING ERRCODE = '23503';
        END IF;
        RETURN NULL;
    END $$
"""


run = on_postgresql  # kept by name: later migrations call previous.run


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        previous = import_module("congdoan.finance.migrations.0015_references_checked_per_statement")
        for sql in previous.PG_FORWARD:
            if "FUNCTION finance_check_" in sql and "CREATE FUNCTION" in sql:
                schema_editor.execute(sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"), params=None)


class Migration(migrations.Migration):
    dependencies = [("finance", "0017_unique_indexes_without_nulls")]
    operations = [migrations.RunPython(run([ENTRY_CHECK, RECEIPT_CHECK]), backward)]
