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
