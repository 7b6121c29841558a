"""Posting a statement's receipts with the real ledger: in bulk, inside the import's one transaction, with the
same ledger rows as one ``post_receipt`` per allocation, and the same lines sent back to the queue."""

import datetime
import random

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from congdoan.audit.models import AuditEntry
from congdoan.finance import services as finance
from congdoan.finance.models import Entry, Receipt, Transaction
from congdoan.finance.references import payment_reference_for
from congdoan.organizations.models import Unit
from congdoan.organizations.services import unit_create
from congdoan.payments import ledger, services
from congdoan.payments.choices import ImportStatus, LineStatus, QueueReason
from congdoan.payments.models import Allocation, BankTransaction
from congdoan.payments.tests.conftest import upload, vcb_csv, vcb_row

pytestmark = pytest.mark.django_db
D = datetime.date


def run(actor, account, rows):
    job = services.statement_import_create(actor=actor, account=account, upload=upload(vcb_csv(rows), "sao-ke.csv"), fmt="table")
    return services.statement_import_run(job_pk=job.pk)


@pytest.fixture
def payers(personas):
    """Employers with tax codes in both provinces, one directly under its province, and members."""
    p = personas
    Unit.objects.filter(pk=p.grassroots_a2.pk).update(employer_tax_code="2600999001")
    Unit.objects.filter(pk=p.grassroots_b.pk).update(employer_tax_code="0100777002")
    p.direct = unit_create(actor=None, parent=p.province_a, level="grassroots", code="PA-G9", name="CĐCS Tổng công ty",
                           employer_type="state_enterprise", employer_tax_code="2600555003")
    for member in (p.member_a, p.member_a2, p.member_b):
        member.refresh_from_db()
    return p


def notes(p):
    return ["CONG TY NOP KPCD T5/2025 MST 2600123456", "KPCD MST 2600999001", "NOP KPCD QUY 2 MST 2600555003",
            f"DOAN PHI THANG 6 {p.member_a.code}", f"DOAN PHI {p.member_a2.code}",
            f"TT {payment_reference_for(kind='employer', payer_id=p.grassroots_a.pk)}", "CHUYEN TIEN UNG HO"]


def statement(p, rng, n):
    days = ["02/06/2025", "15/06/2025", "01/07/2025", "20/08/2025"]
    return [vcb_row(txn=f"FT{i:04d}", date=rng.choice(days), credit=f"{rng.choice([1, 3, 7, rng.randrange(1, 10**9)]):,}",
                    note=rng.choice(notes(p))) for i in range(n)]


def one_by_one(*, actor, allocations):
    """What payments did before the bulk form: one post_receipt per allocation, each in its own savepoint."""
    from congdoan.core.errors import DomainError

    result = {"posted": 0, "existing": 0, "refused": {}}
    for allocation in allocations.order_by("pk").select_related("unit"):
        try:
            with transaction.atomic():
                ledger.post_receipt(actor=actor, allocation=allocation)
        except DomainError as exc:
            result["refused"][allocation.pk] = exc
        else:
            result["posted"] += 1
    return result


def snapshot() -> dict:
    """Lines, allocations and the ledger, with line ids replaced by the bank's ids (they differ between runs)."""
    if connection.vendor == "postgresql":  # the deferred guards: balance per unit, foreign keys
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    bank_id = dict(BankTransaction.objects.values_list("pk", "bank_txn_id"))

    def ext(external_id):
        kind, line, part = external_id.split(":")
        return f"{kind}:{bank_id[int(line)]}:{part}"

    for txn_id, unit_id, debit, credit in (Entry.objects.values("transaction_id", "unit_id").order_by()
                                           .annotate(d=Sum("debit"), c=Sum("credit")).values_list("transaction_id", "unit_id", "d", "c")):
        assert debit == credit, f"transaction {txn_id} unbalanced in the books of unit {unit_id}"
    return {  # the books per account and day (one-by-one posting gives a transaction per receipt, bulk one per union and day)
        "lines": sorted(BankTransaction.objects.values_list("bank_txn_id", "status", "reason", "reason_detail", "suggested_kind",
                                                            "suggested_id", "matched_by")),
        "allocations": sorted((bank_id[t], *rest, posted is None) for t, *rest, posted in Allocation.objects.values_list(
            "transaction_id", "unit_id", "member_id", "source", "period", "amount", "posted_at")),
        "days": sorted(Entry.objects.values("unit_id", "account__code", "date").order_by()
                       .annotate(d=Sum("debit"), c=Sum("credit")).values_list("unit_id", "account__code", "date", "d", "c")),
        "receipts": sorted((ext(e), *rest) for e, *rest in Receipt.objects.values_list(
            "external_id", "unit_id", "payer_kind", "member_id", "source", "amount", "paid_on", "period", "part_0", "unit_1_id",
            "part_1", "unit_2_id", "part_2", "unit_3_id", "part_3")),
        "requeued": AuditEntry.objects.filter(action="payments.line_requeued").count(),
    }


def imported(p, account, rows, monkeypatch, *, bulk: bool):
    with transaction.atomic():
        if not bulk:
            monkeypatch.setattr(ledger, "post_allocations", one_by_one)
        job = run(p.province_a_chair, account, rows)
        monkeypatch.undo()
        state = snapshot()
        transaction.set_rollback(True)
    return (job.status, job.matched_count, job.posted_count), state


