"""The balance check at commit (migration 0003) asked with a query the planner cannot get wrong.

0003's trigger asked ``EXISTS (SELECT 1 … WHERE transaction_id = … GROUP BY unit_id HAVING …)``. Under
EXISTS the planner favours a plan that returns a first row early; without statistics on ``finance_entry``
(a new database, or rows written by the transaction being committed) it read the entries in
``(unit_id, date)`` order and filtered them by transaction: each check read the whole table. Posting 2,000
receipts (18,000 entries) in one transaction took 99 s to commit, a million would never end. ``PERFORM``
runs the same query to its end, so the planner costs it whole and takes the ``transaction_id`` index:
a few tens of microseconds per check however large the table. What is checked does not change: every
transaction that received entries balances for each unit it touches, at commit.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION finance_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM finance_entry WHERE transaction_id = NEW.transaction_id
        GROUP BY unit_id HAVING SUM(debit) <> SUM(credit);
    IF FOUND THEN
        RAISE EXCEPTION 'finance: transaction % does not balance', NEW.transaction_id USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$
"""
BACKWARD = """
CREATE OR REPLACE FUNCTION finance_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM finance_entry WHERE transaction_id = NEW.transaction_id
               GROUP BY unit_id HAVING SUM(debit) <> SUM(credit)) THEN
        RAISE EXCEPTION 'finance: transaction % does not balance', NEW.transaction_id USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$
"""


def run(sql):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [("finance", "0003_ledger_guards")]
    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD))]
