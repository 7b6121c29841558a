"""The reconciliation queue by hand, and cash receipts."""

import datetime
import threading

import pytest
from django.db import connection

from congdoan.audit.models import AuditEntry
from congdoan.core.errors import NotFoundInScope
from congdoan.organizations.models import Unit
from congdoan.payments import services
from congdoan.payments.choices import LineStatus, MatchedBy, PayerKind, QueueReason
from congdoan.payments.models import Allocation, BankTransaction, CashReceipt, ReceiptSequence, StatementImport
from congdoan.payments.pdf import amount_in_vietnamese, cash_receipt_pdf

pytestmark = pytest.mark.django_db


def queued_line(account, *, txn="Q1", amount=1_500_000, note="CHUYEN TIEN", day=datetime.date(2025, 6, 2),
                reason=QueueReason.NO_REFERENCE) -> BankTransaction:
    job = StatementImport.objects.create(bank_account=account, format="table", original_name="s.csv", file_sha256="x",
                                         status="done")
    return BankTransaction.objects.create(bank_account=account, statement_import=job, bank_txn_id=txn, booked_on=day,
                                          amount=amount, description=note, status=LineStatus.UNMATCHED, reason=reason)


def employer(p):
    return services.payer_find(actor=p.province_a_chair, key="2600123456")


def test_find_a_payer_by_tax_code_or_member_code_within_scope(personas, fake_ledger):
    p = personas
    payer = services.payer_find(actor=p.accountant_a, key="2600 123 456")
    assert (payer.kind, payer.id) == (PayerKind.EMPLOYER, p.grassroots_a.pk)
    p.member_a.refresh_from_db()
    payer = services.payer_find(actor=p.accountant_a, key=p.member_a.code.lower())
    assert (payer.kind, payer.id, payer.unit_id) == (PayerKind.MEMBER, p.member_a.pk, p.grassroots_a.pk)
    p.member_b.refresh_from_db()
    for key in (p.member_b.code, "nothing"):
        with pytest.raises(services.PaymentError) as info:
            services.payer_find(actor=p.accountant_a, key=key)  # B's member is outside A's scope: not found
        assert info.value.code == "payer_not_found"


def test_match_by_hand_posts_the_receipt(personas, account_a, fake_ledger):
    p = personas
    line = queued_line(account_a)
    (allocation,) = services.line_allocate(actor=p.province_a_chair, line=line, payer=employer(p),
                                           parts=[(datetime.date(2025, 5, 1), 1_500_000)])
    line.refresh_from_db()
    assert (line.status, line.reason, line.matched_by, line.decided_by) == (LineStatus.MATCHED, "", MatchedBy.HAND, p.province_a_chair)
    assert (allocation.unit_id, allocation.period, allocation.amount, allocation.paid_on) == (
        p.grassroots_a.pk, datetime.date(2025, 5, 1), 1_500_000, datetime.date(2025, 6, 2))
    assert allocation.posted_at is not None and fake_ledger.posted[allocation.external_id]["amount"] == 1_500_000
    assert AuditEntry.objects.filter(action="payments.line_matched", object_id=str(line.pk)).exists()
    with pytest.raises(services.PaymentError) as info:
        services.line_allocate(actor=p.province_a_chair, line=line, payer=employer(p), parts=[(datetime.date(2025, 5, 1), 1_500_000)])
    assert info.value.code == "not_queued"


def test_split_one_payment_over_several_months(personas, account_a, fake_ledger):
    p = personas
    line = queued_line(account_a, amount=4_500_000)
    parts = [(datetime.date(2025, 3, 1), 1_500_000), (datetime.date(2025, 4, 1), 1_500_000), (datetime.date(2025, 5, 1), 1_500_000)]
    allocations = services.line_allocate(actor=p.province_a_chair, line=line, payer=employer(p),
                                         parts=list(reversed(parts)))
    assert [(a.period, a.amount) for a in allocations] == parts
    assert sum(v["amount"] for v in fake_ledger.posted.values()) == 4_500_000
    assert sorted(fake_ledger.posted) == [f"bank:{line.pk}:{i}" for i in (1, 2, 3)]


