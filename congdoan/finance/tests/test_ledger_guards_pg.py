"""PostgreSQL's own guard on the ledger's balance (migration 0013): whatever inserts entries (the services,
the bulk path, a hand-written INSERT or COPY, in one statement or several), a transaction that does not
balance for every unit it touches makes the commit fail (SQLSTATE 23514).

Most tests run inside the test's transaction and fire the deferred checks with ``SET CONSTRAINTS ALL
IMMEDIATE``, which is what COMMIT does first; the last one commits for real.
"""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction

from congdoan.finance import services
from congdoan.finance.bulk import ReceiptIn, receipts_post_bulk
from congdoan.finance.models import Account, Entry, Receipt, Transaction
from congdoan.finance.references import payment_reference_for

pytestmark = pytest.mark.skipif("connection.vendor != 'postgresql'")

D = datetime.date
DAY = D(2025, 6, 3)


def commit_checks():
    """Run the checks COMMIT runs (the deferred ones), without ending the test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def refused(exc_info) -> str:
    """The SQLSTATE and message of the database's refusal."""
    cause = exc_info.value.__cause__
    assert cause.sqlstate == "23514", cause
    return str(cause)


def account(unit, code: str) -> int:
    return Account.objects.get_or_create(unit=unit, code=code)[0].pk


def new_transaction(unit, memo="by hand") -> int:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO finance_transaction (unit_id, date, kind, memo, amount, created_at) "
                       "VALUES (%s, %s, 'manual', %s, 0, now()) RETURNING id", [unit.pk, DAY, memo])
        return cursor.fetchone()[0]


def insert_lines(txn_id: int, *lines):
    """One INSERT statement of (unit, account code, debit, credit) lines into the transaction ``txn_id``."""
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(lines))
    params = [v for unit, code, debit, credit in lines for v in (txn_id, account(unit, code), unit.pk, DAY, debit, credit)]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO finance_entry (transaction_id, account_id, unit_id, date, debit, credit) VALUES {values}", params)


def to_recheck() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT transaction_id FROM finance_balance_recheck ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]


def test_an_entry_added_to_a_posted_transaction_is_refused_at_commit(p):
    txn = services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=DAY, lines=[("112", 500, 0), ("518", 0, 500)])
    commit_checks()
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        insert_lines(txn.pk, (p.grassroots_a, "112", 5, 0))  # accepted for now: lines may still come
        assert to_recheck() == [txn.pk]
        commit_checks()
    assert f"transaction {txn.pk} does not balance" in refused(exc)


def test_lines_written_by_several_statements_are_checked_at_commit(p):
    g = p.grassroots_a
    balanced, short = new_transaction(g), new_transaction(g)
    with transaction.atomic():
        insert_lines(balanced, (g, "112", 700, 0))
        insert_lines(balanced, (g, "518", 0, 300), (g, "411", 0, 400))
        assert to_recheck() == [balanced]  # unbalanced after the first statement, balanced after the second
        commit_checks()
    assert to_recheck() == []  # rechecked and cleared
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        insert_lines(short, (g, "112", 700, 0))
        insert_lines(short, (g, "518", 0, 699))
        commit_checks()
    assert f"transaction {short} does not balance" in refused(exc)


def test_balanced_in_total_but_not_for_each_unit_is_refused(p):
    txn = new_transaction(p.grassroots_a)
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        insert_lines(txn, (p.grassroots_a, "112", 100, 0), (p.upper_a, "5111", 0, 100))
        commit_checks()
    refused(exc)


def test_removing_the_row_to_recheck_does_not_skip_the_check(p):
    txn = new_transaction(p.grassroots_a)
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        insert_lines(txn, (p.grassroots_a, "112", 100, 0))
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM finance_balance_recheck")
        commit_checks()
    refused(exc)


def test_one_unbalanced_transaction_among_many_in_one_statement(p):
    g, bank, revenue = p.grassroots_a, account(p.grassroots_a, "112"), account(p.grassroots_a, "518")
    ids = [new_transaction(g, memo=f"#{i}") for i in range(300)]
    bad = ids[137]
    with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO finance_entry (transaction_id, account_id, unit_id, date, debit, credit) "
                       "SELECT t, a, %s, %s, d, CASE WHEN a = %s AND t = %s THEN c - 1 ELSE c END "
                       "FROM unnest(%s::bigint[]) t, (VALUES (%s::bigint, 1000, 0), (%s::bigint, 0, 1000)) l(a, d, c)",
                       [g.pk, DAY, revenue, bad, ids, bank, revenue])
        assert to_recheck() == [bad]
        commit_checks()
    assert f"transaction {bad} does not balance" in refused(exc)


