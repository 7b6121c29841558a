"""PostgreSQL checks the references of statement lines and allocations once per statement (payments migration
0003) instead of one foreign-key check per row at commit: a wrong reference is refused at once (SQLSTATE 23503),
and what is referred to is not deleted."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction

from congdoan.payments.models import Allocation, BankTransaction, StatementImport

pytestmark = pytest.mark.skipif("connection.vendor != 'postgresql'")

D = datetime.date


def refused(exc_info) -> str:
    cause = exc_info.value.__cause__
    assert cause.sqlstate == "23503", cause
    return str(cause)


def job(account) -> StatementImport:
    return StatementImport.objects.create(bank_account=account, format="table", original_name="s.csv", file_sha256="0" * 64)


def line(account, txn_id="FT1") -> BankTransaction:
    return BankTransaction.objects.create(bank_account=account, statement_import=job(account), bank_txn_id=txn_id,
                                          booked_on=D(2025, 6, 2), amount=1000, status="matched")


def execute(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_line_of_a_missing_bank_account_is_refused(personas, account_a):
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        execute("INSERT INTO payments_banktransaction (bank_account_id, statement_import_id, bank_txn_id, booked_on, amount, "
                "description, payer_name, line_no, status, reason, reason_detail, suggested_kind, matched_by) VALUES "
                "(%s, %s, 'FT9', '2025-06-02', 5, '', '', 1, 'unmatched', '', '', '', '')", [account_a.pk + 999, job(account_a).pk])
    assert "FT9" in refused(exc)
    assert line(account_a).pk  # a right one is accepted


def test_an_allocation_naming_a_missing_unit_or_member_is_refused_on_insert_and_on_update(personas, account_a):
    p = personas
    bank_line = line(account_a)
    allocation = Allocation.objects.create(transaction=bank_line, payer_kind="member", unit=p.grassroots_a, member=p.member_a,
                                           source="dues", period=D(2025, 6, 1), paid_on=D(2025, 6, 2), amount=1000, matched_by="auto")
    for column, value in (("unit_id", 987654321), ("member_id", 987654321), ("transaction_id", 987654321)):
        with pytest.raises(IntegrityError) as exc, transaction.atomic():
            execute(f"UPDATE payments_allocation SET {column} = %s WHERE id = %s", [value, allocation.pk])
        refused(exc)
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        execute("INSERT INTO payments_allocation (transaction_id, part, payer_kind, unit_id, member_id, source, period, paid_on, "
                "amount, matched_by, created_at) VALUES (%s, 2, 'member', %s, 987654321, 'dues', '2025-06-01', '2025-06-02', 5, "
                "'auto', now())", [bank_line.pk, p.grassroots_a.pk])
    assert "987654321" in refused(exc)


def test_one_wrong_reference_among_many_rows_of_one_statement_is_found_and_named(personas, account_a):
    """Each distinct value a statement wrote is probed once (migration 0007): the one member that does not exist,
    among rows naming existing ones, refuses the statement, and the message names the row that holds it."""
    p = personas
    lines = [line(account_a, f"FT{i}") for i in range(6)]
    values, params = [], []
    for index, bank_line in enumerate(lines):
        member = 987654321 if index == 4 else p.member_a.pk
        values.append("(%s, 1, 'member', %s, %s, 'dues', '2025-06-01', '2025-06-02', 5, 'auto', now())")
        params += [bank_line.pk, p.grassroots_a.pk, member]
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        execute("INSERT INTO payments_allocation (transaction_id, part, payer_kind, unit_id, member_id, source, period, paid_on, "
                f"amount, matched_by, created_at) VALUES {', '.join(values)}", params)
    assert f"names unit {p.grassroots_a.pk} or member 987654321" in refused(exc)
    assert not Allocation.objects.filter(transaction__in=lines).exists()
    execute("INSERT INTO payments_allocation (transaction_id, part, payer_kind, unit_id, member_id, source, period, paid_on, "
            f"amount, matched_by, created_at) VALUES {', '.join(values)}",
            [p.member_a.pk if value == 987654321 else value for value in params])
    assert Allocation.objects.filter(transaction__in=lines).count() == 6


def test_what_lines_and_allocations_refer_to_is_not_deleted(personas, account_a):
    p = personas
    bank_line = line(account_a)
    Allocation.objects.create(transaction=bank_line, payer_kind="member", unit=p.grassroots_a, member=p.member_a, source="dues",
                              period=D(2025, 6, 1), paid_on=D(2025, 6, 2), amount=1000, matched_by="auto")
    for table, pk in (("payments_bankaccount", account_a.pk), ("members_member", p.member_a.pk)):
        with pytest.raises(IntegrityError) as exc, transaction.atomic():
            execute("SET CONSTRAINTS ALL IMMEDIATE", [])  # the row's other references would refuse only at commit
            execute(f"DELETE FROM {table} WHERE id = %s", [pk])
        assert "cannot be deleted" in refused(exc)


def test_a_line_naming_a_missing_official_is_refused_at_once_and_officials_who_decided_lines_stay(personas, account_a):
    """payments 0006: the deciding official is checked with the line's other references; deleting him by hand is
    refused, while the application's delete (which clears ``decided_by`` first, SET_NULL) goes through."""
    from congdoan.accounts.models import User
    from congdoan.core.testing import make_user

    bank_line = line(account_a)
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        execute("UPDATE payments_banktransaction SET decided_by_id = 987654321 WHERE id = %s", [bank_line.pk])
    assert "an official" in refused(exc)
    official = make_user("decides_lines", unit=personas.province_a, role="accountant")
    BankTransaction.objects.filter(pk=bank_line.pk).update(decided_by=official)
    with pytest.raises(IntegrityError) as gone, transaction.atomic():
        execute("SET CONSTRAINTS ALL IMMEDIATE", [])
        execute("DELETE FROM accounts_user WHERE id = %s", [official.pk])
    assert "decided statement lines" in refused(gone)
    User.objects.filter(pk=official.pk).delete()  # the ORM: SET_NULL first
    bank_line.refresh_from_db()
    assert bank_line.decided_by_id is None


