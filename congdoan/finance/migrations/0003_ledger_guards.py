"""The database keeps the ledger's promises too, not only the services.

PostgreSQL:
  * a deferred constraint trigger checks at commit that every transaction that received entries
    balances for each unit it touches (debits = credits): a bug or a hand-written INSERT that leaves
    a transaction unbalanced makes the whole commit fail;
  * entries, transactions, receipts, closed months and closing balances refuse UPDATE and DELETE
    (TRUNCATE, used by test teardown and never by the application, is not affected).
SQLite (the embedded, single-user setup): the same refusal of UPDATE on entries and transactions;
triggers there cannot be deferred to commit, so the balance is checked by the services alone, and
DELETE is left to the models (whose delete() raises) because Django's test flush deletes rows.
"""

from django.db import migrations

PERMANENT = ["finance_entry", "finance_transaction", "finance_receipt", "finance_period", "finance_accountbalance"]

PG_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION finance_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM finance_entry WHERE transaction_id = NEW.transaction_id
                   GROUP BY unit_id HAVING SUM(debit) <> SUM(credit)) THEN
            RAISE EXCEPTION 'finance: transaction % does not balance', NEW.transaction_id USING ERRCODE = '23514';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER finance_entry_balanced AFTER INSERT ON finance_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION finance_check_balanced()
    """,
    """
    CREATE OR REPLACE FUNCTION finance_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'finance: % rows are never changed nor deleted; post a reversing transaction', TG_TABLE_NAME
            USING ERRCODE = '23000';
    END $$
    """,
    *[f"CREATE TRIGGER {table}_permanent BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION finance_refuse_change()"
      for table in PERMANENT],
]
PG_BACKWARD = [
    *[f"DROP TRIGGER IF EXISTS {table}_permanent ON {table}" for table in PERMANENT],
    "DROP TRIGGER IF EXISTS finance_entry_balanced ON finance_entry",
    "DROP FUNCTION IF EXISTS finance_refuse_change()",
    "DROP FUNCTION IF EXISTS finance_check_balanced()",
]
SQLITE_FORWARD = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'finance: {table} rows are never changed; post a reversing transaction'); END"
    for table in ("finance_entry", "finance_transaction")
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {table}_no_update" for table in ("finance_entry", "finance_transaction")]


def run(postgresql, sqlite):
    def apply(apps, schema_editor):
        statements = {"postgresql": postgresql, "sqlite": sqlite}.get(schema_editor.connection.vendor, [])
        for sql in statements:
            schema_editor.execute(sql, params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [("finance", "0002_seed_rules")]
    operations = [migrations.RunPython(run(PG_FORWARD, SQLITE_FORWARD), run(PG_BACKWARD, SQLITE_BACKWARD))]
