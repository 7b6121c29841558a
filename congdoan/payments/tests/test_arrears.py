import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from congdoan.payments import services
from congdoan.payments.arrears import add_months, bucket_of, employer_arrears, month_table, unpaid_by_month
from congdoan.payments.selectors import arrears_overview, employer_months, filter_rows

D = datetime.date


@pytest.mark.parametrize("age,bucket", [(0, None), (1, "upto3"), (3, "upto3"), (4, "m3to6"), (6, "m3to6"), (7, "m6to12"),
                                        (12, "m6to12"), (13, "over12"), (40, "over12")])
def test_age_buckets(age, bucket):
    assert bucket_of(age) == bucket


def test_payments_cover_the_oldest_months_first():
    owed = {D(2024, 1, 1): 100, D(2024, 2, 1): 100, D(2024, 3, 1): 100, D(2025, 6, 1): 100}
    assert unpaid_by_month(owed, 150, D(2025, 6, 1)) == {D(2024, 2, 1): 50, D(2024, 3, 1): 100}
    figures = employer_arrears(1, owed, {D(2024, 3, 1): 150}, D(2025, 6, 1))
    assert figures.buckets == {"over12": 150} and figures.arrears == 150 and figures.balance == 250
    assert figures.oldest_bucket == "over12"


def test_the_current_month_is_not_yet_in_arrears():
    owed = {D(2025, 3, 1): 100, D(2025, 5, 1): 100, D(2025, 6, 1): 100}
    figures = employer_arrears(1, owed, {}, D(2025, 6, 1))
    assert figures.buckets == {"upto3": 200} and figures.balance == 300


def test_month_table_running_balance():
    rows = month_table({D(2025, 1, 1): 100, D(2025, 3, 1): 100}, {D(2025, 1, 1): 60}, D(2025, 4, 1))
    assert [(r["month"].month, r["owed"], r["paid"], r["balance"], r["unpaid"], r["bucket"]) for r in rows] == [
        (1, 100, 60, 40, 40, "upto3"), (2, 0, 0, 40, 0, None), (3, 100, 0, 140, 100, "upto3"), (4, 0, 0, 140, 0, None)]


@given(st.dictionaries(st.integers(0, 40), st.integers(1, 10**9), max_size=30), st.integers(0, 10**10), st.integers(0, 45))
def test_arrears_never_exceed_what_is_due_and_unpaid(owed_by_index, paid, as_of_index):
    base = D(2022, 1, 1)
    owed = {add_months(base, i): a for i, a in owed_by_index.items()}
    as_of = add_months(base, as_of_index)
    figures = employer_arrears(1, owed, {base: paid}, as_of)
    due = sum(a for m, a in owed.items() if m < as_of)
    assert 0 <= figures.arrears <= due
    assert figures.arrears == max(0, due - paid) or figures.arrears <= max(0, sum(owed.values()) - paid)
    assert figures.arrears == sum(unpaid_by_month(owed, paid, as_of).values())


@pytest.mark.django_db
def test_overview_of_a_subtree_with_buckets_and_rate(personas, account_a, fake_ledger):
    p = personas
    g1 = p.grassroots_a.pk
    for month in range(1, 7):
        fake_ledger.owed[(g1, D(2025, month, 1))] = 1_000_000
    fake_ledger.owed[(g1, D(2024, 3, 1))] = 500_000  # 15 months before June 2025
    fake_ledger.owed[(p.grassroots_b.pk, D(2025, 1, 1))] = 9_999_000  # another province: never counted for A
    fee = services.payer_find(actor=p.province_a_chair, key="2600123456")
    services.cash_receipt_create(actor=p.province_a_chair, unit=p.grassroots_a, payer=fee, payer_name="Công ty May",
                                 paid_on=D(2025, 3, 10), parts=[(D(2025, 1, 1), 1_000_000), (D(2025, 2, 1), 1_000_000)])
    overview = arrears_overview(user=p.province_a_chair, root=p.province_a, as_of=D(2025, 6, 1))
    totals = overview["totals"]
    assert totals["employers"] == 2 and totals["in_arrears"] == 1
    assert (totals["owed_year"], totals["paid_year"]) == (6_000_000, 2_000_000)
    assert round(totals["rate"], 1) == 33.3
    # paid 2,000,000 covers 03/2024 (500,000) and 01/2025, half of 02/2025; 02–05/2025 remain (06 not yet due)
    row = next(r for r in overview["rows"] if r["pk"] == g1)
    assert row["f"].buckets == {"m3to6": 500_000, "upto3": 3_000_000}
    assert totals["buckets"]["m3to6"] == {"amount": 500_000, "count": 1}
    assert [r["pk"] for r in filter_rows(overview["rows"], "m3to6")] == [g1]
    assert filter_rows(overview["rows"], "over12") == []
    assert [r["pk"] for r in filter_rows(overview["rows"], "", "song hong")] == [g1]
    months = employer_months(user=p.province_a_chair, employer=p.grassroots_a, as_of=D(2025, 6, 1))
    assert months[0]["month"] == D(2024, 3, 1) and months[-1]["balance"] == 6_500_000 - 2_000_000


@pytest.mark.django_db
def test_overview_is_scoped(personas, fake_ledger):
    p = personas
    fake_ledger.owed[(p.grassroots_a.pk, D(2025, 1, 1))] = 1_000_000
    overview = arrears_overview(user=p.accountant_a, root=p.grassroots_a, as_of=D(2025, 6, 1))
    assert [r["pk"] for r in overview["rows"]] == [p.grassroots_a.pk]
    overview = arrears_overview(user=p.province_b_chair, root=p.province_a, as_of=D(2025, 6, 1))
    assert overview["rows"] == [] and overview["totals"]["owed_year"] == 0
