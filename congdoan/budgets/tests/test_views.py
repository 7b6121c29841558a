"""The pages: thin views over the services, scoped (404 outside), constant query counts, Vietnamese amounts."""

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from python_calamine import CalamineWorkbook

from congdoan.accounts.models import User
from congdoan.audit.models import AuditEntry
from congdoan.budgets import services
from congdoan.budgets.choices import BudgetStatus, ExpenseStatus
from congdoan.budgets.models import Budget, BudgetLine, Expense
from congdoan.budgets.tests.conftest import YEAR, cat, day, make_budget, pdf, receive, record
from congdoan.core.testing import make_user
from congdoan.members.models import Member
from congdoan.organizations.services import unit_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(personas):
    """A's budget and expenses (one approved, one waiting), A2's, and B's own."""
    p = personas
    p.units["budget_a"] = make_budget(p, amounts={"activities": 10_000_000, "visits": 2_000_000})
    p.units["expense_a"] = services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=1_500_000, spent_on=day(2)))
    p.units["waiting_a"] = record(p, category="visits", amount=700_000, spent_on=day(5), description="Thăm đoàn viên ốm")
    make_budget(p, unit=p.grassroots_a2, drafter=p.province_a_chair, approver=p.national_chair, amounts={"training": 3_000_000})
    services.expense_approve(actor=p.national_chair, expense=record(
        p, actor=p.province_a_chair, unit=p.grassroots_a2, category="training", amount=2_000_000, spent_on=day(8)))
    make_budget(p, unit=p.grassroots_b, drafter=p.province_b_chair, approver=p.national_chair, amounts={"other": 9_000_000})
    p.units["expense_b"] = services.expense_approve(actor=p.national_chair, expense=record(
        p, actor=p.province_b_chair, unit=p.grassroots_b, category="other", amount=4_444_444, spent_on=day(4),
        description="Chi hội nghị Bình An"))
    receive(p, amount=300_000, paid_on=day(2))                       # Q1 dues to A
    receive(p, amount=5_000_000, paid_on=day(7), source="union_fee")  # Q3 union fee to A
    receive(p, unit=p.grassroots_a2, amount=800_000, paid_on=day(11))  # Q4 dues to A2
    return p


def body(response) -> str:
    return response.content.decode()


