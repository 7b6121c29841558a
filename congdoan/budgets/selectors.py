"""Reads of budgets and spending. Lists go through ``restrict(user, action)``; the reports take a
unit the caller was allowed (``unit_in_scope``, ``disclosure_unit``) and add up its subtree with
one path-range condition per query (no walk of the tree in Python)."""

import datetime

from django.db.models import Q, Sum
from django.db.models.functions import ExtractQuarter, Substr
from django.utils.translation import gettext_lazy as _

from congdoan.accounts.choices import Action
from congdoan.budgets import ledger
from congdoan.budgets.choices import QUARTERS, BudgetStatus
from congdoan.budgets.models import Budget, BudgetLine, Category, Expense
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.members.choices import MemberStatus
from congdoan.members.models import Member
from congdoan.organizations.models import Unit
from congdoan.payments.choices import Source
from congdoan.payments.models import Allocation

#: revenue the ledger reports besides the union fee and dues
OTHER_SOURCE_LABELS = {"other": _("Other revenue")}
#: a member who left the union no longer sees its books
MEMBER_STATUSES_WITH_ACCESS = (MemberStatus.ACTIVE, MemberStatus.SUSPENDED)


# -- who sees what ------------------------------------------------------------------------------------
def has_view(user) -> bool:
    return bool(scoping.granted_paths(user, Action.VIEW))


def roots(user, action: str = Action.VIEW):
    """The top units of the user's subtrees for ``action``."""
    return Unit.objects.restrict(user, action).filter(path__in=scoping.granted_paths(user, action)).order_by("path")


def finance_units(user):
    """Units in which the user may record (form choices): active, in the finance subtree."""
    return Unit.objects.restrict(user, Action.FINANCE).active().order_by("path")


def unit_in_scope(user, pk, action: str = Action.VIEW) -> Unit:
    unit = Unit.objects.restrict(user, action).filter(pk=pk).first() if pk else None
    if unit is None:
        raise NotFoundInScope()
    return unit


