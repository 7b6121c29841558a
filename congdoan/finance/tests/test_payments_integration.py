"""Payments with the real ledger: a statement imported through payments is posted, split and idempotent;
references issued here are matched there; both arrears pages agree."""

import datetime

import pytest

from congdoan.core.errors import NotFoundInScope
from congdoan.finance import selectors, services
from congdoan.organizations.models import Unit
from congdoan.finance.models import Entry, Receipt, Transaction
from congdoan.finance.references import payment_reference_for
from congdoan.payments import ledger
from congdoan.payments import selectors as payment_selectors
from congdoan.payments import services as payment_services
from congdoan.payments.choices import ImportStatus, LineStatus, QueueReason
from congdoan.payments.models import Allocation, BankAccount, BankLayout, BankTransaction
from congdoan.payments.tests.conftest import upload, vcb_csv, vcb_row

D = datetime.date


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def account(p):
    return BankAccount.objects.create(unit=p.province_a, bank_name="Vietcombank", account_number="0011004123456",
                                      layout=BankLayout.objects.get(bank_code="VCB"))


def run(actor, account, rows):
    job = payment_services.statement_import_create(actor=actor, account=account, upload=upload(vcb_csv(rows), "sao-ke.csv"), fmt="table")
    return payment_services.statement_import_run(job_pk=job.pk)


def test_payments_finds_the_real_ledger(db):
    assert ledger.available()
    assert ledger.reference_for("employer", 42) == payment_reference_for(kind="employer", payer_id=42)


def test_a_statement_is_posted_to_the_ledger_and_split(p, account):
    p.member_a.refresh_from_db()
    reference_a2 = payment_reference_for(kind="employer", payer_id=p.grassroots_a2.pk)
    rows = [vcb_row(txn="T1", credit="1.500.000", note="CONG TY MAY SONG HONG NOP KPCD T5/2025 MST 2600123456"),
            vcb_row(txn="T2", credit="120.000", note=f"Doan phi thang 6 {p.member_a.code}"),
            vcb_row(txn="T3", credit="500.000", note=f"MBVCB.123.456. {reference_a2[:2]} {reference_a2[2:]} T05/2025")]
    job = run(p.province_a_chair, account, rows)
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.matched_count, job.queued_count, job.posted_count) == (3, 0, 3)
    assert Allocation.objects.filter(posted_at__isnull=True).count() == 0
    receipts = {r.external_id: r for r in Receipt.objects.all()}
    assert {r.amount for r in receipts.values()} == {1_500_000, 120_000, 500_000}
    fee = Receipt.objects.get(amount=1_500_000)
    assert (fee.unit_id, fee.source, fee.payer_kind) == (p.grassroots_a.pk, "union_fee", "employer")
    codes = dict(Unit.objects.values_list("pk", "code"))
    assert {codes[unit_id]: part for unit_id, part in fee.parts()} == {"PA-G1": 1_125_000, "PA-U": 150_000, "PA": 150_000, "TLD": 75_000}
    # one summary transaction for the province's union fees of the day: its revenue lines are the sums of the receipts' parts
    summary = fee.transaction
    assert summary.kind == "receipts" and summary.receipts.count() == 2
    revenue = {e.unit.code: e.credit for e in Entry.objects.filter(transaction=summary, account__code="5111").select_related("unit")}
    assert revenue == {"PA-G1": 1_125_000, "PA-G2": 375_000, "PA-U": 200_000, "PA": 200_000, "TLD": 100_000}
    dues = Receipt.objects.get(amount=120_000)
    assert (dues.source, dues.member_id, dues.payer_kind) == ("dues", p.member_a.pk, "member")
    assert Receipt.objects.get(amount=500_000).unit_id == p.grassroots_a2.pk
    for txn in Transaction.objects.all():
        entries = list(txn.entries.all())
        assert sum(e.debit for e in entries) == sum(e.credit for e in entries)

    # the same statement again: nothing new in the ledger either
    again = run(p.province_a_chair, account, rows)
    assert again.known_count == 3 and Receipt.objects.count() == 3 and Transaction.objects.count() == 2
    # posting an allocation twice posts once (idempotent by external_id)
    allocation = Allocation.objects.get(transaction__bank_txn_id="T1")
    ledger.post_receipt(actor=p.province_a_chair, allocation=allocation)
    assert Receipt.objects.count() == 3