@pytest.mark.parametrize("parts,code", [
    ([(datetime.date(2025, 4, 1), 1_000_000), (datetime.date(2025, 5, 1), 400_000)], "split_total"),
    ([(datetime.date(2025, 5, 1), 750_000), (datetime.date(2025, 5, 1), 750_000)], "duplicate_month"),
    ([(datetime.date(2027, 5, 1), 1_500_000)], "month_too_far"),
    ([(datetime.date(2025, 5, 1), 0), (datetime.date(2025, 6, 1), 1_500_000)], "amount_zero"),
    ([], "required"),
])
def test_a_bad_split_is_refused_and_nothing_is_written(personas, account_a, fake_ledger, parts, code):
    line = queued_line(account_a)
    with pytest.raises(services.PaymentError) as info:
        services.line_allocate(actor=personas.province_a_chair, line=line, payer=employer(personas), parts=parts)
    assert info.value.code == code
    line.refresh_from_db()
    assert line.status == LineStatus.UNMATCHED and not Allocation.objects.exists() and not fake_ledger.posted


def test_match_into_a_closed_month_asks_for_an_open_posting_date(personas, account_a, fake_ledger):
    p = personas
    fake_ledger.closed.add((p.grassroots_a.pk, datetime.date(2025, 6, 1)))
    line = queued_line(account_a, reason=QueueReason.CLOSED_MONTH)
    with pytest.raises(services.PaymentError) as info:
        services.line_allocate(actor=p.province_a_chair, line=line, payer=employer(p), parts=[(datetime.date(2025, 5, 1), 1_500_000)])
    assert info.value.code == "month_closed" and info.value.field == "paid_on"
    assert not Allocation.objects.exists()
    (allocation,) = services.line_allocate(actor=p.province_a_chair, line=line, payer=employer(p),
                                           parts=[(datetime.date(2025, 5, 1), 1_500_000)], paid_on=datetime.date(2025, 7, 1))
    assert allocation.paid_on == datetime.date(2025, 7, 1) and allocation.posted_at is not None


def test_match_to_a_dissolved_unit_is_refused(personas, account_a, fake_ledger):
    p = personas
    payer = employer(p)
    Unit.objects.filter(pk=p.grassroots_a.pk).update(status="dissolved")
    line = queued_line(account_a)
    with pytest.raises(services.PaymentError) as info:
        services.line_allocate(actor=p.province_a_chair, line=line, payer=payer, parts=[(datetime.date(2025, 5, 1), 1_500_000)])
    assert info.value.code == "unit_dissolved"
    assert not Allocation.objects.exists()


def test_if_the_ledger_refuses_nothing_of_the_match_stays(personas, account_a, fake_ledger):
    line = queued_line(account_a, amount=3_000_000)
    fake_ledger.refuse[f"bank:{line.pk}:2"] = ("ledger_error", "Không ghi được")
    with pytest.raises(services.DomainError):
        services.line_allocate(actor=personas.province_a_chair, line=line, payer=employer(personas),
                               parts=[(datetime.date(2025, 4, 1), 1_500_000), (datetime.date(2025, 5, 1), 1_500_000)])
    line.refresh_from_db()
    assert line.status == LineStatus.UNMATCHED and not Allocation.objects.exists()


def test_mark_for_return(personas, account_a, fake_ledger):
    line = queued_line(account_a)
    with pytest.raises(services.PaymentError) as info:
        services.line_mark_return(actor=personas.province_a_chair, line=line, reason="  ")
    assert info.value.code == "reason_required"
    services.line_mark_return(actor=personas.province_a_chair, line=line, reason="Chuyển nhầm tài khoản")
    line.refresh_from_db()
    assert (line.status, line.reason_detail) == (LineStatus.TO_RETURN, "Chuyển nhầm tài khoản")
    assert not BankTransaction.objects.queue().exists()


def test_others_cannot_touch_a_line_of_province_a(personas, account_a, fake_ledger):
    line = queued_line(account_a)
    for who in ("province_b_chair", "outsider", "member_user", "accountant_a"):  # accountant_a holds only a grassroots unit
        with pytest.raises(NotFoundInScope):
            services.line_mark_return(actor=personas.users[who], line=line, reason="x")
        with pytest.raises(NotFoundInScope):
            services.line_allocate(actor=personas.users[who], line=line, payer=employer(personas),
                                   parts=[(datetime.date(2025, 5, 1), 1_500_000)])
    line.refresh_from_db()
    assert line.status == LineStatus.UNMATCHED