def test_every_page_renders_for_the_province_chair(world, login):
    client = login(world.province_a_chair)
    urls = [
        reverse("budgets:overview") + f"?year={YEAR}", reverse("budgets:export") + f"?year={YEAR}",
        reverse("budgets:budget_list"), reverse("budgets:budget_detail", kwargs={"budget": world.budget_a.pk}),
        reverse("budgets:expense_list"), reverse("budgets:expense_create"),
        reverse("budgets:expense_detail", kwargs={"expense": world.expense_a.pk}),
        reverse("budgets:expense_document", kwargs={"expense": world.expense_a.pk}),
        reverse("budgets:disclosure") + f"?year={YEAR}",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    for url in urls[:1] + urls[2:3] + urls[4:5] + urls[-1:]:
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200 and "<html" not in body(response), url


def test_record_an_expense_with_a_vietnamese_amount_and_its_document(world, login, media):
    client = login(world.accountant_a)
    response = client.post(reverse("budgets:expense_create"), {
        "unit": world.grassroots_a.pk, "category": cat("activities").pk, "amount": "1.234.567", "spent_on": f"20/03/{YEAR}",
        "description": "Hội thao công nhân", "payee": "", "paid_from": "bank", "document_number": "PC-07",
        "document_date": f"{YEAR}-03-20", "document": pdf("PC-07.pdf")})
    expense = Expense.objects.get(document_number="PC-07")
    assert response.status_code == 302 and response["Location"] == reverse("budgets:expense_detail", kwargs={"expense": expense.pk})
    assert (expense.amount, expense.spent_on, expense.status) == (1_234_567, day(3, 20), ExpenseStatus.RECORDED)
    download = client.get(reverse("budgets:expense_document", kwargs={"expense": expense.pk}))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")
    assert 'filename="PC-07.pdf"' in download["Content-Disposition"]


@pytest.mark.parametrize("amount,shown", [("0", "0"), ("-5.000", "-5.000"), ("12,5", "12,5"), ("mười nghìn", "mười nghìn"),
                                          ("9.000.000", "9.000.000")])
def test_bad_amounts_on_the_form_write_nothing(world, login, media, amount, shown):
    client = login(world.accountant_a)
    before = (Expense.objects.count(), AuditEntry.objects.count(), sorted(p.name for p in media.rglob("*") if p.is_file()))
    response = client.post(reverse("budgets:expense_create"), {
        "unit": world.grassroots_a.pk, "category": cat("activities").pk, "amount": amount, "spent_on": f"{YEAR}-03-20",
        "description": "Hội thao", "paid_from": "bank", "document_number": "PC-08", "document_date": f"{YEAR}-03-20",
        "document": pdf()})
    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    assert (Expense.objects.count(), AuditEntry.objects.count(), sorted(p.name for p in media.rglob("*") if p.is_file())) == before
    if amount == "9.000.000":  # 1.5 M of 10 M spent: the message states the amounts
        assert "9.000.000 đ" in body(response) and "8.500.000 đ" in body(response)


def test_a_future_date_on_the_form_is_refused(world, login):
    from django.utils import timezone

    client = login(world.accountant_a)
    future = timezone.localdate().replace(year=timezone.localdate().year + 1)
    response = client.post(reverse("budgets:expense_create"), {
        "unit": world.grassroots_a.pk, "category": cat("activities").pk, "amount": "100.000", "spent_on": future.isoformat(),
        "description": "Hội thao", "paid_from": "bank", "document_number": "PC-09", "document_date": future.isoformat(),
        "document": pdf()})
    assert response.status_code == 200 and response.context["form"].errors["spent_on"]
    assert not Expense.objects.filter(document_number="PC-09").exists()


def test_the_recorder_cannot_approve_on_the_page_and_the_chair_can(world, login):
    p = world
    expense = record(p, actor=p.grassroots_a_chair, amount=100_000)
    client = login(p.grassroots_a_chair)
    response = client.post(reverse("budgets:expense_approve", kwargs={"expense": expense.pk}), follow=True)
    assert response.status_code == 200 and Expense.objects.get(pk=expense.pk).status == ExpenseStatus.RECORDED
    assert any(m.level_tag == "error" for m in response.context["messages"])
    client = login(p.province_a_chair)
    client.post(reverse("budgets:expense_approve", kwargs={"expense": expense.pk}))
    assert Expense.objects.get(pk=expense.pk).status == ExpenseStatus.APPROVED
    # the accountant sees no approve button; the chair does on a waiting expense
    html = body(login(p.accountant_a).get(reverse("budgets:expense_detail", kwargs={"expense": p.waiting_a.pk})))
    assert reverse("budgets:expense_approve", kwargs={"expense": p.waiting_a.pk}) not in html
    html = body(login(p.grassroots_a_chair).get(reverse("budgets:expense_detail", kwargs={"expense": p.waiting_a.pk})))
    assert reverse("budgets:expense_approve", kwargs={"expense": p.waiting_a.pk}) in html


def test_cancel_on_the_page_makes_a_reversal(world, login):
    client = login(world.grassroots_a_chair)
    url = reverse("budgets:expense_cancel", kwargs={"expense": world.expense_a.pk})
    client.post(url, {"reason": ""})
    assert not Expense.objects.filter(reverses=world.expense_a).exists()
    response = client.post(url, {"reason": "Chi nhầm hạng mục"})
    reversal = Expense.objects.get(reverses=world.expense_a)
    assert response["Location"] == reverse("budgets:expense_detail", kwargs={"expense": reversal.pk})
    assert reversal.amount == -1_500_000 and reversal.reason == "Chi nhầm hạng mục"


def test_draft_fill_and_approve_a_budget_on_the_pages(world, login):
    p = world
    client = login(p.accountant_a)
    response = client.post(reverse("budgets:budget_list"), {"unit": p.grassroots_a.pk, "year": YEAR + 1, "note": "Dự toán năm sau"})
    budget = Budget.objects.get(unit=p.grassroots_a, year=YEAR + 1)
    assert response["Location"] == reverse("budgets:budget_detail", kwargs={"budget": budget.pk})
    url = response["Location"]
    response = client.post(url, {f"category_{cat('activities').pk}": "12.000.000", f"category_{cat('visits').pk}": "-1"})
    assert response.status_code == 200 and not budget.lines.exists()
    client.post(url, {f"category_{cat('activities').pk}": "12.000.000", f"category_{cat('visits').pk}": "0"})
    assert dict(budget.lines.values_list("category__code", "amount")) == {"activities": 12_000_000}
    client.post(reverse("budgets:budget_approve", kwargs={"budget": budget.pk}))  # the accountant is no approver
    assert Budget.objects.get(pk=budget.pk).status == BudgetStatus.DRAFT
    login(p.grassroots_a_chair).post(reverse("budgets:budget_approve", kwargs={"budget": budget.pk}))
    assert Budget.objects.get(pk=budget.pk).status == BudgetStatus.APPROVED
    # locked: saving amounts does nothing but say so
    response = login(p.accountant_a).post(url, {f"category_{cat('activities').pk}": "1"}, follow=True)
    assert BudgetLine.objects.get(budget=budget).amount == 12_000_000
    response = client.post(reverse("budgets:budget_revise", kwargs={"budget": budget.pk}), {"note": "Điều chỉnh"})
    revision = Budget.objects.get(unit=p.grassroots_a, year=YEAR + 1, version=2)
    assert response["Location"] == reverse("budgets:budget_detail", kwargs={"budget": revision.pk})


def test_budget_against_actual_for_a_unit_and_rolled_up(world, login):
    client = login(world.province_a_chair)
    response = client.get(reverse("budgets:overview"), {"unit": world.grassroots_a.pk, "year": YEAR, "only_unit": "1"})
    report = response.context["report"]
    assert (report["totals"]["budgeted"], report["totals"]["actual"]) == (12_000_000, 1_500_000)  # the waiting one does not count
    row = next(r for r in report["rows"] if r["category"].code == "activities")
    assert (row["budgeted"], row["actual"], row["left"], row["percent"]) == (10_000_000, 1_500_000, 8_500_000, 15.0)

    response = client.get(reverse("budgets:overview"), {"year": YEAR})  # province A, with the units below
    report = response.context["report"]
    assert response.context["unit"] == world.province_a
    assert (report["totals"]["budgeted"], report["totals"]["actual"]) == (15_000_000, 3_500_000)
    assert [(c["unit"].code, c["budgeted"], c["actual"]) for c in report["children"]] == [("PA-U", 15_000_000, 3_500_000)]
    html = body(response)
    assert "15.000.000 đ" in html and "4.444.444" not in html

    response = client.get(reverse("budgets:overview"), {"unit": world.upper_a.pk, "year": YEAR})
    assert [(c["unit"].code, c["actual"]) for c in response.context["report"]["children"]] == [("PA-G1", 1_500_000), ("PA-G2", 2_000_000)]
    response = client.get(reverse("budgets:overview"), {"unit": world.grassroots_b.pk, "year": YEAR})
    assert response.status_code == 404


def test_export_budget_against_actual_to_xlsx(world, login):
    client = login(world.province_a_chair)
    response = client.get(reverse("budgets:export"), {"unit": world.upper_a.pk, "year": YEAR})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    rows = workbook.get_sheet_by_index(0).to_python()
    totals = rows[-1]
    assert totals[1:4] == [15_000_000, 3_500_000, 11_500_000]
    by_unit = workbook.get_sheet_by_index(1).to_python()
    assert [r[0] for r in by_unit[1:]] == [world.grassroots_a.name, world.grassroots_a2.name]


# -- transparency -----------------------------------------------------------------------------------------
def test_a_member_sees_his_unit_quarter_by_quarter_and_nothing_else(world, login, revenue_from_payments):
    client = login(world.member_user)
    url = reverse("budgets:disclosure")
    response = client.get(url, {"year": YEAR})
    assert response.status_code == 200 and response.context["unit"] == world.grassroots_a and response.context["as_member"]
    quarters = response.context["report"]["quarters"]
    assert [(q["revenue"], q["spending"]) for q in quarters] == [(300_000, 1_500_000), (0, 0), (5_000_000, 0), (0, 0)]
    html = body(response)
    assert "5.000.000 đ" in html and "1.500.000 đ" in html and ">800.000 đ" not in html and "2.000.000 đ" not in html
    for other in (world.grassroots_a2, world.upper_a, world.province_a, world.grassroots_b):
        assert client.get(url, {"unit": other.pk, "year": YEAR}).status_code == 404
    # no management page opens to a plain member
    for name in ("budgets:overview", "budgets:budget_list", "budgets:expense_list", "budgets:expense_create"):
        assert client.get(reverse(name)).status_code == 404
    assert client.get(reverse("budgets:expense_detail", kwargs={"expense": world.expense_a.pk})).status_code == 404


def test_another_unit_member_sees_only_his_own(world, login, revenue_from_payments):
    user = make_user("member_a2_login")
    Member.objects.filter(pk=world.member_a2.pk).update(user=user)
    client = login(User.objects.get(pk=user.pk))
    response = client.get(reverse("budgets:disclosure"), {"year": YEAR})
    assert response.context["unit"] == world.grassroots_a2
    assert [q["revenue"] for q in response.context["report"]["quarters"]] == [0, 0, 0, 800_000]
    assert client.get(reverse("budgets:disclosure"), {"unit": world.grassroots_a.pk}).status_code == 404
    Member.objects.filter(pk=world.member_a2.pk).update(status="left")
    assert client.get(reverse("budgets:disclosure")).status_code == 404


def test_officials_see_the_roll_up_of_their_subtree(world, login, revenue_from_payments):
    client = login(world.province_a_chair)
    response = client.get(reverse("budgets:disclosure"), {"year": YEAR})
    assert response.context["unit"] == world.province_a and not response.context["as_member"]
    assert response.context["report"]["totals"]["revenue"] == 6_100_000
    assert response.context["report"]["totals"]["spending"] == 3_500_000
    response = client.get(reverse("budgets:disclosure"), {"year": YEAR, "unit": world.grassroots_a2.pk})
    assert response.context["report"]["totals"]["spending"] == 2_000_000
    client = login(world.province_b_chair)
    assert client.get(reverse("budgets:disclosure"), {"unit": world.grassroots_a.pk}).status_code == 404
    assert login(world.outsider).get(reverse("budgets:disclosure")).status_code == 404


# -- scope -------------------------------------------------------------------------------------------------
def _state():
    return (list(Budget.objects.order_by("pk").values_list("pk", "status", "version")),
            list(Expense.objects.order_by("pk").values_list("pk", "status", "amount", "cancelled_at")), AuditEntry.objects.count())


def test_object_pages_of_a_are_404_for_others(world, client):
    objects = {"budget": world.budget_a.pk, "expense": world.waiting_a.pk}
    names = ["budget_detail", "budget_approve", "budget_revise", "expense_detail", "expense_approve", "expense_cancel",
             "expense_document"]
    before = _state()
    for who in ("province_b_chair", "outsider", "member_user"):
        client.force_login(world.users[who])
        for name in names:
            key = "budget" if name.startswith("budget") else "expense"
            url = reverse(f"budgets:{name}", kwargs={key: objects[key]})
            assert client.get(url).status_code in (404, 405), f"{who} GET {url}"
            response = client.post(url, {"reason": "x", f"category_{cat('visits').pk}": "1"})
            assert response.status_code == 404, f"{who} POST {url}"
    assert _state() == before


def test_lists_of_b_show_nothing_of_a(world, login):
    client = login(world.province_b_chair)
    for url in (reverse("budgets:expense_list"), reverse("budgets:budget_list"), reverse("budgets:overview") + f"?year={YEAR}",
                reverse("budgets:disclosure") + f"?year={YEAR}", reverse("budgets:expense_create")):
        html = body(client.get(url))
        assert world.grassroots_a.name not in html and "PA-G1" not in html and "1.500.000" not in html, url
    response = client.get(reverse("budgets:expense_list"))
    assert [e.pk for e in response.context["page"]] == [world.expense_b.pk]
    assert client.get(reverse("budgets:expense_list"), {"unit": world.grassroots_a.pk}).status_code == 404
    # recording into A is refused by the form (A's unit is no choice) and writes nothing
    before = _state()
    response = client.post(reverse("budgets:expense_create"), {
        "unit": world.grassroots_a.pk, "category": cat("activities").pk, "amount": "100", "spent_on": f"{YEAR}-03-20",
        "description": "x", "paid_from": "bank", "document_number": "X", "document_date": f"{YEAR}-03-20", "document": pdf()})
    assert response.status_code == 200 and response.context["form"].errors["unit"] and _state() == before
    response = client.post(reverse("budgets:budget_list"), {"unit": world.grassroots_a.pk, "year": YEAR + 1})
    assert response.status_code == 200 and _state() == before


def test_a_committee_member_reads_but_does_not_record(world, login):
    reader = make_user("committee_a", unit=world.grassroots_a, role="committee_member")
    client = login(reader)
    assert client.get(reverse("budgets:expense_list")).status_code == 200
    assert client.get(reverse("budgets:expense_create")).status_code == 404
    html = body(client.get(reverse("budgets:budget_list")))
    assert "Draft a budget" not in html and 'name="year"' in html
    assert client.post(reverse("budgets:budget_list"), {"unit": world.grassroots_a.pk, "year": YEAR + 1}).status_code == 404
    url = reverse("budgets:expense_cancel", kwargs={"expense": world.waiting_a.pk})
    assert client.post(url, {"reason": "x"}).status_code == 404


def test_malformed_query_strings(world, login):
    client = login(world.province_a_chair)
    for name in ("overview", "export", "budget_list", "expense_list", "disclosure"):
        response = client.get(reverse(f"budgets:{name}") + "?unit=abc&year=zz&status=zz&category=zz&page=abc&only_unit=%00")
        assert response.status_code == 200, name


# -- query counts ----------------------------------------------------------------------------------------------
def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_pages_cost_the_same_for_1_and_50_rows(personas, login):
    p = personas
    make_budget(p, amounts={"activities": 900_000_000})
    services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=1_000))
    client = login(p.province_a_chair)
    urls = [reverse("budgets:expense_list"), reverse("budgets:budget_list"), reverse("budgets:overview") + f"?year={YEAR}",
            reverse("budgets:disclosure") + f"?year={YEAR}", reverse("budgets:overview") + f"?unit={p.upper_a.pk}&year={YEAR}"]
    one = [_queries(client, url) for url in urls]

    activities = cat("activities")
    for i in range(50):
        unit = unit_create(actor=None, parent=p.upper_a, level="grassroots", code=f"PA-X{i:02d}", name=f"Công đoàn cơ sở X{i}")
        budget = Budget.objects.create(unit=unit, year=YEAR - (i % 2), status=BudgetStatus.APPROVED, drafted_by=p.accountant_a,
                                       approved_by=p.grassroots_a_chair)
        BudgetLine.objects.create(budget=budget, category=activities, amount=1_000_000 + i)
        Expense.objects.create(unit=unit, category=activities, year=YEAR, spent_on=day(1 + i % 12), amount=1_000 + i,
                               description=f"Chi {i}", recorded_by=p.accountant_a, status=ExpenseStatus.APPROVED,
                               approved_by=p.grassroots_a_chair)
    many = [_queries(client, url) for url in urls]
    assert many == one
    response = client.get(reverse("budgets:overview") + f"?unit={p.upper_a.pk}&year={YEAR}")
    assert len(response.context["report"]["children"]) == 51
    assert client.get(reverse("budgets:expense_list")).context["page"].paginator.count == 51
