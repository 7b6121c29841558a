"""With congdoan.finance installed: approved expenses land in its double-entry ledger."""

import pytest
from django.apps import apps
from django.utils import timezone

from congdoan.budgets import ledger, services
from congdoan.budgets.models import Expense
from congdoan.budgets.tests.conftest import day, make_budget, record
from congdoan.core.errors import DomainError

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not apps.is_installed("congdoan.finance"), reason="congdoan.finance is not installed")]


def entries(external_id):
    from congdoan.finance.models import Transaction

    txn = Transaction.objects.get(external_id=external_id)
    return txn, sorted((e.unit.code, e.account.code, e.debit, e.credit) for e in txn.entries.select_related("unit", "account"))


def test_an_approved_expense_is_posted_and_its_reversal_reverses_it(personas):
    p = personas
    assert ledger.available()
    make_budget(p)
    expense = services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=2_500_000, paid_from="cash"))
    assert expense.posted and expense.posted_at
    txn, lines = entries(expense.external_id)
    assert (txn.kind, txn.date, txn.unit_id) == ("expense", expense.spent_on, p.grassroots_a.pk)
    assert lines == [("PA-G1", "111", 0, 2_500_000), ("PA-G1", "611.activities", 2_500_000, 0)]

    reversal = services.expense_cancel(actor=p.grassroots_a_chair, expense=expense, reason="Chứng từ sai")
    reversal.refresh_from_db()
    assert reversal.posted
    from congdoan.finance.models import Transaction

    undo = Transaction.objects.get(reverses=txn)
    assert undo.date == timezone.localdate() and undo.kind == "reversal"


def test_a_sub_union_expense_is_posted_in_its_grassroots_union_books(personas):
    p = personas
    make_budget(p, unit=p.sub_union_a, amounts={"visits": 1_000_000})
    expense = services.expense_approve(actor=p.grassroots_a_chair,
                                       expense=record(p, unit=p.sub_union_a, category="visits", amount=400_000))
    txn, lines = entries(expense.external_id)
    assert txn.unit_id == p.grassroots_a.pk and lines[1] == ("PA-G1", "611.visits", 400_000, 0)


def test_a_month_closed_in_the_books_refuses_expenses(personas):
    from congdoan.finance import services as finance

    p = personas
    make_budget(p)
    waiting = record(p, spent_on=day(3))
    finance.period_close(actor=p.accountant_a, unit=p.grassroots_a, month=day(3, 1))
    assert ledger.is_month_closed(p.grassroots_a.pk, day(3)) and ledger.is_month_closed(p.sub_union_a.pk, day(3, 2))
    with pytest.raises(DomainError) as info:
        record(p, spent_on=day(3, 31))
    assert info.value.code == "month_closed"
    with pytest.raises(DomainError) as info:
        services.expense_approve(actor=p.grassroots_a_chair, expense=waiting)
    assert info.value.code == "month_closed"
    assert Expense.objects.get(pk=waiting.pk).status == "recorded"
    record(p, spent_on=day(4, 1))


def test_disclosure_reads_revenue_from_the_ledger(personas, login):
    """With finance keeping books, revenue is the unit's own share posted to its revenue accounts."""
    from django.urls import reverse

    from congdoan.finance import services as finance

    p = personas
    finance.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=day(2), external_id="test:dues",
                        lines=[("112", 210_000, 0), ("5112", 0, 210_000)])
    finance.ledger_post(actor=p.accountant_a, unit=p.grassroots_a, date=day(8), external_id="test:other",
                        lines=[("111", 50_000, 0), ("518", 0, 50_000)])
    make_budget(p)
    services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=100_000, spent_on=day(2, 20)))
    response = login(p.member_user).get(reverse("budgets:disclosure"), {"year": day(1).year})
    report = response.context["report"]
    assert [label for _v, label in report["sources"]][2:] and report["quarters"][0]["by_source"][1][1] == 210_000
    assert [(q["revenue"], q["spending"]) for q in report["quarters"]] == [(210_000, 100_000), (0, 0), (50_000, 0), (0, 0)]
