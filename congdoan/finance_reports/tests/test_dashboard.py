"""The collection dashboard: its figures on a known world, every figure equal to the list it links
to, arrears by age, drilling down, scope, bad periods, and a query count that does not grow."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from congdoan.core.testing import make_member, make_user
from congdoan.finance.money import add_months, month_start
from congdoan.finance_reports.tests.conftest import FEE, D, declare, pay
from congdoan.organizations.services import unit_create
from congdoan.payments.choices import AGE_BUCKETS

pytestmark = pytest.mark.django_db
URL = "/finance-reports/"


def report_of(client, user, query="?period=2025"):
    client.force_login(user)
    response = client.get(URL + query)
    assert response.status_code == 200, response.content[:500]
    return response.context["report"]


def figures(c) -> dict:
    return {"fee_owed": c.fee_owed.value, "fee_paid": c.fee_paid.value, "dues_owed": c.dues_owed.value, "dues_paid": c.dues_paid.value,
            "grassroots": c.grassroots.value, "in_arrears": c.in_arrears.value, "arrears": c.arrears.value,
            "buckets": {a.measure: (a.value, n.value) for a, n in c.buckets if a.value or n.value}}


def test_figures_of_province_a(world, client):
    r = report_of(client, world.province_a_chair)
    assert r.root == world.province_a and r.period.key == "2025" and r.as_of == D(2025, 12, 1)
    # dues: member_a and member_a2, no salary recorded: the floor, 0.5 % of the base salary from 07/2025 (11,700 đ a month)
    assert figures(r.total) == {
        "fee_owed": 6 * FEE + 200_000, "fee_paid": 2_500_000, "dues_owed": 2 * 6 * 11_700, "dues_paid": 30_000, "grassroots": 2,
        "in_arrears": 2, "arrears": 6 * FEE + 200_000 - 2_500_000,
        # PA-G1 owes 06/2025 (age 6), 05–03/2025 and 1,500,000 of 02/2025 (ages 7–10); PA-G2 its 03/2025 (age 9)
        "buckets": {"m3to6": (FEE, 1), "m6to12": (3 * FEE + 1_500_000 + 200_000, 2)},
    }
    assert r.total.fee_rate_bp == 2_500_000 * 10_000 // (6 * FEE + 200_000)
    assert r.total.dues_rate_bp == 30_000 * 10_000 // (2 * 6 * 11_700)
    assert [b.unit.code for b in r.branches] == ["PA-U"] and figures(r.branches[0]) == figures(r.total)
    html = client.get(URL + "?period=2025").content.decode()
    assert "12.200.000 đ" in html and world.upper_a.name in html


def test_branches_and_drill_down(world, client):
    r = report_of(client, world.national_chair)
    assert r.root == world.national
    assert {b.unit.code: b.fee_owed.value for b in r.branches} == {"PA": 6 * FEE + 200_000, "PB": 1_000_000}
    assert r.total.fee_owed.value == sum(b.fee_owed.value for b in r.branches)
    assert r.total.arrears.value == sum(b.arrears.value for b in r.branches)
    pa = next(b for b in r.branches if b.unit.code == "PA")
    r = report_of(client, world.national_chair, pa.drill_url[len(URL):])
    assert r.root == world.province_a and [a.code for a in r.ancestors] == ["TLD"]
    r = report_of(client, world.national_chair, f"?unit={world.upper_a.pk}&period=2025")
    assert {b.unit.code: b.fee_owed.value for b in r.branches} == {"PA-G1": 6 * FEE, "PA-G2": 200_000}
    # a grassroots union: its own figures, no branches (sub-unions keep no books)
    r = report_of(client, world.province_a_chair, f"?unit={world.grassroots_a.pk}&period=2025")
    assert r.branches == [] and r.total.fee_owed.value == 6 * FEE and [a.code for a in r.ancestors] == ["PA", "PA-U"]


def test_a_period_is_a_month_a_quarter_or_a_year(world, client):
    assert report_of(client, world.province_a_chair, "?period=05/2025").total.fee_owed.value == FEE + 0
    r = report_of(client, world.province_a_chair, "?period=2025-Q1")
    assert (r.total.fee_owed.value, r.total.fee_paid.value, r.as_of) == (3 * FEE + 200_000, 2_500_000, D(2025, 3, 1))
    # as of 03/2025, 03 is not yet due: PA-G1 owes 02/2025 only in part (the payment covers 01 and 500,000 of 02)
    assert {a.measure: a.value for a, _n in r.total.buckets} == {"upto3": 1_500_000, "m3to6": 0, "m6to12": 0, "over12": 0}
    r = report_of(client, world.province_a_chair, "?period=2025-q2")
    assert r.total.fee_owed.value == 3 * FEE and r.total.fee_paid.value == 0


# --- every figure links to a list that shows the same number ------------------------------------------------

CASES = [("national_chair", None), ("province_a_chair", None), ("province_b_chair", None), ("accountant_a", None),
         ("national_chair", "upper_a"), ("province_a_chair", "grassroots_a")]


@pytest.mark.parametrize("who,unit", CASES)
@pytest.mark.parametrize("period", ["2025", "2025-Q1", "06/2025"])
def test_figures_equal_their_lists(world, client, who, unit, period):
    query = f"?period={period}" + (f"&unit={world.units[unit].pk}" if unit else "")
    r = report_of(client, world.users[who], query)
    linked = [f for f in r.figures if f.url]
    assert len(linked) == len(r.figures) >= 15
    for f in linked:
        response = client.get(f.url)
        assert response.status_code == 200, f.url
        shown = response.context["totals"][f.measure]
        assert shown == f.value, (str(f.label), f.url, shown, f.value)
        if f.measure == "count":
            assert response.context["page"].paginator.count == f.value, f.url
    assert sum(f.value for f in linked) > 0 or who == "province_b_chair" and period == "06/2025"


def test_the_payments_arrears_page_agrees(world, client):
    """Paid through payments (cash receipts posted to the ledger), both pages show the same arrears."""
    from congdoan.payments.matching import Payer
    from congdoan.payments.services import cash_receipt_create

    employer = Payer("employer", world.grassroots_a2.pk, world.grassroots_a2.pk, True)
    cash_receipt_create(actor=world.province_a_chair, unit=world.grassroots_a2, payer=employer, payer_name="Trường THCS Gia Cẩm",
                        paid_on=D(2025, 4, 10), parts=[(D(2025, 3, 1), 50_000)])
    r = report_of(client, world.province_a_chair, "?period=2025")
    theirs = client.get(f"/payments/arrears/?unit={world.province_a.pk}&as_of=12/2025").context["totals"]
    # payments counts the allocations its own pages made: PA-G1's receipt went straight to the ledger in this test
    pa_g2 = report_of(client, world.province_a_chair, f"?unit={world.grassroots_a2.pk}&period=2025").total
    theirs_g2 = client.get(f"/payments/arrears/?unit={world.grassroots_a2.pk}&as_of=12/2025").context["totals"]
    assert pa_g2.arrears.value == theirs_g2["arrears"] == 150_000
    for (amount, count), (key, *_rest) in zip(pa_g2.buckets, AGE_BUCKETS):
        assert (amount.value, count.value) == (theirs_g2["buckets"][key]["amount"], theirs_g2["buckets"][key]["count"])
    assert theirs["employers"] == r.total.grassroots.value


def test_arrears_buckets_by_age(personas, client):
    """Unpaid months of every age, as of 12/2025: 10/2025 (2 months), 07/2025 (5), 02/2025 (10), 10/2024 (14)."""
    p = personas
    for month in (D(2024, 10, 1), D(2025, 2, 1), D(2025, 7, 1), D(2025, 10, 1), D(2025, 12, 1)):
        declare(p.grassroots_b, month, fund=50_000_000)  # 1,000,000 đ each
    pay(p.grassroots_b, 400_000, D(2024, 10, 1))  # covers the oldest month first
    r = report_of(client, p.province_b_chair, "?period=2025")
    assert r.as_of == D(2025, 12, 1)
    assert {a.measure: (a.value, n.value) for a, n in r.total.buckets} == {
        "upto3": (1_000_000, 1), "m3to6": (1_000_000, 1), "m6to12": (1_000_000, 1), "over12": (600_000, 1)}
    assert r.total.arrears.value == 3_600_000  # 12/2025 itself is not yet due
    assert r.total.in_arrears.value == 1


# --- scope --------------------------------------------------------------------------------------------------

def test_outside_scope_is_404_and_b_sees_nothing_of_a(world, client):
    client.force_login(world.province_b_chair)
    for unit in (world.province_a, world.upper_a, world.grassroots_a, world.national):
        assert client.get(f"{URL}?unit={unit.pk}").status_code == 404
    assert client.get(f"{URL}?unit=987654").status_code == 404
    assert client.get(f"{URL}?unit={world.sub_union_a.pk}").status_code == 404
    html = client.get(URL + "?period=2025").content.decode()
    for marker in (world.province_a.name, world.grassroots_a.name, "Công ty May Sông Hồng", "PA-G1", "12.200.000"):
        assert marker not in html
    r = client.get(URL + "?period=2025").context["report"]
    assert r.root == world.province_b and r.total.fee_owed.value == 1_000_000
    assert client.get(URL + "?unit=abc&period=2025").status_code == 200  # malformed: the whole scope
    client.force_login(world.outsider)
    assert client.get(URL).status_code == 404
    client.force_login(world.member_user)
    assert client.get(URL).status_code == 404


def test_a_viewer_without_finance_sees_aggregates_without_links(world, client):
    viewer = make_user("committee_a", unit=world.province_a, role="committee_member")
    r = report_of(client, viewer)
    assert r.linked is False and not [f for f in r.figures if f.url]
    assert r.total.fee_owed.value == 6 * FEE + 200_000
    html = client.get(URL + "?period=2025").content.decode()
    assert "/finance-reports/employers/" not in html and "/finance-reports/receipts/" not in html
    for url in ("/finance-reports/employers/?period=2025", "/finance-reports/receipts/?period=2025",
                "/finance-reports/remittances/?period=2025", "/finance-reports/reminders/",
                f"/finance-reports/employers/?unit={world.province_a.pk}&period=2025&export=xlsx"):
        assert client.get(url).status_code == 404, url


# --- bad input ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("period,code", [
    ("2099", "period_in_future"), ("abc", "period_invalid"), ("13/2025", "period_invalid"), ("2025-Q5", "period_invalid"),
    ("1999", "period_invalid"), ("2025-05-01x", "period_invalid"), ("%00", "period_invalid"), ("x" * 30, "period_invalid"),
])
def test_a_bad_period_is_refused_with_its_code(world, client, period, code):
    client.force_login(world.province_a_chair)
    response = client.get(URL, {"period": period})
    assert response.status_code == 422
    assert response.context["error"].code == code and response.context["report"] is None
    assert response.context["error"].message in response.content.decode()


def test_next_month_is_in_the_future_but_this_month_is_not(world, client):
    client.force_login(world.province_a_chair)
    this_month = month_start(timezone.localdate())
    assert client.get(URL, {"period": f"{add_months(this_month, 1):%m/%Y}"}).context["error"].code == "period_in_future"
    response = client.get(URL, {"period": f"{this_month:%m/%Y}"})
    assert response.status_code == 200 and response.context["report"].as_of == this_month


# --- queries ------------------------------------------------------------------------------------------------

def grow(p, start: int, n: int):
    """``n`` upper-grassroots unions under province B, each with an employer that declared two months
    and paid part, and a member who paid dues; the first employer has a reduction (the plain arithmetic
    path of the arrears)."""
    from congdoan.finance.services import fee_relief_create

    for i in range(start, start + n):
        upper = unit_create(actor=None, parent=p.province_b, level="upper_grassroots", code=f"PB-X{i}", name=f"Công đoàn KCN {i}")
        employer = unit_create(actor=None, parent=upper, level="grassroots", code=f"PB-X{i}-G", name=f"CĐCS Công ty {i}",
                               employer_type="domestic_private")
        member = make_member(employer, joined_on=datetime.date(2020, 1, 1))
        declare(employer, D(2025, 3, 1))
        declare(employer, D(2025, 4, 1))
        pay(employer, 700_000, D(2025, 3, 1))
        pay(employer, 25_000, D(2025, 3, 1), source="dues", member=member)
        if i == 0:
            fee_relief_create(actor=p.national_chair, unit=employer, kind="reduction", first_month=D(2025, 4, 1),
                              last_month=D(2025, 4, 1), reduction_bp=5_000, decision="QĐ 1/2025")


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


@pytest.mark.parametrize("path", ["", "employers/", "receipts/", "revenue/", "remittances/", "reminders/"])
def test_query_count_does_not_grow_with_branches(personas, client, path):
    p = personas
    grow(p, 0, 1)
    client.force_login(p.province_b_chair)
    url = f"{URL}{path}?unit={p.province_b.pk}&period=2025"
    count_queries(client, url)  # warm the caches (content types, the session)
    one = count_queries(client, url)
    grow(p, 1, 49)
    fifty = count_queries(client, url)
    assert fifty == one, f"{url}: {one} queries with 1 branch, {fifty} with 50"
    if path == "":
        assert len(client.get(url).context["report"].branches) == 51  # PB-U and the 50 new ones
