"""The balance check of PostgreSQL (0003, 0010) once per INSERT statement, over all the rows it inserted.

0003 checked, at commit, the transaction of every entry inserted: one deferred trigger event per entry,
run one at a time. Posting 900,042 receipts in one statement (8.1 million entries) queued 8.1 million
checks, half of a commit of 8 minutes (with the entries' foreign keys). What is promised does not
change: **at commit, every transaction that received entries balances for each unit it touches**
(debits = credits), whatever inserted them (the services, ``bulk.receipts_post_bulk``, a hand-written
INSERT or COPY); otherwise the commit fails with SQLSTATE 23514. How it is checked:

1. after every statement that inserts entries, a statement-level trigger takes the transactions of the
   inserted rows (its transition table) and finds, in one query, those whose entries do not balance
   for some unit. The services and the bulk path insert all the entries of a transaction in one
   statement, so they leave none and nothing waits for the commit;
2. a transaction that does not balance after the statement (a hand-written INSERT, or the lines of one
   transaction written by several statements) gets a row in ``finance_balance_recheck``, whose deferred
   constraint trigger checks that transaction again at commit (or at ``SET CONSTRAINTS … IMMEDIATE``),
   like 0003's trigger did, and then deletes the row: the table is empty outside a database transaction.

Why nothing escapes: entries are never changed nor deleted (0003), so the balance of a transaction moves
only when entries are inserted into it, and every insert runs step 1. A transaction found balanced
after the last statement that inserted its entries stays balanced to the commit; one found unbalanced is
checked at commit. Removing a recheck row does not skip the check (the deferred trigger event is queued
when the row is inserted and reads the row as inserted). SQLite keeps no such trigger (0003).

The query of step 1 reads the entries of each touched transaction through the ``transaction_id`` index:
its plan is kept for the session and must suit one posting as well as a million receipts. Without
statistics on ``finance_entry`` (a bulk load not analysed yet) the planner guesses 4,000 entries per
transaction and would rather read the whole table for every posting (75–106 ms a ``receipt_post`` instead
of 9 in ``payments_bench``): ``enable_seqscan = off`` for these two functions only, and no JIT compiling
for a query that reads a few rows.
"""

from django.db import migrations

from congdoan.core.statement_checks import on_postgresql

FORWARD = [
    "DROP TRIGGER IF EXISTS finance_entry_balanced ON finance_entry",
    "DROP FUNCTION IF EXISTS finance_check_balanced()",
    "CREATE TABLE finance_balance_recheck (transaction_id bigint NOT NULL)",
    """
    CREATE FUNCTION finance_recheck_balanced() RETURNS trigger LANGUAGE plpgsql
    SET enable_seqscan = off SET jit = off AS $$
    BEGIN
        PERFORM 1 FROM finance_entry WHERE transaction_id = NEW.transaction_id
            GROUP BY unit_id HAVING SUM(debit) <> SUM(credit);
        IF FOUND THEN
            RAISE EXCEPTION 'finance: transaction % does not balance', NEW.transaction_id USING ERRCODE = '23514';
        END IF;
        DELETE FROM finance_balance_recheck WHERE transaction_id = NEW.transaction_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER finance_balance_recheck_at_commit AFTER INSERT ON finance_balance_recheck
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION finance_recheck_balanced()
    """,
    """
    CREATE FUNCTION finance_check_inserted_entries() RETURNS trigger LANGUAGE plpgsql
    SET enable_seqscan = off SET jit = off AS $$
    BEGIN
        INSERT INTO finance_balance_recheck (transaction_id)
        SELECT touched.transaction_id
        FROM (SELECT DISTINCT transaction_id FROM finance_inserted_entries) touched
        CROSS JOIN LATERAL (SELECT 1 FROM finance_entry e WHERE e.transaction_id = touched.transaction_id
                            GROUP BY e.unit_id HAVING SUM(e.debit) <> SUM(e.credit)) unbalanced;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER finance_entry_balanced_per_statement AFTER INSERT ON finance_entry
    REFERENCING NEW TABLE AS finance_inserted_entries
    FOR EACH STATEMENT EXECUTE FUNCTION finance_check_inserted_entries()
    """,
]

# back to 0010: the per-entry deferred trigger and its function as 0010 left it
BACKWARD = [
    "DROP TRIGGER IF EXISTS finance_entry_balanced_per_statement ON finance_entry",
    "DROP FUNCTION IF EXISTS finance_check_inserted_entries()",
    "DROP TABLE IF EXISTS finance_balance_recheck",
    "DROP FUNCTION IF EXISTS finance_recheck_balanced()",
    """
    CREATE OR REPLACE FUNCTION finance_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM finance_entry WHERE transaction_id = NEW.transaction_id
            GROUP BY unit_id HAVING SUM(debit) <> SUM(credit);
        IF FOUND THEN
            RAISE EXCEPTION 'finance: transaction % does not balance', NEW.transaction_id USING ERRCODE = '23514';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER finance_entry_balanced AFTER INSERT ON finance_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION finance_check_balanced()
    """,
]


class Migration(migrations.Migration):
    dependencies = [("finance", "0012_seed_armed_forces_exemptions")]
    operations = [migrations.RunPython(on_postgresql(FORWARD), on_postgresql(BACKWARD))]
