"""Budgets and spending in the JSON API: budgets by unit and year, budget against actual, expenses
(list, read, record with their document, approve, cancel).

The endpoints call the pages' own selectors and services (budgets.selectors, budgets.services), so
the rules are the pages' rules: reading needs the ``view`` action on the unit's subtree, recording
needs ``finance``, approving is the chair's (budgets.access), never by the person who recorded the
expense; a budget is never overdrawn. Anything outside the caller's subtrees answers 404, a refused
rule 422 with its stable code. Money is whole đồng (integers).

Mounted by congdoan/api.py with ``api.add_router("/budgets", budgets_router)``; ``build_router``
makes a fresh router for tests that mount their own API.
"""

import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from congdoan.accounts.choices import Action
from congdoan.budgets import selectors, services
from congdoan.budgets.choices import BudgetStatus, ExpenseKind, ExpenseStatus, PaidFrom
from congdoan.budgets.models import Category
from congdoan.core.api_auth import ERRORS, WRITE_ERRORS
from congdoan.core.errors import DomainError, NotFoundInScope
from congdoan.organizations.models import Unit


class UnitRef(Schema):
    id: int
    code: str
    name: str


class CategoryOut(Schema):
    code: str = Field(description="Stable code of the spending category, e.g. \"activities\".")
    name: str

    @staticmethod
    def resolve_name(obj):
        return obj.label


def _username(user) -> str | None:
    return user.username if user is not None else None


class BudgetItem(Schema):
    id: int
    unit: UnitRef
    year: int
    version: int
    status: BudgetStatus
    total: int = Field(description="Sum of the budget's lines, in đồng.")
    note: str
    revises_id: int | None
    approved_at: datetime.datetime | None

    @staticmethod
    def resolve_total(obj):
        return getattr(obj, "total", None) or 0


class BudgetLineOut(Schema):
    category: CategoryOut
    amount: int = Field(description="Planned, in đồng.")
    spent: int = Field(description="Approved spending of the unit in the category and year (reversals included).")
    left: int


class BudgetOut(BudgetItem):
    drafted_by: str | None
    approved_by: str | None
    lines: list[BudgetLineOut]


class BudgetPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[BudgetItem]


class BudgetFilters(Schema):
    unit: int | None = Field(None, description="Only this unit's subtree (its id; 404 outside the caller's scope).")
    year: int | None = Field(None, ge=2000, le=2100)
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class ReportQuery(Schema):
    unit: int | None = Field(None, description="The unit (default: the top unit of the caller's scope).")
    year: int | None = Field(None, ge=2000, le=2100, description="Default: this year.")
    subtree: bool = Field(True, description="Add up the units below (false: the unit's own figures).")


class FiguresOut(Schema):
    budgeted: int
    actual: int
    left: int
    percent: float | None = Field(description="Actual as a percentage of the budget; null without a budget.")
    over: bool


class ReportRowOut(FiguresOut):
    category: CategoryOut


class ReportChildOut(FiguresOut):
    unit: UnitRef
    own: bool = Field(description="The unit's own figures (not its sub-units').")


class ReportOut(Schema):
    unit: UnitRef
    year: int
    subtree: bool
    approved_budget_id: int | None
    draft_budget_id: int | None
    rows: list[ReportRowOut]
    totals: FiguresOut
    children: list[ReportChildOut]


class ExpenseOut(Schema):
    id: int
    unit: UnitRef
    category: CategoryOut
    kind: ExpenseKind
    year: int = Field(description="The budget year the amount counts against.")
    spent_on: datetime.date
    amount: int = Field(description="In đồng; negative for a reversal.")
    description: str
    payee: str
    paid_from: PaidFrom
    document_number: str
    document_date: datetime.date | None
    document_name: str
    document_url: str | None = Field(description="The scoped download page of the supporting document.")
    status: ExpenseStatus
    reverses_id: int | None
    reason: str
    recorded_by: str | None
    recorded_at: datetime.datetime
    approved_by: str | None
    approved_at: datetime.datetime | None
    cancelled_at: datetime.datetime | None
    posted: bool = Field(description="Whether the ledger has taken the approved row.")

    @staticmethod
    def resolve_document_url(obj):
        return reverse("budgets:expense_document", kwargs={"expense": obj.pk}) if obj.document else None

    @staticmethod
    def resolve_recorded_by(obj):
        return _username(obj.recorded_by)

    @staticmethod
    def resolve_approved_by(obj):
        return _username(obj.approved_by)


class ExpensePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ExpenseOut]


class ExpenseFilters(Schema):
    unit: int | None = Field(None, description="Only this unit's subtree (its id; 404 outside the caller's scope).")
    year: int | None = Field(None, ge=2000, le=2100, description="The budget year.")
    status: ExpenseStatus | None = None
    category: str | None = Field(None, max_length=24, description="A category code.")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class ExpenseIn(Schema):
    """Sent as multipart/form-data with the supporting document in the ``document`` part."""

    unit_id: int = Field(description="A unit the caller keeps the books of (finance).")
    category: str = Field(max_length=24, description="A category code in use, e.g. \"activities\".")
    amount: int = Field(description="Whole đồng, greater than zero.")
    spent_on: datetime.date = Field(description="The day the money was spent (not in the future).")
    description: str = Field(max_length=500)
    payee: str = Field("", max_length=200)
    paid_from: PaidFrom = PaidFrom.BANK
    document_number: str = Field("", max_length=64)
    document_date: datetime.date | None = None