def test_entries_copied_in_are_checked_too(p):
    txn, g = new_transaction(p.grassroots_a), p.grassroots_a
    bank, revenue = account(g, "112"), account(g, "518")
    with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cursor:
        with cursor.cursor.copy("COPY finance_entry (transaction_id, account_id, unit_id, date, debit, credit) FROM STDIN") as copy:
            copy.write_row((txn, bank, g.pk, DAY, 250, 0))
            copy.write_row((txn, revenue, g.pk, DAY, 0, 200))
        commit_checks()
    refused(exc)


def test_an_unbalanced_insert_rolled_back_to_a_savepoint_leaves_nothing_to_refuse(p):
    txn = new_transaction(p.grassroots_a)
    with transaction.atomic():
        insert_lines(txn, (p.grassroots_a, "112", 100, 0))
        transaction.set_rollback(True)
    insert_lines(txn, (p.grassroots_a, "112", 100, 0), (p.grassroots_a, "518", 0, 100))
    commit_checks()
    assert Entry.objects.filter(transaction_id=txn).count() == 2


def test_the_services_and_the_bulk_path_leave_nothing_to_check_at_commit(p):
    """Their entries balance when their INSERT ends, so the check is done there: nothing waits for commit."""
    services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=DAY, lines=[("112", 500, 0), ("518", 0, 500)])
    reference = payment_reference_for(kind="employer", payer_id=p.grassroots_a.pk)
    services.receipt_post(actor=p.accountant_a, unit=p.grassroots_a, source="union_fee", payer_reference=reference,
                          amount=1_000_001, paid_on=DAY, external_id="bank:one")
    result = receipts_post_bulk(actor=p.accountant_a, receipts=[
        ReceiptIn(unit_id=p.grassroots_a.pk, source="union_fee", amount=100_000 + i, paid_on=DAY, external_id=f"bank:{i}",
                  payer_reference=reference) for i in range(50)])
    assert result.posted == 50 and not result.refused
    assert to_recheck() == []
    commit_checks()
    assert Transaction.objects.count() == 3 and Entry.objects.count() == 2 + 9 + 9  # the 50 are one summary transaction


@pytest.mark.django_db(transaction=True)
def test_a_real_commit_refuses_an_unbalanced_transaction_and_accepts_one_written_in_two_statements():
    from congdoan.core.testing import build_personas

    p = build_personas()
    g = p.grassroots_a
    with pytest.raises(IntegrityError) as exc:
        with transaction.atomic():
            txn = new_transaction(g)
            insert_lines(txn, (g, "112", 100, 0), (g, "518", 0, 99))
    refused(exc)
    assert not Transaction.objects.exists()  # the whole transaction rolled back
    with transaction.atomic():
        txn = new_transaction(g)
        insert_lines(txn, (g, "112", 100, 0))
        insert_lines(txn, (g, "518", 0, 100))
    assert Entry.objects.filter(transaction_id=txn).count() == 2
    assert to_recheck() == []  # the table is empty outside a database transaction


# -- the references, checked once per INSERT statement (migration 0015) ------------------------------------------
def refused_reference(exc_info) -> str:
    cause = exc_info.value.__cause__
    assert cause.sqlstate == "23503", cause
    return str(cause)


def test_an_entry_naming_a_missing_transaction_or_another_units_account_is_refused_at_once(p):
    txn = new_transaction(p.grassroots_a)
    with pytest.raises(IntegrityError) as missing, transaction.atomic():
        insert_lines(txn + 1000, (p.grassroots_a, "112", 100, 0), (p.grassroots_a, "518", 0, 100))
    assert f"transaction {txn + 1000}" in refused_reference(missing)
    other = account(p.grassroots_b, "518")
    with pytest.raises(IntegrityError) as mismatch, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO finance_entry (transaction_id, account_id, unit_id, date, debit, credit) VALUES "
                       "(%s, %s, %s, %s, 100, 0), (%s, %s, %s, %s, 0, 100)",
                       [txn, account(p.grassroots_a, "112"), p.grassroots_a.pk, DAY, txn, other, p.grassroots_a.pk, DAY])
    assert f"account {other} of unit {p.grassroots_a.pk}" in refused_reference(mismatch)
    insert_lines(txn, (p.grassroots_a, "112", 100, 0), (p.grassroots_a, "518", 0, 100))  # right: accepted
    commit_checks()


def test_a_receipt_naming_a_missing_transaction_is_refused(p):
    with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO finance_receipt (external_id, transaction_id, unit_id, payer_kind, source, amount, paid_on, "
                       "period, part_1, part_2, part_3) VALUES ('bank:x:1', 987654321, %s, 'employer', 'union_fee', 5, %s, %s, 0, 0, 0)",
                       [p.grassroots_a.pk, DAY, DAY.replace(day=1)])
    assert "bank:x:1" in refused_reference(exc)


@pytest.mark.parametrize("column,value", [("member_id", 987654321), ("reversal_of_id", 987654321), ("unit_1_id", 987654321),
                                          ("unit_2_id", 987654321), ("unit_3_id", 987654321)])