def test_cash_receipts_are_numbered_per_unit_and_year_without_gaps(personas, fake_ledger):
    p = personas
    p.member_a.refresh_from_db()
    dues = services.payer_find(actor=p.accountant_a, key=p.member_a.code)

    def cash(day, amount=60_000, unit=None):
        return services.cash_receipt_create(actor=p.accountant_a, unit=unit or p.grassroots_a, payer=dues, payer_name="Nguyễn Văn An",
                                            paid_on=day, parts=[(day.replace(day=1), amount)])

    numbers = [cash(datetime.date(2025, 5, 3)).number, cash(datetime.date(2025, 6, 3)).number]
    with pytest.raises(services.PaymentError):
        cash(datetime.date(2025, 6, 4), amount=0)  # refused: the number is not used
    numbers.append(cash(datetime.date(2025, 7, 3)).number)
    numbers.append(cash(datetime.date(2024, 12, 30)).number)
    assert numbers == ["PT-PA-G1-2025-000001", "PT-PA-G1-2025-000002", "PT-PA-G1-2025-000003", "PT-PA-G1-2024-000001"]
    assert ReceiptSequence.objects.get(unit=p.grassroots_a, year=2025).last == 3
    receipt = CashReceipt.objects.get(number="PT-PA-G1-2025-000002")
    (allocation,) = receipt.allocations.all()
    assert (allocation.member_id, allocation.source, allocation.matched_by, allocation.external_id) == (
        p.member_a.pk, "dues", MatchedBy.CASH, f"cash:{receipt.pk}:1")
    assert allocation.external_id in fake_ledger.posted


def test_cash_receipt_bad_input(personas, fake_ledger):
    p = personas
    fee = services.payer_find(actor=p.accountant_a, key="2600123456")
    base = dict(actor=p.accountant_a, unit=p.grassroots_a, payer=fee, payer_name="Kế toán Công ty May", paid_on=datetime.date(2025, 6, 3),
                parts=[(datetime.date(2025, 5, 1), 1_500_000)])
    for changes, code in (({"payer_name": " "}, "required"), ({"paid_on": datetime.date(2999, 1, 1)}, "future_date"),
                          ({"parts": [(datetime.date(2025, 5, 1), -5)]}, "amount_zero"), ({"unit": p.grassroots_a2}, "payer_outside_unit")):
        with pytest.raises((services.PaymentError, NotFoundInScope)) as info:
            services.cash_receipt_create(**{**base, **changes})
        assert info.value.code in (code, "not_found")
    fake_ledger.closed.add((p.grassroots_a.pk, datetime.date(2025, 6, 1)))
    with pytest.raises(services.PaymentError) as info:
        services.cash_receipt_create(**base)
    assert info.value.code == "month_closed"
    assert not CashReceipt.objects.exists() and not ReceiptSequence.objects.filter(last__gt=0).exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_concurrent_cash_receipts_get_distinct_numbers(fake_ledger):
    from congdoan.core.testing import build_personas

    p = build_personas()
    fee = services.payer_find(actor=p.accountant_a, key="2600123456")
    errors = []

    def one():
        try:
            services.cash_receipt_create(actor=p.accountant_a, unit=p.grassroots_a, payer=fee, payer_name="X",
                                         paid_on=datetime.date(2025, 6, 3), parts=[(datetime.date(2025, 6, 1), 1000)])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(CashReceipt.objects.values_list("seq", flat=True)) == [1, 2, 3, 4, 5, 6]


def test_receipt_pdf_in_vietnamese(personas, fake_ledger, tmp_path):
    p = personas
    fee = services.payer_find(actor=p.accountant_a, key="2600123456")
    receipt = services.cash_receipt_create(actor=p.accountant_a, unit=p.grassroots_a, payer=fee, payer_name="Đặng Thị Ngọc Hường",
                                           paid_on=datetime.date(2025, 6, 3), parts=[(datetime.date(2025, 5, 1), 1_234_567)],
                                           note="Nộp tiền mặt tại văn phòng")
    from django.utils import translation

    with translation.override("vi"):
        content = cash_receipt_pdf(receipt, list(receipt.allocations.all()))
    assert content.startswith(b"%PDF-") and len(content) > 5000
    assert b"DejaVu" in content  # the embedded font, so Vietnamese letters print everywhere


@pytest.mark.parametrize("amount,words", [
    (1_234_567, "Một triệu hai trăm ba mươi tư nghìn năm trăm sáu mươi bảy đồng"),
    (1_005_000, "Một triệu không trăm linh năm nghìn đồng"),
    (15_000, "Mười lăm nghìn đồng"),
    (2_000_000_000, "Hai tỷ đồng"),
    (21_000, "Hai mươi mốt nghìn đồng"),
])
def test_amount_in_words(amount, words):
    assert amount_in_vietnamese(amount) == words
