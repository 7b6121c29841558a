"""Bulk posting of receipts: the same ledger as ``receipt_post`` called for each, refusals included."""

import datetime
import random

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from congdoan.core.errors import NotFoundInScope
from congdoan.finance import services
from congdoan.finance.bulk import ReceiptIn, receipts_post_bulk
from congdoan.finance.errors import FinanceError
from congdoan.finance.models import Account, Entry, Receipt, Transaction
from congdoan.finance.references import payment_reference_for
from congdoan.organizations.models import Unit
from congdoan.organizations.services import unit_create

D = datetime.date
HYPOTHESIS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def world(p):
    """The personas plus what makes receipts differ: a union directly under its province, a dissolved union,
    a union with its own dues rate, and months closed in a province's books and in a union's."""
    p.direct = unit_create(actor=None, parent=p.province_a, level="grassroots", code="PA-G9", name="CĐCS Tổng công ty",
                           employer_type="state_enterprise")
    p.gone = unit_create(actor=None, parent=p.upper_a, level="grassroots", code="PA-G3", name="CĐCS đã giải thể")
    Unit.objects.filter(pk=p.gone.pk).update(status="dissolved")
    services.unit_dues_rate_set(actor=p.grassroots_a_chair, unit=p.grassroots_a, rate_bp=100, valid_from=D(2025, 8, 1),
                                decision="Nghị quyết Hội nghị đoàn viên 2025")
    services.period_close(actor=p.province_b_chair, unit=p.province_b, month=D(2025, 5, 1))
    services.period_close(actor=p.national_chair, unit=p.grassroots_a2, month=D(2025, 4, 1))
    p.refs = {
        "employer_a": payment_reference_for(kind="employer", payer_id=p.grassroots_a.pk),
        "employer_b": payment_reference_for(kind="employer", payer_id=p.grassroots_b.pk),
        "member_a": payment_reference_for(kind="member", payer_id=p.member_a.pk),
        "member_b": payment_reference_for(kind="member", payer_id=p.member_b.pk),
    }
    return p


def random_receipts(p, rng: random.Random, n: int) -> list[ReceiptIn]:
    """Receipts drawn to hit every branch: levels missing, dissolved or closed books, own dues rates, bad input,
    repeated external ids, payers of another union, 1-đồng amounts whose parts are mostly 0."""
    units = [p.grassroots_a, p.grassroots_a, p.grassroots_a2, p.sub_union_a, p.direct, p.grassroots_b, p.gone, p.upper_a]
    days = [D(2024, 12, 31), D(2025, 4, 30), D(2025, 5, 2), D(2025, 6, 30), D(2025, 7, 1), D(2025, 8, 15), D(2025, 9, 3)]
    rows = []
    for key in rng.sample(range(10 * n), n):  # keys out of order: rows are posted in the order of their keys
        unit = rng.choice(units)
        source = rng.choice(["union_fee", "union_fee", "dues", "dues", "gift"] if rng.random() < 0.05 else ["union_fee", "dues"])
        amount = rng.choice([1, 2, 3, 7, 10, 99, rng.randrange(1, 10**6), rng.randrange(1, 10**12), 1_000_001])
        if rng.random() < 0.04:
            amount = rng.choice([0, -5, 1.5, True])
        paid_on = rng.choice(days)
        if rng.random() < 0.04:
            paid_on = rng.choice([D(2020, 1, 1), timezone.localdate() + datetime.timedelta(days=3)])
        kind = rng.choice(["bank", "bank", "bank", "cash"])
        external_id = f"{kind}:{rng.randrange(n)}:{rng.randint(1, 2)}" if rng.random() > 0.03 else ""
        reference = rng.choice(["", "KP123", *p.refs.values(), p.refs["employer_a"] if unit == p.grassroots_a else ""])
        if rng.random() < 0.02:
            reference = reference.lower()
        period = rng.choice([None, None, D(2025, rng.randint(1, 12), rng.choice([1, 15]))])
        rows.append(ReceiptIn(key=key, unit_id=unit.pk, source=source, amount=amount, paid_on=paid_on, external_id=external_id,
                              period=period, payer_reference=reference))
    if rng.random() < 0.2:
        rows.append(ReceiptIn(key=10 * n + 1, unit_id=987_654_321, source="dues", amount=5, paid_on=D(2025, 6, 2),
                              external_id="bank:unknown:1"))
    return rows