@pytest.mark.parametrize("seed", range(4))
def test_an_import_posts_in_bulk_what_it_posted_one_by_one(payers, account_a, monkeypatch, seed):
    p = payers
    finance.period_close(actor=p.national_chair, unit=p.province_a, month=D(2025, 6, 1))  # the province's June is closed
    finance.unit_dues_rate_set(actor=p.national_chair, unit=p.grassroots_a, rate_bp=100, valid_from=D(2025, 8, 1),
                               decision="Nghị quyết 2025")
    rows = statement(p, random.Random(seed), 40)
    before = imported(p, account_a, rows, monkeypatch, bulk=False)
    after = imported(p, account_a, rows, monkeypatch, bulk=True)
    assert after == before
    (status, matched, posted), state = after
    assert status == ImportStatus.DONE and posted == len(state["receipts"]) and posted < matched
    assert state["requeued"] == matched - posted  # June's lines whose province share meets the closed month


def test_a_closed_month_of_an_upper_level_sends_the_line_back_with_the_ledgers_words(payers, account_a):
    p = payers
    finance.period_close(actor=p.national_chair, unit=p.province_a, month=D(2025, 6, 1))
    job = run(p.province_a_chair, account_a, [vcb_row(txn="T1"), vcb_row(txn="T2", date="01/07/2025"),
                                                vcb_row(txn="T3", credit="1", note="KPCD MST 2600123456")])
    assert (job.status, job.matched_count, job.posted_count) == (ImportStatus.DONE, 3, 2)
    line = BankTransaction.objects.get(bank_txn_id="T1")
    assert (line.status, line.reason, line.suggested_id) == (LineStatus.UNMATCHED, QueueReason.CLOSED_MONTH, p.grassroots_a.pk)
    assert "06/2025" in line.reason_detail and "(PA)" in line.reason_detail
    assert not line.allocations.exists()
    # 1 đồng gives the province nothing: posted in June like receipt_post posts it
    assert Receipt.objects.filter(amount=1).exists() and Allocation.objects.filter(posted_at__isnull=True).count() == 0
    assert AuditEntry.objects.get(action="payments.statement_imported").changes["sent_back"] == 1


def test_a_payer_outside_the_importers_units_goes_back_to_the_queue(payers, account_a):
    p = payers
    job = run(p.province_a_chair, account_a, [vcb_row(txn="T1"), vcb_row(txn="T2", note="KPCD MST 0100777002")])
    assert (job.status, job.posted_count) == (ImportStatus.DONE, 1)
    line = BankTransaction.objects.get(bank_txn_id="T2")
    assert (line.status, line.reason, line.suggested_id) == (LineStatus.UNMATCHED, QueueReason.POSTING_FAILED, p.grassroots_b.pk)
    assert "PB-G1" in line.reason_detail
    assert not Receipt.objects.filter(unit=p.grassroots_b).exists()


def test_if_posting_fails_nothing_of_the_statement_is_written(payers, account_a, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the ledger broke")

    monkeypatch.setattr(ledger, "post_allocations", broken)
    job = run(payers.province_a_chair, account_a, [vcb_row(txn="T1"), vcb_row(txn="T2", note="CHUYEN TIEN")])
    assert job.status == ImportStatus.FAILED and job.errors[0]["code"] == "internal"
    assert not BankTransaction.objects.exists() and not Allocation.objects.exists() and not Transaction.objects.exists()


def test_the_same_statement_twice_posts_once_and_pending_post_finds_nothing(payers, account_a):
    p = payers
    rows = statement(p, random.Random(9), 25)
    first = run(p.province_a_chair, account_a, rows)
    counts = (Transaction.objects.count(), Entry.objects.count(), Receipt.objects.count())
    assert first.posted_count == counts[2] > 0
    again = run(p.province_a_chair, account_a, rows)
    assert (again.known_count, again.new_count, again.posted_count) == (25, 0, 0)
    assert (Transaction.objects.count(), Entry.objects.count(), Receipt.objects.count()) == counts
    assert services.pending_post() == {"posted": 0, "refused": 0, "unavailable": False}


def test_pending_post_posts_in_bulk_and_twice_posts_once(payers, account_a, monkeypatch):
    p = payers
    monkeypatch.setattr(ledger, "post_allocations", lambda **kw: (_ for _ in ()).throw(ledger.LedgerUnavailable()))
    job = run(p.province_a_chair, account_a, [vcb_row(txn="T1"), vcb_row(txn="T2", note=f"DOAN PHI {p.member_a.code}")])
    assert job.posted_count == 0 and Allocation.objects.filter(posted_at__isnull=True).count() == 2
    monkeypatch.undo()
    assert services.pending_post() == {"posted": 2, "refused": 0, "unavailable": False}
    assert Receipt.objects.count() == 2 and Allocation.objects.filter(posted_at__isnull=True).count() == 0
    # an allocation posted already but not marked (a worker stopped between the two): found posted, marked, not posted again
    Allocation.objects.update(posted_at=None)
    assert services.pending_post()["posted"] == 2 and Receipt.objects.count() == 2