def test_a_closed_month_sends_the_line_to_the_queue(p, account):
    services.period_close(actor=p.province_a_chair, unit=p.grassroots_a, month=D(2025, 6, 1))
    job = run(p.province_a_chair, account, [vcb_row(txn="T1", note="KPCD T5/2025 MST 2600123456")])
    line = BankTransaction.objects.get(bank_txn_id="T1")
    assert (job.matched_count, line.status, line.reason) == (0, LineStatus.UNMATCHED, QueueReason.CLOSED_MONTH)
    assert not Receipt.objects.exists()
    # the accountant matches it by hand, posted in an open month
    payer = payment_services.payer_find(actor=p.province_a_chair, key=payment_reference_for(kind="employer", payer_id=p.grassroots_a.pk))
    payment_services.line_allocate(actor=p.province_a_chair, line=line, payer=payer, parts=[(D(2025, 5, 1), 1_500_000)],
                                   paid_on=D(2025, 7, 1))
    assert Receipt.objects.get().paid_on == D(2025, 7, 1)


def test_a_cash_receipt_is_posted_to_cash(p):
    payer = payment_services.payer_find(actor=p.accountant_a, key=payment_reference_for(kind="member", payer_id=p.member_a.pk))
    payment_services.cash_receipt_create(actor=p.accountant_a, unit=p.grassroots_a, payer=payer, payer_name="Nguyễn Văn An",
                                         paid_on=D(2025, 8, 4), parts=[(D(2025, 8, 1), 30_000)])
    receipt = Receipt.objects.get()
    assert receipt.source == "dues" and Entry.objects.get(transaction=receipt.transaction, account__code="111").debit == 30_000


def test_arrears_here_agree_with_the_payments_page(p, account, declare):
    for month in (3, 4, 5):
        declare(month=D(2025, month, 1), fund=100_000_000)  # 2,000,000 a month
    declare(unit=p.grassroots_a2, month=D(2025, 5, 1), fund=10_000_000)
    run(p.province_a_chair, account, [vcb_row(txn="T1", credit="2.500.000", date="02/06/2025", note="KPCD MST 2600123456")])
    as_of = D(2025, 7, 1)
    mine = selectors.arrears_report(user=p.province_a_chair, root=p.province_a, as_of=as_of)
    theirs = payment_selectors.arrears_overview(user=p.province_a_chair, root=p.province_a, as_of=as_of)
    assert mine["totals"]["arrears"] == theirs["totals"]["arrears"] == 6_000_000 + 200_000 - 2_500_000
    assert {r["pk"]: r["f"].buckets for r in mine["rows"]} == {r["pk"]: r["f"].buckets for r in theirs["rows"]}
    months = selectors.employer_months(user=p.province_a_chair, employer=p.grassroots_a, as_of=as_of)
    assert [(m["month"].month, m["owed"], m["paid"]) for m in months] == [(3, 2_000_000, 0), (4, 2_000_000, 0), (5, 2_000_000, 0),
                                                                          (6, 0, 2_500_000), (7, 0, 0)]
    with pytest.raises(NotFoundInScope):
        selectors.arrears_report(user=p.province_b_chair, root=p.province_a, as_of=as_of)


def test_the_arrears_query_agrees_with_the_plain_arithmetic(p, declare):
    """Random declarations, exemptions by employer type and receipts: the database's figures are payments' figures."""
    import random

    from congdoan.finance.tests.conftest import set_employer_type
    from congdoan.organizations.services import unit_create

    rng = random.Random(7)
    employers = [p.grassroots_a, p.grassroots_a2]
    for i in range(6):
        employers.append(unit_create(actor=None, parent=p.upper_a, level="grassroots", code=f"PA-R{i}", name=f"CĐCS {i}",
                                     employer_type=rng.choice(["fdi", "state_agency", "cooperative"])))
    set_employer_type(p.grassroots_a2, "state_agency")
    n = 0
    for unit in employers:
        for month in range(1, 13):
            if rng.random() < 0.8:
                declare(unit=unit, month=D(2025, month, 1), fund=rng.randrange(1_000_000, 90_000_000))
            if rng.random() < 0.6:
                n += 1
                services.receipt_post(actor=p.province_a_chair, unit=unit, source="union_fee", payer_reference="",
                                      amount=rng.randrange(1, 2_000_000), paid_on=D(2025, month, 28), external_id=f"r:{n}",
                                      period=D(2025, rng.randint(1, 12), 1))
    ids = [u.pk for u in employers]
    for as_of in (D(2025, 1, 1), D(2025, 6, 1), D(2025, 12, 1), D(2026, 3, 1)):
        expected = selectors._arrears_in_python(ids, as_of)
        found = selectors._arrears_in_sql(p.province_a.path, as_of, set())
        for pk in ids:
            a, b = expected[pk], found.get(pk)
            if b is None:
                assert (a.owed_total, a.paid_total) == (0, 0)
                continue
            assert (a.owed_total, a.owed_year, a.paid_total, a.paid_year, a.buckets) == (
                b.owed_total, b.owed_year, b.paid_total, b.paid_year, b.buckets), (pk, as_of)