def post_one_by_one(actor, rows) -> dict:
    """receipt_post for each row in the order of keys: {key: refusal code and message} (posted rows: None)."""
    outcome = {}
    for row in sorted(rows, key=lambda r: r.key):
        try:
            with transaction.atomic():
                services.receipt_post(actor=actor, unit=Unit(pk=row.unit_id), source=row.source, payer_reference=row.payer_reference,
                                      amount=row.amount, paid_on=row.paid_on, external_id=row.external_id, period=row.period)
            outcome[row.key] = None
        except FinanceError as exc:
            outcome[row.key] = (exc.code, str(exc.message))
        except Unit.DoesNotExist:
            outcome[row.key] = ("unit_unknown", None)
    return outcome


def bulk_outcome(rows, result) -> dict:
    outcome = {row.key: None for row in rows}
    for key, exc in result.refused.items():
        outcome[key] = (exc.code, None if exc.code == "unit_unknown" else str(exc.message))
    return outcome


def ledger_state() -> dict:
    """What the books say, independent of row ids and of how receipts are grouped into transactions: every
    receipt with its split, every account, and each account's debits and credits per day. (``receipt_post``
    gives each receipt its own transaction; the bulk posting one per union, day, source and money account.)"""
    check_guards()
    for txn_id, unit_id, debit, credit in (Entry.objects.values("transaction_id", "unit_id").order_by()
                                           .annotate(d=Sum("debit"), c=Sum("credit")).values_list("transaction_id", "unit_id", "d", "c")):
        assert debit == credit, f"transaction {txn_id} unbalanced in the books of unit {txn_id}"
    return {
        "days": sorted(Entry.objects.values("unit_id", "account__code", "date").order_by()
                       .annotate(d=Sum("debit"), c=Sum("credit")).values_list("unit_id", "account__code", "date", "d", "c")),
        "receipts": sorted(Receipt.objects.values_list(
            "external_id", "unit_id", "payer_kind", "member_id", "source", "amount", "paid_on", "period",
            "part_0", "unit_1_id", "part_1", "unit_2_id", "part_2", "unit_3_id", "part_3")),
        "accounts": sorted(Account.objects.values_list("unit_id", "code")),
    }


