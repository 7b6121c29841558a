"""The rules of budgets and spending, through the services (the pages call the same functions)."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.utils import timezone, translation

from congdoan.audit.models import AuditEntry
from congdoan.budgets import access, ledger, services
from congdoan.budgets.choices import BudgetStatus, ExpenseKind, ExpenseStatus
from congdoan.budgets.models import Budget, BudgetLine, Category, Expense
from congdoan.budgets.tests.conftest import YEAR, cat, day, make_budget, record
from congdoan.core.errors import DomainError, NotFoundInScope
from congdoan.core.testing import make_user
from congdoan.organizations.models import Unit

pytestmark = pytest.mark.django_db


def state():
    """Everything budgets writes, to show a refusal wrote nothing."""
    return (
        list(Budget.objects.order_by("pk").values_list("pk", "status", "version", "approved_by_id", "changed_by_id")),
        list(BudgetLine.objects.order_by("pk").values_list("pk", "amount")),
        list(Expense.objects.order_by("pk").values_list("pk", "status", "amount", "posted", "cancelled_at")),
        AuditEntry.objects.filter(object_type__startswith="budgets.").count(),
    )


def refused(code, func, **kwargs):
    before = state()
    with pytest.raises(DomainError) as info:
        func(**kwargs)
    assert info.value.code == code, info.value.message
    assert state() == before, "a refused call wrote something"
    return info.value


def files_in(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


# -- categories -------------------------------------------------------------------------------------------
def test_categories_are_seeded_as_data():
    codes = list(Category.objects.values_list("code", flat=True))
    assert codes == ["salary", "allowance", "administration", "activities", "training", "visits", "hardship", "other"]
    with translation.override("en"):
        assert cat("visits").label == "Visits to members"
    with translation.override("vi"):  # shown through the catalogue
        assert cat("visits").label != "Visits to members"


# -- budgets ---------------------------------------------------------------------------------------------
def test_budget_is_drafted_then_approved_by_a_chair_who_did_not_draft_it(personas):
    p = personas
    budget = services.budget_draft(actor=p.accountant_a, unit=p.grassroots_a, year=YEAR)
    assert (budget.status, budget.version) == (BudgetStatus.DRAFT, 1)
    services.budget_lines_save(actor=p.accountant_a, budget=budget, amounts={cat("activities"): 10_000_000, cat("training"): 0})
    assert dict(budget.lines.values_list("category__code", "amount")) == {"activities": 10_000_000}

    refused("not_approver", services.budget_approve, actor=p.accountant_a, budget=budget)
    services.budget_approve(actor=p.grassroots_a_chair, budget=budget)
    budget.refresh_from_db()
    assert budget.status == BudgetStatus.APPROVED and budget.approved_by == p.grassroots_a_chair
    actions = list(AuditEntry.objects.filter(object_type="budgets.budget", object_id=str(budget.pk))
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["budget.drafted", "budget.lines_changed", "budget.approved"]


def test_the_drafter_or_the_last_editor_may_not_approve(personas):
    p = personas
    budget = services.budget_draft(actor=p.grassroots_a_chair, unit=p.grassroots_a, year=YEAR)
    services.budget_lines_save(actor=p.grassroots_a_chair, budget=budget, amounts={cat("activities"): 1_000_000})
    refused("same_person", services.budget_approve, actor=p.grassroots_a_chair, budget=budget)

    other = make_budget(p, unit=p.grassroots_a2, drafter=p.province_a_chair, approver=False,
                        amounts={"visits": 500_000})
    # the province chair drafted it; the upper chair changes an amount: neither may approve
    upper_chair = make_user("upper_a_chair", unit=p.upper_a, role="chair")
    services.budget_lines_save(actor=upper_chair, budget=other, amounts={cat("visits"): 600_000})
    refused("same_person", services.budget_approve, actor=upper_chair, budget=other)
    refused("same_person", services.budget_approve, actor=p.province_a_chair, budget=other)
    services.budget_approve(actor=p.national_chair, budget=other)


def test_an_approved_budget_is_locked_and_a_revision_is_a_new_version(personas):
    p = personas
    v1 = make_budget(p)
    refused("budget_locked", services.budget_lines_save, actor=p.accountant_a, budget=v1, amounts={cat("activities"): 1})
    refused("budget_exists", services.budget_draft, actor=p.accountant_a, unit=p.grassroots_a, year=YEAR)

    v2 = services.budget_revise(actor=p.accountant_a, budget=v1, note="Bổ sung kinh phí thăm hỏi")
    assert (v2.version, v2.status, v2.revises_id) == (2, BudgetStatus.DRAFT, v1.pk)
    assert dict(v2.lines.values_list("category__code", "amount")) == {"activities": 10_000_000, "visits": 2_000_000}
    refused("draft_exists", services.budget_revise, actor=p.accountant_a, budget=v1)
    services.budget_lines_save(actor=p.accountant_a, budget=v2, amounts={cat("visits"): 5_000_000})

    # v1 stays in force until v2 is approved
    _b, budgeted, _spent = services.budget_room(unit=p.grassroots_a, category=cat("visits"), year=YEAR)
    assert budgeted == 2_000_000
    services.budget_approve(actor=p.grassroots_a_chair, budget=v2)
    v1.refresh_from_db()
    assert v1.status == BudgetStatus.SUPERSEDED
    assert services.budget_room(unit=p.grassroots_a, category=cat("visits"), year=YEAR)[1] == 5_000_000
    assert dict(v1.lines.values_list("category__code", "amount"))["visits"] == 2_000_000  # the old version is unchanged


def test_a_revision_cannot_plan_less_than_is_already_spent(personas):
    p = personas
    v1 = make_budget(p)
    services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=4_000_000))
    v2 = services.budget_revise(actor=p.accountant_a, budget=v1)
    services.budget_lines_save(actor=p.accountant_a, budget=v2, amounts={cat("activities"): 3_000_000})
    error = refused("below_actual", services.budget_approve, actor=p.grassroots_a_chair, budget=v2)
    assert "3.000.000 đ" in error.message and "4.000.000 đ" in error.message


def test_bad_budget_input(personas):
    p = personas
    refused("year_invalid", services.budget_draft, actor=p.accountant_a, unit=p.grassroots_a, year=1999)
    refused("year_invalid", services.budget_draft, actor=p.accountant_a, unit=p.grassroots_a, year=timezone.localdate().year + 2)
    budget = services.budget_draft(actor=p.accountant_a, unit=p.grassroots_a, year=YEAR)
    refused("draft_exists", services.budget_draft, actor=p.accountant_a, unit=p.grassroots_a, year=YEAR)
    refused("amount_negative", services.budget_lines_save, actor=p.accountant_a, budget=budget, amounts={cat("visits"): -1})
    refused("amount_invalid", services.budget_lines_save, actor=p.accountant_a, budget=budget, amounts={cat("visits"): "1.234.567"})
    refused("amount_invalid", services.budget_lines_save, actor=p.accountant_a, budget=budget, amounts={cat("visits"): 12.5})
    refused("budget_empty", services.budget_approve, actor=p.grassroots_a_chair, budget=budget)
    # half a list is not written when a later amount is wrong
    refused("amount_negative", services.budget_lines_save, actor=p.accountant_a, budget=budget,
            amounts={cat("activities"): 5_000_000, cat("visits"): -5})


def test_budgets_outside_scope_and_of_dissolved_units(personas):
    p = personas
    with pytest.raises(NotFoundInScope):
        services.budget_draft(actor=p.province_b_chair, unit=p.grassroots_a, year=YEAR)
    with pytest.raises(NotFoundInScope):
        services.budget_draft(actor=p.outsider, unit=p.grassroots_a, year=YEAR)
    draft = make_budget(p, approver=False)
    with pytest.raises(NotFoundInScope):
        services.budget_approve(actor=p.province_b_chair, budget=draft)
    with pytest.raises(NotFoundInScope):
        services.budget_lines_save(actor=p.province_b_chair, budget=draft, amounts={cat("visits"): 1})
    Unit.objects.filter(pk=p.grassroots_a2.pk).update(status="dissolved", closed_on=day(1))
    refused("unit_dissolved", services.budget_draft, actor=p.province_a_chair, unit=p.grassroots_a2, year=YEAR)
    Unit.objects.filter(pk=p.grassroots_a.pk).update(status="dissolved", closed_on=day(1))
    refused("unit_dissolved", services.budget_approve, actor=p.province_a_chair, budget=draft)


# -- expenses ---------------------------------------------------------------------------------------------
def test_an_expense_is_recorded_by_the_accountant_and_approved_by_the_chair(personas, media, no_finance):
    p = personas
    make_budget(p)
    expense = record(p, amount=1_500_000)
    assert (expense.status, expense.year, expense.kind, expense.posted) == (ExpenseStatus.RECORDED, YEAR, ExpenseKind.EXPENSE, False)
    assert expense.document_name == "phieu-chi-PC01.pdf"
    stored = media / expense.document.name
    assert stored.is_file() and stored.read_bytes().startswith(b"%PDF") and str(expense.document.name).startswith("budgets/documents/")

    services.expense_approve(actor=p.grassroots_a_chair, expense=expense)
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.APPROVED and expense.approved_by == p.grassroots_a_chair
    assert expense.posted is False  # finance is not installed yet: it waits for the ledger
    assert services.budget_room(unit=p.grassroots_a, category=cat("activities"), year=YEAR)[2] == 1_500_000
    assert list(AuditEntry.objects.filter(object_type="budgets.expense").order_by("id").values_list("action", flat=True)) == [
        "expense.recorded", "expense.approved"]


def test_an_expense_approved_by_its_recorder_is_refused(personas):
    p = personas
    make_budget(p)
    expense = record(p, actor=p.grassroots_a_chair)  # the chair records it himself
    refused("same_person", services.expense_approve, actor=p.grassroots_a_chair, expense=expense)
    # another chair above may approve it
    services.expense_approve(actor=p.province_a_chair, expense=expense)


def test_only_an_approver_approves(personas):
    p = personas
    make_budget(p)
    expense = record(p)
    vice = make_user("vice_a", unit=p.grassroots_a, role="vice_chair")
    refused("not_approver", services.expense_approve, actor=vice, expense=expense)
    with pytest.raises(NotFoundInScope):
        services.expense_approve(actor=p.province_b_chair, expense=expense)
    assert access.approver_paths(p.accountant_a) == [] and access.approver_paths(p.grassroots_a_chair) == [p.grassroots_a.path]


def test_an_expense_that_would_overdraw_the_budget_is_refused_with_the_amounts(personas, media):
    p = personas
    make_budget(p, amounts={"activities": 10_000_000, "visits": 2_000_000})
    services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=9_000_000))
    error = refused("budget_overdrawn", record, personas=p, amount=1_234_567)
    assert error.params == {"amount": 1_234_567, "budgeted": 10_000_000, "spent": 9_000_000, "left": 1_000_000}
    for shown in ("1.234.567 đ", "10.000.000 đ", "9.000.000 đ", "1.000.000 đ"):
        assert shown in error.message
    assert len(files_in(media)) == 1, "the refused expense left its document behind"
    # a category the budget does not plan has nothing to spend
    refused("budget_overdrawn", record, personas=p, category="training", amount=1)
    # exactly what is left fits
    record(p, amount=1_000_000)


def test_approval_checks_the_budget_again(personas):
    """Two expenses that each fit when recorded cannot both be approved if together they do not."""
    p = personas
    make_budget(p, amounts={"visits": 2_000_000})
    first = record(p, category="visits", amount=1_500_000)
    second = record(p, category="visits", amount=1_000_000)
    services.expense_approve(actor=p.grassroots_a_chair, expense=first)
    error = refused("budget_overdrawn", services.expense_approve, actor=p.grassroots_a_chair, expense=second)
    assert "500.000 đ" in error.message


def test_no_budget_no_spending(personas):
    p = personas
    refused("no_budget", record, personas=p)
    make_budget(p, approver=False)  # a draft is not a budget yet
    refused("no_budget", record, personas=p)
    # another year's budget does not count
    make_budget(p, unit=p.grassroots_a2, drafter=p.province_a_chair, approver=p.national_chair)
    refused("no_budget", record, personas=p, unit=p.grassroots_a2, actor=p.province_a_chair, spent_on=day(3, year=YEAR - 1))


@pytest.mark.parametrize("amount,code", [(0, "amount_zero"), (-1_000, "amount_negative"), (1_500_000.0, "amount_invalid"),
                                         ("1.234.567", "amount_invalid"), (True, "amount_invalid"), (None, "amount_invalid")])
def test_bad_amounts_are_refused(personas, media, amount, code):
    make_budget(personas)
    refused(code, record, personas=personas, amount=amount)
    assert files_in(media) == []


def test_dates_in_the_future_are_refused(personas, media):
    p = personas
    make_budget(p, year=timezone.localdate().year)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    refused("date_future", record, personas=p, spent_on=tomorrow, document_date=timezone.localdate())
    refused("date_future", record, personas=p, spent_on=timezone.localdate(), document_date=tomorrow)
    refused("required", record, personas=p, spent_on=timezone.localdate(), document_date=None)
    assert files_in(media) == []


def test_expenses_outside_scope_or_for_dissolved_units(personas, media):
    p = personas
    make_budget(p)
    with pytest.raises(NotFoundInScope):
        record(p, actor=p.province_b_chair)
    with pytest.raises(NotFoundInScope):
        record(p, actor=p.outsider)
    staff = make_user("staff_a", unit=p.grassroots_a, role="staff")  # may view and change members, not record money
    with pytest.raises(NotFoundInScope):
        record(p, actor=staff)
    expense = record(p)
    Unit.objects.filter(pk=p.grassroots_a.pk).update(status="dissolved", closed_on=day(6))
    refused("unit_dissolved", services.expense_approve, actor=p.grassroots_a_chair, expense=expense)
    refused("unit_dissolved", record, personas=p)
    assert len(files_in(media)) == 1


def test_the_document_is_required_and_checked(personas, media):
    p = personas
    make_budget(p)
    refused("document_missing", record, personas=p, document=None)
    refused("document_missing", record, personas=p, document_number="  ")
    refused("document_type", record, personas=p, document=SimpleUploadedFile("hoa-don.exe", b"MZ\x90\x00"))
    refused("document_type", record, personas=p, document=SimpleUploadedFile("hoa-don.pdf", b"<html>not a pdf</html>"))
    refused("required", record, personas=p, description="   ")
    assert files_in(media) == []
    photo = record(p, document=SimpleUploadedFile("Hóa đơn 01.JPG", b"\xff\xd8\xff\xe0" + b"0" * 100))
    assert photo.document_name == "Hóa đơn 01.JPG" and photo.document.name.endswith(".jpg")


# -- cancelling: nothing is deleted ------------------------------------------------------------------------
def test_a_waiting_expense_is_cancelled_with_its_reason(personas):
    p = personas
    make_budget(p)
    expense = record(p)
    refused("reason_required", services.expense_cancel, actor=p.accountant_a, expense=expense, reason=" ")
    services.expense_cancel(actor=p.accountant_a, expense=expense, reason="Nhập trùng chứng từ")
    expense.refresh_from_db()
    assert (expense.status, expense.reason) == (ExpenseStatus.CANCELLED, "Nhập trùng chứng từ")
    refused("not_waiting", services.expense_approve, actor=p.grassroots_a_chair, expense=expense)
    refused("already_cancelled", services.expense_cancel, actor=p.accountant_a, expense=expense, reason="lần nữa")


def test_an_approved_expense_is_cancelled_by_a_reversal(personas, fake_ledger):
    p = personas
    make_budget(p)
    expense = services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=3_000_000))
    assert fake_ledger.posted == {expense.external_id: 3_000_000}
    refused("not_approver", services.expense_cancel, actor=p.accountant_a, expense=expense, reason="Sai số tiền")

    reversal = services.expense_cancel(actor=p.grassroots_a_chair, expense=expense, reason="Sai số tiền")
    expense.refresh_from_db()
    assert expense.status == ExpenseStatus.APPROVED and expense.amount == 3_000_000  # the original stays as it was
    assert expense.cancelled_at and expense.reason == "Sai số tiền"
    assert (reversal.kind, reversal.amount, reversal.year, reversal.reverses_id, reversal.status, reversal.spent_on) == (
        ExpenseKind.REVERSAL, -3_000_000, YEAR, expense.pk, ExpenseStatus.APPROVED, timezone.localdate())
    assert fake_ledger.posted[reversal.external_id] == -3_000_000
    assert Expense.objects.counted().filter(unit=p.grassroots_a, year=YEAR).aggregate(s=Sum("amount"))["s"] == 0
    refused("already_cancelled", services.expense_cancel, actor=p.grassroots_a_chair, expense=expense, reason="lần nữa")
    refused("not_cancellable", services.expense_cancel, actor=p.grassroots_a_chair, expense=reversal, reason="x")
    assert Expense.objects.count() == 2


# -- the ledger ----------------------------------------------------------------------------------------------
def test_without_finance_the_adapter_defers_posting(no_finance):
    assert ledger.available() is False
    assert ledger.post_expense(actor=None, expense=None) is False
    assert ledger.is_month_closed(1, datetime.date(2025, 1, 1)) is False
    assert ledger.revenue_by_quarter(unit=None, year=2025, subtree=True) is None


def test_the_ledger_entry_balances(personas, no_finance):
    make_budget(personas)
    expense = record(personas, amount=1_234_567)
    for row in (expense, Expense(unit=expense.unit, category=expense.category, spent_on=expense.spent_on, amount=-1_234_567,
                                 kind=ExpenseKind.REVERSAL, pk=99)):
        entry = ledger.expense_entry(row)
        assert sum(line["debit"] for line in entry["lines"]) == sum(line["credit"] for line in entry["lines"]) == 1_234_567
    entry = ledger.expense_entry(expense)
    assert entry["external_id"] == f"budget:expense:{expense.pk}"
    assert [(line["account"], line["debit"], line["credit"]) for line in entry["lines"]] == [
        ("611.activities", 1_234_567, 0), ("112", 0, 1_234_567)]


def test_approval_posts_to_the_ledger_and_a_refusal_rolls_it_back(personas, fake_ledger):
    p = personas
    make_budget(p)
    expense = record(p)
    fake_ledger.refuse.add(expense.pk)
    refused("month_closed", services.expense_approve, actor=p.grassroots_a_chair, expense=expense)
    fake_ledger.refuse.clear()
    services.expense_approve(actor=p.grassroots_a_chair, expense=expense)
    expense.refresh_from_db()
    assert expense.posted and expense.posted_at and fake_ledger.posted == {expense.external_id: 1_500_000}


def test_expenses_approved_before_finance_are_posted_later(personas, monkeypatch, no_finance):
    from congdoan.budgets.tests.conftest import FakeLedger

    p = personas
    make_budget(p)
    first = services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=1_000_000))
    second = services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=2_000_000))
    reversal = services.expense_cancel(actor=p.grassroots_a_chair, expense=second, reason="Sai hạng mục")
    assert services.expense_post_pending() == (0, 0)  # nothing to post to yet
    assert not Expense.objects.filter(posted=True).exists()

    fake = FakeLedger()
    fake.refuse.add(first.pk)
    monkeypatch.setattr(ledger, "available", lambda: True)
    monkeypatch.setattr(ledger, "post_expense", fake.post_expense)
    assert services.expense_post_pending() == (2, 1)
    assert list(fake.posted) == [second.external_id, reversal.external_id]  # in order: the expense before its reversal
    fake.refuse.clear()
    assert services.expense_post_pending() == (1, 0)
    assert services.expense_post_pending() == (0, 0)
    assert not Expense.objects.filter(status=ExpenseStatus.APPROVED, posted=False).exists()


def test_a_closed_month_refuses_the_expense(personas, monkeypatch):
    p = personas
    make_budget(p)
    monkeypatch.setattr(ledger, "is_month_closed", lambda unit_id, d: d.month == 3)
    refused("month_closed", record, personas=p, spent_on=day(3))
    record(p, spent_on=day(4))


def test_approve_finance_action_is_used_when_it_exists(personas, monkeypatch):
    """When finance adds Action.APPROVE_FINANCE, approval follows the role table instead of the chair role."""
    p = personas
    from congdoan.accounts import choices

    monkeypatch.setattr(choices.Action, "APPROVE_FINANCE", "approve_finance", raising=False)
    monkeypatch.setitem(choices.ROLE_ACTIONS, "accountant", choices.ROLE_ACTIONS["accountant"] | {"approve_finance"})
    monkeypatch.setitem(choices.ROLE_ACTIONS, "chair", choices.ROLE_ACTIONS["chair"] - {"approve_finance"})
    assert access.approver_paths(p.accountant_a) == [p.grassroots_a.path]
    assert access.approver_paths(p.grassroots_a_chair) == []


def test_the_command_posts_what_waits(personas, no_finance, monkeypatch, capsys):
    from django.core.management import call_command

    from congdoan.budgets.tests.conftest import FakeLedger

    make_budget(personas)
    services.expense_approve(actor=personas.grassroots_a_chair, expense=record(personas))
    call_command("budgets_post_pending")
    assert "nothing posted" in capsys.readouterr().err
    fake = FakeLedger()
    monkeypatch.setattr(ledger, "available", lambda: True)
    monkeypatch.setattr(ledger, "post_expense", fake.post_expense)
    call_command("budgets_post_pending")
    assert "posted: 1" in capsys.readouterr().out and Expense.objects.get().posted