def test_a_cash_receipt_with_allocations_is_not_deleted(personas, account_a):
    from congdoan.payments.models import CashReceipt

    p = personas
    receipt = CashReceipt.objects.create(unit=p.grassroots_a, year=2025, seq=1, number="PT-PA-G1-2025-000001", payer_name="X",
                                         amount=1000, paid_on=D(2025, 6, 2))
    Allocation.objects.create(cash_receipt=receipt, payer_kind="member", unit=p.grassroots_a, member=p.member_a, source="dues",
                              period=D(2025, 6, 1), paid_on=D(2025, 6, 2), amount=1000, matched_by="manual")
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        execute("SET CONSTRAINTS ALL IMMEDIATE", [])
        execute("DELETE FROM payments_cashreceipt WHERE id = %s", [receipt.pk])
    assert "cash receipt" in refused(exc)
    with pytest.raises(IntegrityError) as missing, transaction.atomic():
        execute("UPDATE payments_allocation SET cash_receipt_id = 987654321 WHERE cash_receipt_id = %s", [receipt.pk])
    refused(missing)


def _lines(account, count: int, prefix: str) -> list[int]:
    """``count`` lines of one new import, written by one statement (their ids drawn in a row, as an import's chunk)."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO payments_banktransaction (bank_account_id, statement_import_id, bank_txn_id, booked_on, amount, "
                       "description, payer_name, line_no, status, reason, reason_detail, suggested_kind, matched_by) "
                       "SELECT %s, %s, %s || g, '2025-06-02', 5, '', '', g, 'matched', '', '', '', '' "
                       "FROM generate_series(1, %s) g ORDER BY g RETURNING id", [account.pk, job(account).pk, prefix, count])
        return sorted(pk for (pk,) in cursor.fetchall())


def _burn_line_ids(count: int) -> list[int]:
    """Ids of lines drawn and never written (a gap in the run, as an import that rolled back leaves)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('payments_banktransaction', 'id')) FROM generate_series(1, %s)",
                       [count])
        return [pk for (pk,) in cursor.fetchall()]