class CancelIn(Schema):
    reason: str = Field("", max_length=500)


def _page(rows, limit: int, offset: int) -> dict:
    count = rows.count()
    items = list(rows[offset:offset + limit]) if offset < count else []
    return {"count": count, "limit": limit, "offset": offset, "items": items}


def _figures(row: dict) -> dict:
    return {key: row[key] for key in ("budgeted", "actual", "left", "percent", "over")}


def build_router() -> Router:
    router = Router(tags=["budgets"])

    @router.get("/", response={200: BudgetPage, **ERRORS}, summary="List budgets (every version) in the caller's scope")
    def budget_list(request, filters: Query[BudgetFilters]):
        unit = selectors.unit_in_scope(request.user, filters.unit) if filters.unit else None
        return _page(selectors.budgets_of(request.user, year=filters.year, unit=unit), filters.limit, filters.offset)

    @router.get("/report", response={200: ReportOut, **ERRORS}, summary="Budget against actual of a unit (and its subtree) in a year")
    def report(request, q: Query[ReportQuery]):
        if q.unit:
            unit = selectors.unit_in_scope(request.user, q.unit)
        else:
            unit = selectors.roots(request.user).first()
            if unit is None:
                raise NotFoundInScope()
        year = q.year or timezone.localdate().year
        result = selectors.budget_vs_actual(root=unit, year=year, subtree=q.subtree)
        return {
            "unit": unit, "year": year, "subtree": q.subtree,
            "approved_budget_id": result["approved"].pk if result["approved"] else None,
            "draft_budget_id": result["draft"].pk if result["draft"] else None,
            "rows": [{"category": r["category"], **_figures(r)} for r in result["rows"]],
            "totals": _figures(result["totals"]),
            "children": [{"unit": c["unit"], "own": c["own"], **_figures(c)} for c in result["children"]],
        }

    @router.get("/{int:budget_id}", response={200: BudgetOut, **ERRORS}, summary="Read one budget version with its lines")
    def budget_read(request, budget_id: int):
        budget = selectors.budget_get(request.user, budget_id)
        lines = selectors.budget_lines(budget)
        budget.total = sum(row["amount"] for row in lines)
        return {
            **{name: getattr(budget, name) for name in ("id", "unit", "year", "version", "status", "total", "note", "revises_id",
                                                        "approved_at")},
            "drafted_by": _username(budget.drafted_by), "approved_by": _username(budget.approved_by),
            "lines": [{**row, "left": row["amount"] - row["spent"]} for row in lines],
        }

    @router.get("/expenses", response={200: ExpensePage, **ERRORS}, summary="List expenses in the caller's scope, newest first")
    def expense_list(request, filters: Query[ExpenseFilters]):
        unit = selectors.unit_in_scope(request.user, filters.unit) if filters.unit else None
        category = None
        if filters.category:
            category = Category.objects.filter(code=filters.category).first()
            if category is None:
                raise DomainError(_("Unknown spending category."), code="category_invalid", field="category")
        expenses = selectors.expenses_of(request.user, unit=unit, year=filters.year, status=filters.status or "", category=category)
        return _page(expenses, filters.limit, filters.offset)

    @router.get("/expenses/{int:expense_id}", response={200: ExpenseOut, **ERRORS}, summary="Read one expense")
    def expense_read(request, expense_id: int):
        return selectors.expense_get(request.user, expense_id)

    @router.post("/expenses", response={201: ExpenseOut, **WRITE_ERRORS},
                 summary="Record an expense with its supporting document (multipart/form-data); it waits for the chair's approval")
    def expense_record(request, payload: Form[ExpenseIn], document: File[UploadedFile] = None):
        unit = Unit.objects.restrict(request.user, Action.FINANCE).filter(pk=payload.unit_id).first()
        if unit is None:
            raise DomainError(_("No unit with this id among the units whose books you keep."), code="not_found", field="unit_id")
        category = Category.objects.filter(code=payload.category, is_active=True).first()
        if category is None:
            raise DomainError(_("Choose a spending category in use."), code="category_invalid", field="category")
        data = payload.model_dump(exclude={"unit_id", "category"})
        expense = services.expense_record(actor=request.user, unit=unit, category=category, document=document, **data)
        return Status(201, selectors.expense_get(request.user, expense.pk))

    @router.post("/expenses/{int:expense_id}/approve", response={200: ExpenseOut, **WRITE_ERRORS},
                 summary="Approve a recorded expense (the chair; never the person who recorded it)")
    def expense_approve(request, expense_id: int):
        expense = selectors.expense_get(request.user, expense_id)
        services.expense_approve(actor=request.user, expense=expense)
        return selectors.expense_get(request.user, expense_id)

    @router.post("/expenses/{int:expense_id}/cancel", response={200: ExpenseOut, **WRITE_ERRORS},
                 summary="Cancel an expense with the reason: one waiting is cancelled, an approved one reversed (answers the reversal)")
    def expense_cancel(request, expense_id: int, payload: CancelIn):
        expense = selectors.expense_get(request.user, expense_id)
        result = services.expense_cancel(actor=request.user, expense=expense, reason=payload.reason)
        return selectors.expense_get(request.user, result.pk)

    return router


router = build_router()
