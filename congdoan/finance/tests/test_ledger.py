"""The ledger: receipts split between levels, balanced transactions, closed months, reversals, nothing deleted."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from congdoan.core.errors import NotFoundInScope
from congdoan.finance import selectors, services
from congdoan.finance.errors import FinanceError
from congdoan.finance.models import Account, AccountBalance, Entry, LedgerIsPermanent, Period, Receipt, Transaction
from congdoan.finance.references import payment_reference_for
from congdoan.finance.services import Line
from congdoan.organizations.models import Unit

D = datetime.date
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def post_fee(p, amount=1_500_000, paid_on=D(2025, 6, 2), external_id="bank:1:1", actor=None, unit=None, source="union_fee", **kw):
    unit = unit or p.grassroots_a
    reference = kw.pop("reference", None)
    if reference is None:
        reference = payment_reference_for(kind="employer", payer_id=unit.pk) if source == "union_fee" else ""
    return services.receipt_post(actor=actor or p.accountant_a, unit=unit, source=source, payer_reference=reference,
                                 amount=amount, paid_on=paid_on, external_id=external_id, **kw)


def by_unit(txn) -> dict:
    """{(unit code, account code): (debit, credit)} of a transaction."""
    return {(e.unit.code, e.account.code): (e.debit, e.credit) for e in txn.entries.select_related("unit", "account")}


def test_receipt_is_split_between_levels_by_the_shares_in_force(p):
    txn = post_fee(p)
    assert by_unit(txn) == {
        ("PA-G1", "112"): (1_500_000, 0), ("PA-G1", "5111"): (0, 1_125_000), ("PA-G1", "336"): (0, 375_000),
        ("PA-U", "136"): (150_000, 0), ("PA-U", "5111"): (0, 150_000),
        ("PA", "136"): (150_000, 0), ("PA", "5111"): (0, 150_000),
        ("TLD", "136"): (75_000, 0), ("TLD", "5111"): (0, 75_000),
    }
    assert txn.amount == 1_500_000 + 150_000 * 2 + 75_000
    receipt = Receipt.objects.get(transaction=txn)
    assert (receipt.unit_id, receipt.source, receipt.amount, receipt.period, receipt.payer_kind) == (
        p.grassroots_a.pk, "union_fee", 1_500_000, D(2025, 6, 1), "employer")


def test_dues_split_and_own_higher_rate_extra_stays_with_the_grassroots_union(p):
    member_ref = payment_reference_for(kind="member", payer_id=p.member_a.pk)
    txn = post_fee(p, amount=100_000, paid_on=D(2025, 8, 5), source="dues", reference=member_ref, external_id="cash:1:1")
    assert by_unit(txn)[("PA-G1", "111")] == (100_000, 0)  # cash
    assert by_unit(txn)[("PA-G1", "5112")] == (0, 70_000)
    assert Receipt.objects.get(transaction=txn).member_id == p.member_a.pk
    # the members vote 1 % (100 bp) where the general rate is 0.5 %: half of what they pay is the extra
    services.unit_dues_rate_set(actor=p.grassroots_a_chair, unit=p.grassroots_a, rate_bp=100, valid_from=D(2025, 8, 1),
                                decision="Nghị quyết Hội nghị đoàn viên 2025")
    txn = post_fee(p, amount=100_000, paid_on=D(2025, 8, 6), source="dues", reference=member_ref, external_id="cash:1:2")
    assert by_unit(txn)[("PA-G1", "5112")] == (0, 50_000 + 35_000)
    assert by_unit(txn)[("PA-U", "5112")] == (0, 7_500)
    assert by_unit(txn)[("PA", "5112")] == (0, 5_000)
    assert by_unit(txn)[("TLD", "5112")] == (0, 2_500)


def test_a_sub_union_receipt_goes_to_its_grassroots_books(p):
    txn = post_fee(p, unit=p.sub_union_a, source="dues", amount=30_000, reference="")
    assert txn.unit_id == p.grassroots_a.pk
    assert ("PA-G1", "112") in by_unit(txn)


def test_upper_grassroots_share_passes_up_when_the_union_sits_under_the_province(p):
    from congdoan.organizations.services import unit_create

    direct = unit_create(actor=None, parent=p.province_a, level="grassroots", code="PA-G9", name="CĐCS Tổng công ty",
                         employer_type="state_enterprise")
    txn = post_fee(p, unit=direct, amount=1_000_001, actor=p.province_a_chair)
    parts = {k: v for k, v in by_unit(txn).items() if k[1] == "5111"}
    assert parts == {("PA-G9", "5111"): (0, 750_001), ("PA", "5111"): (0, 200_000), ("TLD", "5111"): (0, 50_000)}


def test_receipt_post_is_idempotent_by_external_id(p):
    first = post_fee(p)
    again = post_fee(p)
    assert again.pk == first.pk
    assert Transaction.objects.count() == 1 and Receipt.objects.count() == 1
    with pytest.raises(FinanceError) as exc:
        post_fee(p, amount=1_600_000)
    assert exc.value.code == "external_id_conflict"


@pytest.mark.parametrize("kwargs,code", [
    ({"amount": 0}, "amount_not_positive"),
    ({"amount": -5}, "amount_not_positive"),
    ({"amount": 1.5}, "amount_not_positive"),
    ({"amount": True}, "amount_not_positive"),
    ({"source": "gift"}, "source_unknown"),
    ({"external_id": ""}, "external_id_required"),
    ({"paid_on": D(2030, 1, 1)}, "future_date"),
    ({"paid_on": D(2020, 1, 1)}, "no_share_rule"),
])
def test_receipt_bad_inputs_write_nothing(p, kwargs, code):
    with pytest.raises(FinanceError) as exc:
        post_fee(p, **kwargs)
    assert exc.value.code == code
    assert not Transaction.objects.exists() and not Entry.objects.exists() and not Receipt.objects.exists()


def test_receipt_to_a_dissolved_union_or_not_a_union_is_refused(p):
    with pytest.raises(FinanceError) as exc:
        post_fee(p, unit=p.upper_a)
    assert exc.value.code == "not_grassroots"
    Unit.objects.filter(pk=p.grassroots_a2.pk).update(status="dissolved")
    with pytest.raises(FinanceError) as exc:
        post_fee(p, unit=Unit.objects.get(pk=p.grassroots_a2.pk), actor=p.province_a_chair)
    assert exc.value.code == "unit_dissolved"


def test_receipt_reference_of_another_payer_is_refused(p):
    with pytest.raises(FinanceError) as exc:
        services.receipt_post(actor=p.accountant_a, unit=p.grassroots_a, source="union_fee",
                              payer_reference=payment_reference_for(kind="employer", payer_id=p.grassroots_b.pk),
                              amount=10, paid_on=D(2025, 6, 2), external_id="x:1")
    assert exc.value.code == "payer_mismatch"


def test_province_b_cannot_post_in_a(p):
    with pytest.raises(NotFoundInScope):
        post_fee(p, actor=p.province_b_chair)
    with pytest.raises(NotFoundInScope):
        services.ledger_post(actor=p.province_b_chair, unit=p.grassroots_a, date=D(2025, 6, 2),
                             lines=[("112", 10, 0), ("518", 0, 10)])
    with pytest.raises(NotFoundInScope):  # nor reach A's books through a line of its own transaction
        services.ledger_post(actor=p.province_b_chair, unit=p.grassroots_b, date=D(2025, 6, 2),
                             lines=[("112", 10, 0), ("518", 0, 10), ("112", 10, 0, p.grassroots_a), ("518", 0, 10, p.grassroots_a)])
    assert not Entry.objects.exists()


def test_ledger_post_balanced_per_unit_and_sub_accounts(p):
    txn = services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=D(2025, 6, 3), memo="Chi hỗ trợ",
                               lines=[Line("611.events", debit=2_000_000), Line("112", credit=2_000_000)], kind="expense")
    assert by_unit(txn) == {("PA-G1", "611.events"): (2_000_000, 0), ("PA-G1", "112"): (0, 2_000_000)}
    assert Account.objects.get(unit=p.grassroots_a, code="611.events").type == "expense"


@pytest.mark.parametrize("lines,code", [
    ([("112", 10, 0)], "too_few_lines"),
    ([("112", 10, 0), ("518", 0, 9)], "unbalanced"),
    ([("999", 10, 0), ("518", 0, 10)], "account_unknown"),
    ([("611.Bad Name", 10, 0), ("518", 0, 10)], "account_unknown"),
    ([("112", 10, 10), ("518", 0, 0)], "line_amount"),
    ([("112", 0, 0), ("518", 0, 0)], "line_amount"),
    ([("112", -10, 0), ("518", 0, -10)], "line_amount"),
    ([("112", 10.0, 0), ("518", 0, 10.0)], "line_amount"),
    ([("112", "10", 0), ("518", 0, "10")], "line_amount"),
])
def test_ledger_post_refuses_bad_lines(p, lines, code):
    with pytest.raises(FinanceError) as exc:
        services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=D(2025, 6, 3), lines=lines)
    assert exc.value.code == code
    assert not Transaction.objects.exists()


def test_balanced_in_total_but_not_per_unit_is_refused(p):
    with pytest.raises(FinanceError) as exc:
        services.ledger_post(actor=p.province_a_chair, unit=p.grassroots_a, date=D(2025, 6, 3),
                             lines=[("112", 10, 0), ("518", 0, 10, p.upper_a)])
    assert exc.value.code == "unbalanced"


def test_ledger_post_reserved_kinds_and_future(p):
    for kind in ("receipt", "reversal", "nonsense"):
        with pytest.raises(FinanceError) as exc:
            services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=D(2025, 6, 3), kind=kind,
                                 lines=[("112", 10, 0), ("518", 0, 10)])
        assert exc.value.code == "kind_reserved"
    with pytest.raises(FinanceError) as exc:
        services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=D(2099, 1, 1), lines=[("112", 10, 0), ("518", 0, 10)])
    assert exc.value.code == "future_date"


def test_ledger_post_is_idempotent_by_external_id(p):
    kwargs = dict(actor=p.accountant_a, unit=p.grassroots_a, date=D(2025, 6, 3), lines=[("112", 10, 0), ("518", 0, 10)],
                  external_id="budget:expense:7")
    first = services.ledger_post(**kwargs)
    assert services.ledger_post(**kwargs).pk == first.pk
    with pytest.raises(FinanceError) as exc:
        services.ledger_post(**{**kwargs, "lines": [("112", 11, 0), ("518", 0, 11)]})
    assert exc.value.code == "external_id_conflict"


def test_closed_month_refuses_posting_and_closing_closes_earlier_months(p):
    post_fee(p, paid_on=D(2025, 4, 20), external_id="bank:0:1")
    periods = services.period_close(actor=p.accountant_a, unit=p.grassroots_a, month=D(2025, 6, 1))
    assert [x.month for x in periods] == [D(2025, 4, 1), D(2025, 5, 1), D(2025, 6, 1)]
    with pytest.raises(FinanceError) as exc:
        post_fee(p, paid_on=D(2025, 6, 30))
    assert exc.value.code == "period_closed"
    assert selectors.closed_months(unit_ids=[p.grassroots_a.pk, p.sub_union_a.pk], start=D(2025, 1, 1), end=D(2025, 12, 1)) == {
        (u, D(2025, m, 1)) for u in (p.grassroots_a.pk, p.sub_union_a.pk) for m in (4, 5, 6)}
    with pytest.raises(FinanceError) as exc:
        services.period_close(actor=p.accountant_a, unit=p.grassroots_a, month=D(2025, 5, 1))
    assert exc.value.code == "period_already_closed"
    with pytest.raises(FinanceError) as exc:
        services.period_close(actor=p.accountant_a, unit=p.grassroots_a, month=datetime.date.today())
    assert exc.value.code == "period_not_ended"
    with pytest.raises(NotFoundInScope):
        services.period_close(actor=p.province_b_chair, unit=p.grassroots_a, month=D(2025, 7, 1))


def test_an_upper_level_closed_month_refuses_the_share_too(p):
    services.period_close(actor=p.province_a_chair, unit=p.province_a, month=D(2025, 6, 1))
    with pytest.raises(FinanceError) as exc:
        post_fee(p)
    assert exc.value.code == "period_closed"
    assert not Entry.objects.exists()


def test_reversal_swaps_every_line_and_cancels_the_receipt(p):
    txn = post_fee(p)
    services.period_close(actor=p.accountant_a, unit=p.grassroots_a, month=D(2025, 6, 1))
    reversal = services.transaction_reverse(actor=p.accountant_a, transaction=txn, date=D(2025, 7, 2))
    assert reversal.reverses_id == txn.pk and reversal.kind == "reversal" and reversal.date == D(2025, 7, 2)
    assert {k: (c, d) for k, (d, c) in by_unit(txn).items()} == by_unit(reversal)
    assert Receipt.objects.aggregate(s=Sum("amount"))["s"] == 0
    with pytest.raises(FinanceError) as exc:
        services.transaction_reverse(actor=p.accountant_a, transaction=txn, date=D(2025, 7, 3))
    assert exc.value.code == "already_reversed"
    with pytest.raises(FinanceError) as exc:
        services.transaction_reverse(actor=p.accountant_a, transaction=reversal, date=D(2025, 7, 3))
    assert exc.value.code == "reversal_of_reversal"
    with pytest.raises(FinanceError) as exc:  # dated in the closed month of the original
        services.transaction_reverse(actor=p.accountant_a, transaction=post_fee(p, paid_on=D(2025, 7, 1), external_id="b:2"),
                                     date=D(2025, 6, 30))
    assert exc.value.code == "date_before_original"


def test_nothing_is_ever_deleted_nor_changed(p):
    txn = post_fee(p)
    with pytest.raises(LedgerIsPermanent):
        txn.delete()
    with pytest.raises(LedgerIsPermanent):
        Entry.objects.filter(transaction=txn).delete()
    with pytest.raises(LedgerIsPermanent):
        Entry.objects.filter(transaction=txn).update(debit=1)
    with pytest.raises(LedgerIsPermanent):
        txn.memo = "changed"
        txn.save()
    with pytest.raises(LedgerIsPermanent):
        Receipt.objects.get(transaction=txn).delete()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:  # the database refuses too
        cursor.execute("UPDATE finance_entry SET debit = debit + 1 WHERE transaction_id = %s", [txn.pk])


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_refuses_an_unbalanced_transaction_at_commit(p):
    txn = post_fee(p)
    account = Account.objects.get(unit=p.grassroots_a, code="112")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO finance_entry (transaction_id, account_id, unit_id, date, debit, credit) "
                       "VALUES (%s, %s, %s, %s, 5, 0)", [txn.pk, account.pk, p.grassroots_a.pk, txn.date])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@HYPOTHESIS
@given(st.lists(st.tuples(st.sampled_from(["111", "112", "518", "611", "611.events", "336"]), st.integers(1, 10**11),
                          st.booleans()), min_size=1, max_size=8))
def test_any_posting_that_is_accepted_has_debits_equal_credits(p, draft):
    """Lines drawn at random, then balanced by one last line; whatever is accepted balances in the database."""
    lines = [(code, amount, 0) if debit else (code, 0, amount) for code, amount, debit in draft]
    difference = sum(d - c for _, d, c in lines)
    if difference:
        lines.append(("411", 0, difference) if difference > 0 else ("411", -difference, 0))
    with transaction.atomic():
        try:
            txn = services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=D(2025, 6, 3), lines=lines)
        except FinanceError as exc:
            assert exc.code == "too_few_lines" and len(lines) < 2
            return
        sums = Entry.objects.filter(transaction=txn).aggregate(d=Sum("debit"), c=Sum("credit"))
        assert sums["d"] == sums["c"] == txn.amount
        transaction.set_rollback(True)


@HYPOTHESIS
@given(amount=st.integers(1, 10**12), day=st.integers(1, 28), source=st.sampled_from(["union_fee", "dues"]))
def test_any_receipt_parts_sum_exactly_to_the_receipt(p, amount, day, source):
    with transaction.atomic():
        txn = post_fee(p, amount=amount, paid_on=D(2025, 6, day), source=source, external_id=f"h:{amount}:{day}", reference="")
        entries = list(Entry.objects.filter(transaction=txn).select_related("account"))
        revenue = sum(e.credit for e in entries if e.account.code in ("5111", "5112"))
        assert revenue == amount  # the parts kept by the four levels add up to the receipt, not a đồng lost
        assert sum(e.debit for e in entries) == sum(e.credit for e in entries)
        transaction.set_rollback(True)


def test_balances_with_snapshots_equal_the_plain_sums(p):
    for i, (day, amount) in enumerate([(D(2025, 4, 3), 1_000_000), (D(2025, 5, 9), 2_000_003), (D(2025, 6, 1), 3_000_000),
                                       (D(2025, 7, 15), 401), (D(2025, 8, 2), 50_000)]):
        post_fee(p, amount=amount, paid_on=day, external_id=f"bank:{i}:1")
    services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=D(2025, 5, 20), lines=[("611", 700, 0), ("112", 0, 700)])
    services.period_close(actor=p.province_a_chair, unit=p.grassroots_a, month=D(2025, 6, 1))
    services.period_close(actor=p.province_a_chair, unit=p.province_a, month=D(2025, 5, 1))
    assert AccountBalance.objects.filter(account__unit=p.grassroots_a).count() == 3 * Account.objects.filter(unit=p.grassroots_a).count()
    for unit in (p.grassroots_a, p.province_a, p.national):
        for on in (D(2025, 3, 31), D(2025, 4, 3), D(2025, 5, 31), D(2025, 6, 30), D(2025, 7, 14), D(2025, 7, 15), D(2025, 12, 31)):
            rows = selectors.unit_balances(unit, on)
            for row in rows:
                plain = Entry.objects.filter(account=row["account"], date__lte=on).aggregate(d=Sum("debit"), c=Sum("credit"))
                assert (row["debit"], row["credit"]) == (plain["d"] or 0, plain["c"] or 0), (unit.code, on, row["account"].code)
                single = selectors.account_balance(row["account"], on)
                assert (single["debit"], single["credit"]) == (row["debit"], row["credit"])
    bank = Account.objects.get(unit=p.grassroots_a, code="112")
    assert selectors.account_balance(bank, D(2025, 8, 31))["balance"] == 1_000_000 + 2_000_003 + 3_000_000 + 401 + 50_000 - 700
    assert Period.objects.filter(unit=p.grassroots_a).count() == 3


def test_revenue_by_quarter_of_a_unit_and_its_subtree(p):
    post_fee(p, amount=1_000_000, paid_on=D(2025, 2, 3), external_id="bank:1:1")
    txn = post_fee(p, amount=400_000, paid_on=D(2025, 5, 3), external_id="bank:2:1", source="dues", reference="")
    services.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=D(2025, 5, 4), lines=[("112", 9, 0), ("518.gifts", 0, 9)])
    assert selectors.revenue_by_quarter(unit=p.grassroots_a, year=2025, subtree=False) == {
        (1, "union_fee"): 750_000, (2, "dues"): 280_000, (2, "other"): 9}
    assert selectors.revenue_by_quarter(unit=p.province_a, year=2025) == {(1, "union_fee"): 950_000, (2, "dues"): 380_000, (2, "other"): 9}
    assert selectors.revenue_by_quarter(unit=p.national, year=2025, subtree=False) == {(1, "union_fee"): 50_000, (2, "dues"): 20_000}
    services.transaction_reverse(actor=p.accountant_a, transaction=txn, date=D(2025, 7, 1))
    assert selectors.revenue_by_quarter(unit=p.grassroots_a, year=2025, subtree=False)[(3, "dues")] == -280_000
    assert selectors.revenue_by_quarter(unit=p.grassroots_a, year=2024) == {}