def _allocate(line_ids: list[int], unit_id: int, part: int = 1) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO payments_allocation (transaction_id, part, payer_kind, unit_id, member_id, source, period, "
                       "paid_on, amount, matched_by, created_at) SELECT t, %s, 'employer', %s, NULL, 'union_fee', '2025-06-01', "
                       "'2025-06-02', 5, 'auto', now() FROM unnest(%s::bigint[]) t", [part, unit_id, line_ids])


def test_a_large_statement_of_allocations_naming_a_line_drawn_but_never_written_is_refused(personas, account_a):
    """payments 0008: a large statement's lines are counted over the run of ids they span before being looked up
    one by one. A line id inside the run that was drawn but never written (a gap), or one past its end, is
    found and refuses the statement; the lines that all exist are accepted, in one run or in two far apart."""
    from congdoan.core.statement_checks import FEW_ROWS

    unit = personas.grassroots_a.pk
    first = _lines(account_a, 600, "R")
    gap = _burn_line_ids(3)
    second = _lines(account_a, 600, "S")
    assert len(first) + len(second) >= FEW_ROWS and first[-1] < gap[0] < gap[-1] < second[0]
    for wrong in (gap[1], second[-1] + 50):  # inside the run, past its end
        with pytest.raises(IntegrityError) as exc, transaction.atomic():
            _allocate(first + [wrong] + second, unit)
        assert "allocation" in refused(exc)
    assert not Allocation.objects.filter(transaction_id__in=first + second).exists()
    _allocate(first + second, unit)  # a run with a gap no allocation names: looked up one by one, all found
    far = _burn_line_ids(2 * FEW_ROWS)
    third = _lines(account_a, 600, "T")
    assert third[0] - first[0] > 2 * (len(first) + len(third))  # wider than twice the rows: looked up one by one
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM payments_allocation WHERE transaction_id = ANY(%s)", [first])
    _allocate(first + third, unit)
    assert Allocation.objects.filter(transaction_id__in=first + second + third).count() == 1800
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        _allocate(first[:500] + [far[7]] + third[:500], unit, part=2)  # a wide range with a line never written
    refused(exc)


def test_a_large_statement_of_allocations_over_one_run_of_lines_is_accepted_and_one_past_it_refused(personas, account_a):
    """The common case, a chunk's allocations paying its own lines, numbered in a row: counted once over the run."""
    run = _lines(account_a, 1200, "W")
    assert run == list(range(run[0], run[0] + 1200))
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        _allocate(run[1:] + [run[-1] + 1], personas.grassroots_a.pk)  # one line more than written
    refused(exc)
    _allocate(run, personas.grassroots_a.pk)
    assert Allocation.objects.filter(transaction_id__in=run).count() == 1200


@pytest.mark.django_db
def test_the_range_first_probe_only_where_asked_and_the_landed_checks_unchanged():
    """``dense`` adds the count over the run for the columns named; without it the SQL is the one migrations 0007
    and finance 0020 installed (a landed migration's SQL never changes)."""
    from importlib import import_module

    from congdoan.core.statement_checks import missing_probe

    references = [("unit_id", "organizations_unit", "r.id = v.unit_id"),
                  ("transaction_id", "payments_banktransaction", "r.id = v.transaction_id")]
    plain = missing_probe("rows", references)
    ranged = missing_probe("rows", references, dense=("transaction_id",))
    assert "min(transaction_id)" not in plain and "min(transaction_id)" in ranged
    assert "min(unit_id)" not in ranged
    assert "SELECT count(*) FROM payments_banktransaction r WHERE r.id >= s.lo AND r.id <= s.hi" in ranged
    landed = import_module("congdoan.payments.migrations.0007_reference_checks_by_distinct_values")
    assert "min(" not in landed.ALLOCATION_CHECK and "min(" not in landed.LINE_CHECK
    now = import_module("congdoan.payments.migrations.0008_allocation_lines_checked_by_range")
    assert now.ALLOCATION_CHECK.count("min(transaction_id)") == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'payments_allocation_references'")
        (installed,) = cursor.fetchone()
    assert "min(transaction_id)" in installed