def check_guards():
    """Fire the database's deferred checks now (PostgreSQL): balance per unit and every foreign key."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def run_and_roll_back(fn):
    with transaction.atomic():
        outcome = fn()
        state = ledger_state()
        transaction.set_rollback(True)
    return outcome, state


def as_query(rows, p) -> tuple[str, list]:
    """The rows as a SQL query of QUERY_COLUMNS, payers given by kind and id (as payments gives them)."""
    kinds = {ref: kind for kind, ref in ((k.split("_")[0], v) for k, v in p.refs.items())}
    ids = {p.refs["employer_a"]: p.grassroots_a.pk, p.refs["employer_b"]: p.grassroots_b.pk,
           p.refs["member_a"]: p.member_a.pk, p.refs["member_b"]: p.member_b.pk}
    selects, params = [], []
    for row in rows:
        kind = {"employer": "employer", "member": "member"}.get(kinds.get(row.payer_reference), None)
        selects.append("SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s" if connection.vendor != "postgresql" else
                       "SELECT %s::bigint, %s::text, %s::bigint, %s::text, %s::bigint, %s::date, %s::date, %s::text, %s::bigint")
        params += [row.key, row.external_id, row.unit_id, row.source, row.amount, row.paid_on, row.period, kind,
                   ids.get(row.payer_reference)]
    return " UNION ALL ".join(selects), params


@HYPOTHESIS
@given(seed=st.integers(0, 2**32), n=st.integers(1, 40))
def test_bulk_posts_exactly_what_receipt_post_posts_one_by_one(world, seed, n):
    p = world
    rows = random_receipts(p, random.Random(seed), n)
    actor = p.national_chair
    one, expected = run_and_roll_back(lambda: post_one_by_one(actor, rows))
    result, state = run_and_roll_back(lambda: receipts_post_bulk(actor=actor, receipts=rows))
    assert bulk_outcome(rows, result) == one
    assert state == expected
    assert result.posted == len(expected["receipts"])
    assert result.posted + result.existing + len(result.refused) == len(rows)


@HYPOTHESIS
@given(seed=st.integers(0, 2**32), n=st.integers(1, 30))
def test_bulk_from_a_query_posts_the_same(world, seed, n):
    """Payments gives its allocations as a query, payers by kind and id: the same ledger again."""
    p = world
    rng = random.Random(seed)
    rows = [row for row in random_receipts(p, rng, n)
            if row.payer_reference in ("", *p.refs.values()) and type(row.amount) is int and row.external_id]
    actor = p.national_chair
    one, expected = run_and_roll_back(lambda: post_one_by_one(actor, rows))
    query, params = as_query(rows, p)
    result, state = run_and_roll_back(lambda: receipts_post_bulk(actor=actor, query=query, params=params) if rows else None)
    if rows:
        assert bulk_outcome(rows, result) == one
    assert state == expected


def fee(p, key=1, **kw):
    values = {"key": key, "unit_id": p.grassroots_a.pk, "source": "union_fee", "amount": 1_500_000, "paid_on": D(2025, 6, 2),
              "external_id": f"bank:{key}:1", "payer_reference": p.refs["employer_a"] if hasattr(p, "refs") else ""}
    values.update(kw)
    return ReceiptIn(**values)


def test_split_and_lines_of_a_bulk_receipt(world):
    p = world
    result = receipts_post_bulk(actor=p.accountant_a, receipts=[fee(p, amount=1_000_001)])
    assert (result.posted, result.existing, result.refused) == (1, 0, {})
    txn = Transaction.objects.get()
    lines = {(e.unit.code, e.account.code): (e.debit, e.credit) for e in txn.entries.select_related("unit", "account")}
    assert lines == {("PA-G1", "112"): (1_000_001, 0), ("PA-G1", "5111"): (0, 750_001), ("PA-G1", "336"): (0, 250_000),
                     ("PA-U", "136"): (100_000, 0), ("PA-U", "5111"): (0, 100_000), ("PA", "136"): (100_000, 0),
                     ("PA", "5111"): (0, 100_000), ("TLD", "136"): (50_000, 0), ("TLD", "5111"): (0, 50_000)}
    assert txn.amount == 1_000_001 + 250_000 and txn.kind == "receipts" and txn.created_by == p.accountant_a
    receipt = Receipt.objects.get()
    assert receipt.transaction == txn
    assert receipt.parts() == [(p.grassroots_a.pk, 750_001), (p.upper_a.pk, 100_000), (p.province_a.pk, 100_000),
                               (p.national.pk, 50_000)]


def test_a_statement_is_one_summary_transaction_per_province_day_source_and_account(world):
    """The receipts of one province, day and source are one transaction (in the province's books) whose lines are
    their sums per book and account; each receipt keeps its own largest-remainder split, which adds up to it."""
    p = world
    rows = [fee(p, key=i, amount=1_000_001 + i) for i in range(1, 4)]
    rows += [fee(p, key=4, unit_id=p.grassroots_a2.pk, payer_reference="", amount=999)]  # another union of the province
    rows += [fee(p, key=10, external_id="cash:10:1", amount=40_000)]  # cash: another account, another transaction
    rows += [fee(p, key=11, paid_on=D(2025, 6, 3), amount=10)]  # another day
    rows += [fee(p, key=12, source="dues", payer_reference=p.refs["member_a"], amount=50_000)]  # another source
    rows += [fee(p, key=13, unit_id=p.grassroots_b.pk, payer_reference="", amount=70_000)]  # another province
    result = receipts_post_bulk(actor=p.national_chair, receipts=rows)
    assert result.posted == 8 and not result.refused
    assert Transaction.objects.count() == 5
    summary = Receipt.objects.get(external_id="bank:1:1").transaction
    assert summary.kind == "receipts" and summary.unit == p.province_a and summary.receipts.count() == 4
    assert summary.memo == "Kinh phí công đoàn thu ngày 02/06/2025"  # no count, no province: unions read it too
    receipts = list(summary.receipts.all())
    assert summary.entries.get(account__code="112", unit=p.grassroots_a).debit == 3 * 1_000_001 + 6
    assert summary.entries.get(account__code="112", unit=p.grassroots_a2).debit == 999
    assert summary.entries.get(account__code="5111", unit=p.grassroots_a).credit == sum(
        r.part_0 for r in receipts if r.unit_id == p.grassroots_a.pk)
    province_share = summary.entries.get(account__code="136", unit=p.province_a)  # one line for both unions
    assert province_share.debit == sum(part for r in receipts for unit_id, part in r.parts() if unit_id == p.province_a.pk)
    assert summary.amount == sum(e.debit for e in summary.entries.all()) == sum(e.credit for e in summary.entries.all())
    for receipt in Receipt.objects.all():
        assert sum(part for _unit, part in receipt.parts()) == receipt.amount
    cash = Receipt.objects.get(external_id="cash:10:1").transaction
    assert "111" in set(cash.entries.values_list("account__code", flat=True)) and cash.receipts.count() == 1
    assert Receipt.objects.get(external_id="bank:13:1").transaction.unit == p.province_b


def test_one_receipt_of_a_summary_is_reversed_on_its_own(world):
    p = world
    receipts_post_bulk(actor=p.accountant_a, receipts=[fee(p, key=1, amount=1_000_001), fee(p, key=2, amount=2_000_000)])
    first = Receipt.objects.get(external_id="bank:1:1")
    summary = first.transaction
    reversal = services.receipt_reverse(actor=p.accountant_a, receipt=first, date=D(2025, 6, 5))
    assert reversal.kind == "reversal"
    lines = {(e.unit.code, e.account.code): (e.debit, e.credit) for e in reversal.entries.select_related("unit", "account")}
    assert lines == {("PA-G1", "112"): (0, 1_000_001), ("PA-G1", "5111"): (750_001, 0), ("PA-G1", "336"): (250_000, 0),
                     ("PA-U", "136"): (0, 100_000), ("PA-U", "5111"): (100_000, 0), ("PA", "136"): (0, 100_000),
                     ("PA", "5111"): (100_000, 0), ("TLD", "136"): (0, 50_000), ("TLD", "5111"): (50_000, 0)}
    negative = Receipt.objects.get(reversal_of=first)
    assert negative.amount == -1_000_001 and negative.part_0 == -750_001
    # paid now counts the other receipt only
    assert Receipt.objects.filter(unit=p.grassroots_a).aggregate(total=Sum("amount"))["total"] == 2_000_000
    with pytest.raises(FinanceError) as twice:
        services.receipt_reverse(actor=p.accountant_a, receipt=first)
    assert twice.value.code == "already_reversed"
    with pytest.raises(FinanceError) as whole:  # the summary can no longer be reversed as a whole
        services.transaction_reverse(actor=p.province_a_chair, transaction=summary)
    assert whole.value.code == "receipts_partly_reversed"
    second = Receipt.objects.get(external_id="bank:2:1")
    services.receipt_reverse(actor=p.accountant_a, receipt=second)
    assert Receipt.objects.filter(unit=p.grassroots_a).aggregate(total=Sum("amount"))["total"] == 0
    with pytest.raises(NotFoundInScope):
        services.receipt_reverse(actor=p.province_b_chair, receipt=first)


def test_reversing_a_summary_reverses_every_receipt_in_it(world):
    p = world
    receipts_post_bulk(actor=p.accountant_a, receipts=[fee(p, key=1), fee(p, key=2)])
    summary = Transaction.objects.get()
    with pytest.raises(NotFoundInScope):  # the summary is in the province's books: a union's accountant reverses receipts
        services.transaction_reverse(actor=p.accountant_a, transaction=summary)
    services.transaction_reverse(actor=p.province_a_chair, transaction=summary)
    assert sorted(Receipt.objects.values_list("amount", flat=True)) == [-1_500_000, -1_500_000, 1_500_000, 1_500_000]
    with pytest.raises(FinanceError) as again:
        services.receipt_reverse(actor=p.accountant_a, receipt=Receipt.objects.get(external_id="bank:1:1"))
    assert again.value.code == "already_reversed"


def test_bulk_posting_twice_posts_once_and_other_figures_are_refused(world):
    p = world
    rows = [fee(p, key=i) for i in range(1, 6)]
    assert receipts_post_bulk(actor=p.accountant_a, receipts=rows).posted == 5
    again = receipts_post_bulk(actor=p.accountant_a, receipts=[*rows, fee(p, key=9, external_id="bank:3:1", amount=7)])
    assert (again.posted, again.existing) == (0, 5)
    assert again.refused[9].code == "external_id_conflict"
    assert Receipt.objects.count() == 5 and Transaction.objects.count() == 1
    # the same external id twice in one call: the second meets the first, as one call after the other
    twice = receipts_post_bulk(actor=p.accountant_a, receipts=[fee(p, key=20, external_id="cash:1:1"),
                                                               fee(p, key=21, external_id="cash:1:1"),
                                                               fee(p, key=22, external_id="cash:1:1", amount=1)])
    assert (twice.posted, twice.existing, twice.refused[22].code) == (1, 1, "external_id_conflict")


def test_refusals_carry_receipt_posts_codes_and_nothing_of_them_is_written(world):
    p = world
    rows = [fee(p, key=1, paid_on=D(2025, 4, 10), unit_id=p.grassroots_a2.pk, payer_reference=""),  # its month is closed
            fee(p, key=2, unit_id=p.grassroots_b.pk, payer_reference="", paid_on=D(2025, 5, 9)),  # PB's month is closed
            fee(p, key=3, unit_id=p.gone.pk, payer_reference=""),
            fee(p, key=4, unit_id=p.upper_a.pk, payer_reference=""),
            fee(p, key=5, payer_reference=p.refs["employer_b"]),
            fee(p, key=6, source="dues", payer_reference=p.refs["member_b"]),
            fee(p, key=7, paid_on=D(2020, 1, 1)),
            fee(p, key=8, amount=0),
            fee(p, key=9, external_id=""),
            fee(p, key=10)]
    result = receipts_post_bulk(actor=p.national_chair, receipts=rows)
    assert {k: e.code for k, e in result.refused.items()} == {
        1: "period_closed", 2: "period_closed", 3: "unit_dissolved", 4: "not_grassroots", 5: "payer_mismatch",
        6: "payer_mismatch", 7: "no_share_rule", 8: "amount_not_positive", 9: "external_id_required"}
    assert "PB" in str(result.refused[2].message) and "05/2025" in str(result.refused[2].message)
    assert result.posted == 1 and Receipt.objects.get().external_id == "bank:10:1"
    # a 1-đồng receipt of PB-G1 gives the closed province nothing: it is posted, as receipt_post posts it
    assert receipts_post_bulk(actor=p.national_chair, receipts=[fee(p, key=11, amount=1, unit_id=p.grassroots_b.pk,
                                                                    payer_reference="", paid_on=D(2025, 5, 9))]).posted == 1


def test_outside_the_actors_scope_raises_or_is_refused(world):
    p = world
    rows = [fee(p, key=1), fee(p, key=2, unit_id=p.grassroots_b.pk, payer_reference="")]
    with pytest.raises(NotFoundInScope):
        receipts_post_bulk(actor=p.province_a_chair, receipts=rows)
    assert not Transaction.objects.exists()
    result = receipts_post_bulk(actor=p.province_a_chair, receipts=rows, refuse_out_of_scope=True)
    assert result.posted == 1 and result.refused[2].code == "out_of_scope"
    assert receipts_post_bulk(actor=None, receipts=rows).posted == 1  # the system keeps every book


def test_amounts_too_large_for_the_set_arithmetic_go_through_receipt_post(world):
    p = world
    huge = 10**15
    result = receipts_post_bulk(actor=None, receipts=[fee(p, key=1, amount=huge), fee(p, key=2)])
    assert result.posted == 2
    assert Receipt.objects.get(amount=huge).part_0 == huge * 3 // 4
    assert Entry.objects.get(account__code="5111", unit=p.grassroots_a).credit == huge * 3 // 4 + 1_500_000 * 3 // 4


def test_bad_arguments():
    with pytest.raises(ValueError):
        receipts_post_bulk(actor=None)
    with pytest.raises(ValueError):
        receipts_post_bulk(actor=None, receipts=[ReceiptIn(key=1, unit_id=1, source="dues", amount=1, paid_on=D(2025, 1, 1),
                                                           external_id="a")] * 2)


def test_receipt_post_meeting_a_receipt_a_bulk_posting_wrote_meanwhile_returns_it(world, monkeypatch):
    """The same allocation posted by hand and by the periodic task at once: the second to write finds the first's
    receipt at its INSERT (not at its first look), undoes its own transaction and returns the receipt's."""
    from congdoan.finance import ledger

    p = world
    receipts_post_bulk(actor=None, receipts=[fee(p, key=1)])
    summary = Transaction.objects.get()
    looks = []
    real = ledger._receipt_posted
    monkeypatch.setattr(ledger, "_receipt_posted", lambda external_id: looks.append(external_id) or (real(external_id)
                                                                                                      if len(looks) > 1 else None))
    txn = services.receipt_post(actor=p.accountant_a, unit=p.grassroots_a, source="union_fee", payer_reference=p.refs["employer_a"],
                                amount=1_500_000, paid_on=D(2025, 6, 2), external_id="bank:1:1")
    assert txn == summary and len(looks) == 2
    assert Transaction.objects.count() == 1 and Receipt.objects.count() == 1  # nothing of the second posting stays
    looks.clear()
    with pytest.raises(FinanceError) as other:
        services.receipt_post(actor=p.accountant_a, unit=p.grassroots_a, source="union_fee", payer_reference=p.refs["employer_a"],
                              amount=7, paid_on=D(2025, 6, 2), external_id="bank:1:1")
    assert other.value.code == "external_id_conflict" and Transaction.objects.count() == 1


def test_reversing_a_large_summary_writes_its_negatives_in_one_statement(world):
    p = world
    receipts_post_bulk(actor=None, receipts=[fee(p, key=i, amount=1_000 + i) for i in range(1, 301)])
    summary = Transaction.objects.get()
    services.transaction_reverse(actor=p.province_a_chair, transaction=summary)
    negatives = Receipt.objects.filter(amount__lt=0)
    assert negatives.count() == 300 and Receipt.objects.aggregate(total=Sum("amount"))["total"] == 0
    assert all(r.part_0 == -Receipt.objects.get(pk=r.reversal_of_id).part_0 for r in negatives[:20])
    assert {r.external_id for r in negatives[:3]} <= {f"reversal:bank:{i}:1" for i in range(1, 301)}


@pytest.mark.parametrize("meets", [1, 3])
def test_a_bulk_posting_meeting_a_receipt_written_after_its_decision_decides_again(world, monkeypatch, meets):
    """Another posting writes one of the receipts between this one's decision and its INSERT: the unique index of
    external ids stops the INSERT, the attempt is undone and decided again; after three such meetings, "busy"."""
    from congdoan.finance import bulk

    p = world
    decided = []
    real = bulk._Run._decide

    def decide_then_meet(run):
        real(run)
        decided.append(1)
        if len(decided) <= meets:  # written as another posting would, after the decision looked
            with connection.cursor() as cur:
                cur.execute("INSERT INTO finance_receipt (external_id, transaction_id, unit_id, payer_kind, source, amount, "
                            "paid_on, period) SELECT %s, t.id, %s, 'employer', 'union_fee', 1, %s, %s FROM finance_transaction t "
                            "ORDER BY t.id LIMIT 1", ["bank:1:1", p.grassroots_a.pk, D(2025, 6, 2), D(2025, 6, 1)])

    receipts_post_bulk(actor=None, receipts=[fee(p, key=9, external_id="bank:0:1")])  # a transaction to refer to
    monkeypatch.setattr(bulk._Run, "_decide", decide_then_meet)
    if meets < 3:
        result = receipts_post_bulk(actor=None, receipts=[fee(p, key=1), fee(p, key=2, external_id="bank:2:1")])
        assert (result.posted, result.existing, result.refused) == (2, 0, {}) and len(decided) == 2
        assert Receipt.objects.get(external_id="bank:1:1").amount == 1_500_000
    else:
        with pytest.raises(FinanceError) as busy:
            receipts_post_bulk(actor=None, receipts=[fee(p, key=1), fee(p, key=2, external_id="bank:2:1")])
        assert busy.value.code == "busy" and len(decided) == 3
        assert not Receipt.objects.filter(external_id__in=["bank:1:1", "bank:2:1"]).exists()


def test_payment_references_computed_in_sql_are_those_of_python(db):
    """Bulk posting computes payers' references in the database: the same digits as ``payment_reference_for``, for
    ids of every width, the largest that fits and the first that does not, zero and negative ids, unknown kinds."""
    from congdoan.finance.references import reference_sql

    ids = [1, 7, 42, 96, 97, 98, 4271, 123_456, 99_999_999, 100_000_000, 1_234_567_890, 9_999_999_999, 10_000_000_000, 0, -5]
    ids += random.Random(7).sample(range(1, 10**10), 200)
    pairs = [(kind, pk) for kind in ("employer", "member", "other") for pk in ids]
    values = ", ".join(["(%s, %s)"] * len(pairs))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT x.k, x.i, {reference_sql('x.k', 'x.i', connection.vendor)} FROM (VALUES {values}) AS x(k, i)"
                       if connection.vendor == "postgresql" else
                       f"WITH x(k, i) AS (VALUES {values}) SELECT x.k, x.i, {reference_sql('x.k', 'x.i', connection.vendor)} FROM x",
                       [v for pair in pairs for v in pair])
        got = {(kind, int(pk)): reference for kind, pk, reference in cursor.fetchall()}
    assert got == {(kind, pk): payment_reference_for(kind=kind, payer_id=pk) for kind, pk in pairs}
    assert got[("member", 1234567890)].startswith("DP1234567890") and got[("employer", 100_000_000)] == ""


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_large_posting_analyses_its_temporary_tables_before_deciding(world, monkeypatch):
    """Temporary tables are never analysed by autovacuum: from ``_ANALYZE_FROM`` receipts the stage and the small tables
    it is joined to are analysed before the decisions (the planner then hashes the small tables instead of sorting the
    stage twice); a small posting does not pay for it. What is posted is the same."""
    from congdoan.finance import bulk

    p = world
    seen = []
    original = bulk._Run._exec

    def recording(self, sql, params=()):
        if sql.startswith("ANALYZE"):
            seen.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(bulk._Run, "_exec", recording)
    monkeypatch.setattr(bulk, "_ANALYZE_FROM", 3)
    assert receipts_post_bulk(actor=p.accountant_a, receipts=[fee(p, key=1), fee(p, key=2)]).posted == 2
    assert not any("_stage" in sql for sql in seen)
    rows = [fee(p, key=key, external_id=f"bank:{key}:1") for key in range(10, 14)]
    assert receipts_post_bulk(actor=p.accountant_a, receipts=rows).posted == 4
    (analysed,) = [sql for sql in seen if "_stage" in sql]
    assert all(f"_{table}" in analysed for table in ("unit", "book", "ref"))