def own_member(user) -> Member | None:
    """The member record of the logged-in user (a member with a login), if he still belongs to a unit."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (Member.objects.select_related("unit").filter(user_id=user.pk, status__in=MEMBER_STATUSES_WITH_ACCESS).first())


def disclosure_unit(user, pk=None) -> tuple[Unit, list[Unit], bool]:
    """(unit shown, units to choose from, shown as a member) for the disclosure page.

    An official sees any unit of his VIEW subtree (default: the top one); a member sees his own
    unit and nothing else. Anything else is 404.
    """
    member = own_member(user)
    choices = list(roots(user))
    if member is not None and not any(member.unit.path.startswith(u.path) for u in choices):
        choices.append(member.unit)
    if pk:
        unit = Unit.objects.restrict(user).filter(pk=pk).first()
        if unit is None and member is not None and member.unit_id == pk:
            unit = member.unit
    else:
        unit = choices[0] if choices else None
    if unit is None:
        raise NotFoundInScope()
    as_member = not scoping.can(user, Action.VIEW, unit.path)
    return unit, choices, as_member


# -- budgets --------------------------------------------------------------------------------------------
def budgets_of(user, *, year: int | None = None, unit: Unit | None = None):
    budgets = (Budget.objects.restrict(user).select_related("unit", "drafted_by", "approved_by")
               .annotate(total=Sum("lines__amount")))
    if year:
        budgets = budgets.filter(year=year)
    if unit is not None:
        budgets = budgets.in_subtree(unit.path)
    return budgets.order_by("-year", "unit__path", "-version")


def budget_get(user, pk) -> Budget:
    budget = (Budget.objects.restrict(user).select_related("unit", "drafted_by", "changed_by", "approved_by", "revises")
              .filter(pk=pk).first())
    if budget is None:
        raise NotFoundInScope()
    return budget


def budget_lines(budget: Budget) -> list[dict]:
    """Every category in use (and any retired one the budget has a line for) with its amount and what is spent."""
    amounts = dict(budget.lines.order_by().values_list("category_id", "amount"))
    spent = dict(Expense.objects.counted().filter(unit_id=budget.unit_id, year=budget.year).order_by()
                 .values_list("category").annotate(s=Sum("amount")).values_list("category", "s"))
    categories = Category.objects.filter(Q(is_active=True) | Q(pk__in=list(amounts)))
    return [{"category": c, "amount": amounts.get(c.pk, 0), "spent": spent.get(c.pk, 0)} for c in categories]


def budget_versions(budget: Budget):
    return Budget.objects.filter(unit_id=budget.unit_id, year=budget.year).select_related("approved_by").order_by("-version")


# -- expenses -------------------------------------------------------------------------------------------
def expenses_of(user, *, unit: Unit | None = None, year: int | None = None, status: str = "", category=None):
    expenses = Expense.objects.restrict(user).select_related("unit", "category", "recorded_by", "approved_by")
    if unit is not None:
        expenses = expenses.in_subtree(unit.path)
    if year:  # the budget year, as budget against actual counts it (a reversal may be dated the year after)
        expenses = expenses.filter(year=year)
    if status:
        expenses = expenses.filter(status=status)
    if category is not None:
        expenses = expenses.filter(category=category)
    return expenses.order_by("-spent_on", "-id")


def expense_get(user, pk) -> Expense:
    expense = (Expense.objects.restrict(user)
               .select_related("unit", "category", "recorded_by", "approved_by", "cancelled_by", "reverses", "reversal")
               .filter(pk=pk).first())
    if expense is None:
        raise NotFoundInScope()
    return expense


# -- budget against actual ------------------------------------------------------------------------------
def _by(queryset, key: str, total: str = "amount") -> dict:
    return dict(queryset.order_by().values_list(key).annotate(s=Sum(total)).values_list(key, "s"))


def budget_vs_actual(*, root: Unit, year: int, subtree: bool = True) -> dict:
    """Approved budget against approved spending of ``root`` (or its whole subtree) in a year.

    ``rows``: one per category; ``children``: with the subtree, one per child unit of ``root``
    with the figures of its own subtree (grouped by the child's path prefix), plus the root's own.
    A fixed number of queries whatever the size of the subtree.
    """
    lines = BudgetLine.objects.filter(budget__year=year, budget__status=BudgetStatus.APPROVED)
    expenses = Expense.objects.counted().filter(year=year)
    if subtree:
        lines = lines.filter(tree.subtree_q("budget__unit__path", root.path))
        expenses = expenses.in_subtree(root.path)
    else:
        lines = lines.filter(budget__unit=root)
        expenses = expenses.filter(unit=root)
    budgeted, actual = _by(lines, "category"), _by(expenses, "category")
    categories = Category.objects.filter(Q(is_active=True) | Q(pk__in=[*budgeted, *actual]))
    rows = [_row(c, budgeted.get(c.pk, 0), actual.get(c.pk, 0)) for c in categories]
    totals = _row(None, sum(budgeted.values()), sum(actual.values()))
    children = []
    if subtree:
        width = len(root.path) + tree.STEPLEN
        child_budgeted = _by(lines.annotate(prefix=Substr("budget__unit__path", 1, width)), "prefix")
        child_actual = _by(expenses.annotate(prefix=Substr("unit__path", 1, width)), "prefix")
        prefixes = set(child_budgeted) | set(child_actual)
        units = {u.path: u for u in Unit.objects.filter(path__in=prefixes - {root.path})}
        if root.path in prefixes:
            units[root.path] = root
        children = [{"unit": units[p], "own": p == root.path, **_row(None, child_budgeted.get(p, 0), child_actual.get(p, 0))}
                    for p in sorted(units)]
    budgets = {b.status: b for b in Budget.objects.filter(unit=root, year=year, status__in=[BudgetStatus.APPROVED, BudgetStatus.DRAFT])}
    return {"rows": rows, "totals": totals, "children": children, "approved": budgets.get(BudgetStatus.APPROVED),
            "draft": budgets.get(BudgetStatus.DRAFT)}


def _row(category, budgeted: int, actual: int) -> dict:
    return {"category": category, "budgeted": budgeted, "actual": actual, "left": budgeted - actual,
            "percent": round(100 * actual / budgeted, 1) if budgeted else None, "over": actual > budgeted}


# -- transparency (công khai tài chính) ---------------------------------------------------------------------
def _year_range(field: str, year: int) -> Q:
    return Q(**{f"{field}__gte": datetime.date(year, 1, 1), f"{field}__lt": datetime.date(year + 1, 1, 1)})


def revenue_by_quarter(*, unit: Unit, year: int, subtree: bool = True) -> tuple[dict, str]:
    """({(quarter, source): amount}, basis) of the unit's (or its subtree's) revenue in a year.

    From finance's books when finance provides them (ledger.revenue_by_quarter: the unit's own
    shares, basis "ledger"); otherwise the payments allocated to the unit, by the date they were
    received (``paid_on``, basis "payments").
    """
    from_ledger = ledger.revenue_by_quarter(unit=unit, year=year, subtree=subtree)
    if from_ledger is not None:
        return from_ledger, "ledger"
    allocations = Allocation.objects.filter(_year_range("paid_on", year))
    allocations = allocations.in_subtree(unit.path) if subtree else allocations.filter(unit=unit)
    rows = (allocations.order_by().annotate(q=ExtractQuarter("paid_on")).values_list("q", "source")
            .annotate(s=Sum("amount")).values_list("q", "source", "s"))
    return {(q, source): amount for q, source, amount in rows}, "payments"


def spending_by_quarter(*, unit: Unit, year: int, subtree: bool = True) -> dict:
    """{(quarter, category id): amount} of approved spending (reversals included) by date."""
    expenses = Expense.objects.counted().filter(_year_range("spent_on", year))
    expenses = expenses.in_subtree(unit.path) if subtree else expenses.filter(unit=unit)
    rows = (expenses.order_by().annotate(q=ExtractQuarter("spent_on")).values_list("q", "category")
            .annotate(s=Sum("amount")).values_list("q", "category", "s"))
    return {(q, category): amount for q, category, amount in rows}


def disclosure(*, unit: Unit, year: int, subtree: bool = True) -> dict:
    """The unit's revenue and spending per quarter of a year, for its members and the levels above."""
    revenue, basis = revenue_by_quarter(unit=unit, year=year, subtree=subtree)
    spending = spending_by_quarter(unit=unit, year=year, subtree=subtree)
    sources = [(value, label) for value, label in Source.choices]
    extra_sources = sorted({s for _q, s in revenue} - {v for v, _l in sources})
    sources += [(s, OTHER_SOURCE_LABELS.get(s, s)) for s in extra_sources]
    spent_categories = {c for _q, c in spending}
    categories = [c for c in Category.objects.all() if c.pk in spent_categories]  # one query, rows or not
    quarters = []
    for q in QUARTERS:
        by_source = [(label, revenue.get((q, s), 0)) for s, label in sources]
        received = sum(amount for _label, amount in by_source)
        spent = sum(a for (qq, _c), a in spending.items() if qq == q)
        quarters.append({"quarter": q, "by_source": by_source, "revenue": received, "spending": spent, "balance": received - spent})
    totals = {"by_source": [(label, sum(row["by_source"][i][1] for row in quarters)) for i, (_s, label) in enumerate(sources)],
              "revenue": sum(r["revenue"] for r in quarters), "spending": sum(r["spending"] for r in quarters)}
    totals["balance"] = totals["revenue"] - totals["spending"]
    by_category = [{"category": c, "quarters": [spending.get((q, c.pk), 0) for q in QUARTERS],
                    "total": sum(spending.get((q, c.pk), 0) for q in QUARTERS)} for c in categories]
    return {"sources": sources, "quarters": quarters, "totals": totals, "by_category": by_category, "revenue_basis": basis}