def test_arrears_report_mixes_employers_with_reliefs_correctly(p, declare):
    for month in range(1, 7):
        declare(month=D(2025, month, 1), fund=10_000_000)  # 200,000 a month
        declare(unit=p.grassroots_a2, month=D(2025, month, 1), fund=10_000_000)
    services.fee_relief_create(actor=p.province_a_chair, unit=p.grassroots_a2, kind="suspension", first_month=D(2025, 1, 1),
                               last_month=D(2025, 3, 1), decision="QĐ 9")
    report = selectors.arrears_report(user=p.province_a_chair, root=p.province_a, as_of=D(2025, 7, 1))
    rows = {r["pk"]: r["f"] for r in report["rows"]}
    assert rows[p.grassroots_a.pk].buckets == {"upto3": 600_000, "m3to6": 600_000}
    # the suspended fees fall due in April: nothing is older than 3 months
    assert rows[p.grassroots_a2.pk].buckets == {"upto3": 1_200_000} and rows[p.grassroots_a2.pk].owed_total == 1_200_000
    assert report["totals"]["arrears"] == 2_400_000 and report["totals"]["in_arrears"] == 2


def test_posting_in_batches_while_reading_gives_the_summaries_of_posting_at_once(p, monkeypatch):
    """A sorted statement posted in batches (days before the latest written) makes the same summary transactions,
    with the same lines, as the same statement posted all at once at the end."""
    from congdoan.payments import importing

    p.member_a.refresh_from_db()
    fee, dues = "CONG TY MAY SONG HONG NOP KPCD MST 2600123456", f"Doan phi {p.member_a.code}"
    reference_a2 = payment_reference_for(kind="employer", payer_id=p.grassroots_a2.pk)

    def rows(prefix):
        return [vcb_row(txn=f"{prefix}{i}", date=day, credit=credit, note=note) for i, (day, credit, note) in enumerate([
            ("02/06/2025", "1.500.000", fee), ("02/06/2025", "120.000", dues), ("03/06/2025", "700.001", f"KPCD {reference_a2}"),
            ("03/06/2025", "99.999", fee), ("03/06/2025", "50.000", dues), ("04/06/2025", "1.000.000", fee),
            ("05/06/2025", "333.333", f"KPCD {reference_a2}"), ("05/06/2025", "1", dues)])]

    def summaries(job):
        out = []
        for txn in Transaction.objects.filter(receipts__transaction__isnull=False, external_id__startswith="receipts:").filter(
                receipts__external_id__in=[f"bank:{pk}:1" for pk in BankTransaction.objects.filter(
                    statement_import=job).values_list("pk", flat=True)]).distinct().order_by("date", "memo"):
            lines = sorted(txn.entries.values_list("unit__code", "account__code", "debit", "credit"))
            out.append((txn.date, txn.memo, txn.unit_id, txn.amount, lines))
        return out

    at_once = run(p.province_a_chair, BankAccount.objects.create(
        unit=p.province_a, bank_name="Vietcombank", account_number="0011004123456", layout=BankLayout.objects.get(bank_code="VCB")),
        rows("A"))
    monkeypatch.setattr(importing, "_in_batches", lambda statement: True)
    monkeypatch.setattr(importing, "CHUNK_LINES", 2)
    monkeypatch.setattr(importing, "POST_FIRST_LINES", 2)
    monkeypatch.setattr(importing, "POST_EVERY_LINES", 2)
    in_batches = run(p.province_a_chair, BankAccount.objects.create(
        unit=p.province_a, bank_name="Vietcombank", account_number="0011004999999", layout=BankLayout.objects.get(bank_code="VCB")),
        rows("B"))
    assert at_once.status == in_batches.status == ImportStatus.DONE
    assert at_once.posted_count == in_batches.posted_count == 8
    assert at_once.timings["post_batches"] == 1 and in_batches.timings["post_batches"] > 1
    assert summaries(in_batches) == summaries(at_once) and len(summaries(at_once)) == 7  # 4 days; fees each day, dues on 3