def test_a_receipt_naming_a_missing_member_receipt_reversed_or_upper_level_is_refused_at_once(p, column, value):
    """Checked with the receipt's other references, once per statement (finance 0019; the upper levels since 0020),
    not at commit."""
    txn = new_transaction(p.grassroots_a)
    with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO finance_receipt (external_id, transaction_id, unit_id, payer_kind, source, amount, paid_on, "
                       f"period, part_1, part_2, part_3, {column}) VALUES ('bank:y:1', %s, %s, 'member', 'dues', 5, %s, %s, 0, 0, 0, %s)",
                       [txn, p.grassroots_a.pk, DAY, DAY.replace(day=1), value])
    assert "bank:y:1" in refused_reference(exc)
    with connection.cursor() as cursor:  # the member and the upper levels that exist are accepted
        cursor.execute("INSERT INTO finance_receipt (external_id, transaction_id, unit_id, payer_kind, source, amount, paid_on, "
                       "period, part_1, part_2, part_3, member_id, unit_1_id, unit_2_id, unit_3_id) VALUES ('bank:y:2', %s, %s, "
                       "'member', 'dues', 5, %s, %s, 0, 0, 0, %s, %s, %s, %s)",
                       [txn, p.grassroots_a.pk, DAY, DAY.replace(day=1), p.member_a.pk, p.upper_a.pk, p.province_a.pk, p.national.pk])
    with pytest.raises(IntegrityError) as member_gone, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DELETE FROM members_member WHERE id = %s", [p.member_a.pk])
    assert "has receipts" in refused_reference(member_gone)


@pytest.mark.parametrize("bad_at", [None, 1, 700, 1200])
def test_a_large_statements_receipts_are_checked_by_their_distinct_values(p, bad_at):
    """From ``FEW_ROWS`` rows a statement's references are probed by distinct value (finance 0020): one upper level that
    does not exist among 1,200 receipts is found, wherever it is, and named in the message; none: all are written."""
    from congdoan.core.statement_checks import FEW_ROWS

    assert 1200 >= FEW_ROWS
    txn = new_transaction(p.grassroots_a)
    sql = ("INSERT INTO finance_receipt (external_id, transaction_id, unit_id, payer_kind, source, amount, paid_on, period, "
           "part_1, part_2, part_3, member_id, unit_1_id) SELECT 'bank:big:' || g, %s, %s, 'member', 'dues', 5, %s, %s, 0, 0, 0, "
           "%s, CASE WHEN g = %s THEN 987654321 ELSE %s END FROM generate_series(1, 1200) g")
    params = [txn, p.grassroots_a.pk, DAY, DAY.replace(day=1), p.member_a.pk, bad_at or 0, p.upper_a.pk]
    if bad_at is None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        assert Receipt.objects.filter(external_id__startswith="bank:big:").count() == 1200
        return
    with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert f"bank:big:{bad_at} " in refused_reference(exc)


@pytest.mark.parametrize("bad_at", [None, 1, 1200])
def test_a_large_statements_entries_are_checked_by_their_distinct_accounts_and_units(p, bad_at):
    """From ``FEW_ROWS`` rows the (account, unit) pairs are probed once each (finance 0020): an account of another unit
    among 1,200 entries is found and named; none: all are written."""
    txn = new_transaction(p.grassroots_a)
    bank, revenue, other = account(p.grassroots_a, "112"), account(p.grassroots_a, "518"), account(p.grassroots_b, "518")
    sql = ("INSERT INTO finance_entry (transaction_id, account_id, unit_id, date, debit, credit) SELECT %s, "
           "CASE WHEN g = %s THEN %s WHEN g %% 2 = 1 THEN %s ELSE %s END, %s, %s, "
           "CASE WHEN g %% 2 = 1 THEN 100 ELSE 0 END, CASE WHEN g %% 2 = 0 THEN 100 ELSE 0 END FROM generate_series(1, 1200) g")
    params = [txn, bad_at or 0, other, bank, revenue, p.grassroots_a.pk, DAY]
    if bad_at is None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        assert Entry.objects.filter(transaction_id=txn).count() == 1200
        commit_checks()  # balanced
        return
    with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert f"account {other} of unit {p.grassroots_a.pk}" in refused_reference(exc)


def test_accounts_and_units_in_the_books_are_not_deleted(p):
    services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=DAY, lines=[("112", 500, 0), ("518", 0, 500)])
    with pytest.raises(IntegrityError) as account_gone, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM finance_account WHERE unit_id = %s", [p.grassroots_a.pk])
    refused_reference(account_gone)
    with pytest.raises(IntegrityError) as unit_gone, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the unit's other references would refuse only at commit
        cursor.execute("DELETE FROM organizations_unit WHERE id = %s", [p.grassroots_a.pk])
    assert "in the books" in refused_reference(unit_gone)
