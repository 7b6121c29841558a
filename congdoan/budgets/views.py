"""Pages of budgets and spending: thin; the rules are in services, the reads in selectors (restricted).

Reading needs the ``view`` action on the unit, recording the ``finance`` action, approving the
approver's role (access.py); the disclosure page is also open to members, for their own unit.
Anything outside the caller's scope answers 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from congdoan.accounts.choices import Action
from congdoan.budgets import selectors, services
from congdoan.budgets.access import has_finance, may_approve
from congdoan.budgets.choices import BudgetStatus, ExpenseStatus
from congdoan.budgets.exports import budget_vs_actual_xlsx
from congdoan.budgets.forms import (
    BudgetCreateForm, BudgetLinesForm, CancelForm, ExpenseFilterForm, ExpenseForm, ReportForm, RevisionForm,
)
from congdoan.core import scoping
from congdoan.core.errors import DomainError
from congdoan.core.views import form_error, paginate, query_without_page, render_page


def _officials_only(request) -> None:
    if not selectors.has_view(request.user):
        raise Http404


def _report_scope(request):
    """(unit, year, with the subtree, units to choose from) of a report page, from the query string."""
    _officials_only(request)
    form = ReportForm(request.GET)
    pk, year, subtree = form.values()
    choices = list(selectors.roots(request.user))
    unit = selectors.unit_in_scope(request.user, pk) if pk else choices[0]
    return form, unit, year, subtree, choices


# -- budget against actual -------------------------------------------------------------------------------
@login_required
@require_GET
def overview(request):
    form, unit, year, subtree, choices = _report_scope(request)
    report = selectors.budget_vs_actual(root=unit, year=year, subtree=subtree)
    return render_page(request, "budgets/overview.html", {
        "form": form, "unit": unit, "year": year, "subtree": subtree, "choices": choices, "report": report,
        "query": request.GET.urlencode(), "can_record": has_finance(request.user),
    }, partial="report")


@login_required
@require_GET
def export(request):
    _form, unit, year, subtree, _choices = _report_scope(request)
    report = selectors.budget_vs_actual(root=unit, year=year, subtree=subtree)
    content = budget_vs_actual_xlsx(root=unit, year=year, subtree=subtree, report=report)
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="du-toan-thuc-chi-{unit.code}-{year}.xlsx"'
    return response


# -- budgets ------------------------------------------------------------------------------------------------
@login_required
def budget_list(request):
    _officials_only(request)
    units = selectors.finance_units(request.user)
    can_draft = has_finance(request.user)
    if request.method == "POST" and not can_draft:
        raise Http404
    form = BudgetCreateForm(request.POST or None, units=units) if can_draft else None
    if request.method == "POST" and form.is_valid():
        try:
            budget = services.budget_draft(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The draft budget is created: enter its amounts."))
            return redirect("budgets:budget_detail", budget=budget.pk)
    filters = ReportForm(request.GET)
    pk, _year, _subtree = filters.values()
    year = filters.cleaned_data.get("year")
    unit = selectors.unit_in_scope(request.user, pk) if pk else None
    return render_page(request, "budgets/budget_list.html", {
        "form": form, "page": paginate(request, selectors.budgets_of(request.user, year=year, unit=unit)),
        "year": year, "unit": unit, "query": query_without_page(request),
    }, partial="rows")


@login_required
def budget_detail(request, budget):
    budget = selectors.budget_get(request.user, budget)
    can_edit = budget.is_draft and scoping.can(request.user, Action.FINANCE, budget.unit.path)
    lines = selectors.budget_lines(budget)
    categories = [row["category"] for row in lines if row["category"].is_active]
    form = None
    if can_edit:
        initial = {f"category_{row['category'].pk}": f"{row['amount']:,}".replace(",", ".") for row in lines if row["amount"]}
        form = BudgetLinesForm(request.POST or None, categories=categories, initial=initial)
    if request.method == "POST" and form is None:
        if not scoping.can(request.user, Action.FINANCE, budget.unit.path):
            raise Http404
        messages.error(request, _("This budget is approved and locked: revise it to change the amounts."))
        return redirect("budgets:budget_detail", budget=budget.pk)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.budget_lines_save(actor=request.user, budget=budget, amounts=form.amounts())
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, _("The amounts are saved."))
                return redirect("budgets:budget_detail", budget=budget.pk)
    for row in lines:
        row["left"] = row["amount"] - row["spent"]
        row["field"] = form[f"category_{row['category'].pk}"] if form is not None and row["category"].is_active else None
    total, spent = sum(row["amount"] for row in lines), sum(row["spent"] for row in lines)
    return render_page(request, "budgets/budget_detail.html", {
        "budget": budget, "lines": lines, "form": form, "total": total, "spent": spent, "left": total - spent,
        "versions": selectors.budget_versions(budget),
        "can_approve": budget.is_draft and may_approve(request.user, budget.unit.path),
        "can_revise": budget.status == BudgetStatus.APPROVED and scoping.can(request.user, Action.FINANCE, budget.unit.path),
        "revision_form": RevisionForm(),
    })


@login_required
@require_POST
def budget_approve(request, budget):
    budget = selectors.budget_get(request.user, budget)
    try:
        services.budget_approve(actor=request.user, budget=budget)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The budget is approved."))
    return redirect("budgets:budget_detail", budget=budget.pk)


@login_required
@require_POST
def budget_revise(request, budget):
    budget = selectors.budget_get(request.user, budget)
    if not scoping.can(request.user, Action.FINANCE, budget.unit.path):
        raise Http404
    form = RevisionForm(request.POST)
    try:
        revision = services.budget_revise(actor=request.user, budget=budget,
                                          note=form.cleaned_data.get("note", "") if form.is_valid() else "")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("budgets:budget_detail", budget=budget.pk)
    messages.success(request, _("A revision is drafted: change its amounts, then ask a chair to approve it."))
    return redirect("budgets:budget_detail", budget=revision.pk)


# -- expenses -----------------------------------------------------------------------------------------------
@login_required
@require_GET
def expense_list(request):
    _officials_only(request)
    form = ExpenseFilterForm(request.GET)
    form.is_valid()
    filters = form.cleaned_data
    unit = selectors.unit_in_scope(request.user, filters["unit"]) if filters.get("unit") else None
    expenses = selectors.expenses_of(request.user, unit=unit, year=filters.get("year"), status=filters.get("status", ""),
                                     category=filters.get("category"))
    return render_page(request, "budgets/expense_list.html", {
        "form": form, "unit": unit, "page": paginate(request, expenses), "query": query_without_page(request),
        "can_record": has_finance(request.user),
    }, partial="rows")


@login_required
def expense_create(request):
    if not has_finance(request.user):
        raise Http404
    units = selectors.finance_units(request.user)
    initial = {"spent_on": timezone.localdate(), "document_date": timezone.localdate()}
    unit_param = request.GET.get("unit", "")
    if unit_param.isdigit():
        initial["unit"] = units.filter(pk=int(unit_param)).first()
    form = ExpenseForm(request.POST or None, request.FILES or None, units=units, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            expense = services.expense_record(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The expense is recorded and waits for the chair's approval."))
            return redirect("budgets:expense_detail", expense=expense.pk)
    return render_page(request, "budgets/expense_form.html", {"form": form})


def _read_only(request):
    """Object pages answer 404 outside scope whatever the method; inside it, they are only read."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return None


@login_required
def expense_detail(request, expense):
    expense = selectors.expense_get(request.user, expense)
    if refused := _read_only(request):
        return refused
    can_finance = scoping.can(request.user, Action.FINANCE, expense.unit.path)
    cancellable = not expense.is_reversal and expense.cancelled_at is None and expense.status != ExpenseStatus.CANCELLED
    return render_page(request, "budgets/expense_detail.html", {
        "expense": expense,
        "can_approve": expense.status == ExpenseStatus.RECORDED and may_approve(request.user, expense.unit.path),
        "can_cancel": can_finance and cancellable, "cancel_form": CancelForm(),
    })


@login_required
@require_POST
def expense_approve(request, expense):
    expense = selectors.expense_get(request.user, expense)
    try:
        expense = services.expense_approve(actor=request.user, expense=expense)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The expense is approved and posted to the ledger.") if expense.posted
                         else _("The expense is approved; it will be posted when the ledger is connected."))
    return redirect("budgets:expense_detail", expense=expense.pk)


@login_required
@require_POST
def expense_cancel(request, expense):
    expense = selectors.expense_get(request.user, expense)
    if not scoping.can(request.user, Action.FINANCE, expense.unit.path):
        raise Http404
    form = CancelForm(request.POST)
    try:
        result = services.expense_cancel(actor=request.user, expense=expense,
                                         reason=form.cleaned_data["reason"] if form.is_valid() else "")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("budgets:expense_detail", expense=expense.pk)
    messages.success(request, _("The expense is cancelled by a reversal.") if result.is_reversal else _("The expense is cancelled."))
    return redirect("budgets:expense_detail", expense=result.pk)


@login_required
def expense_document(request, expense):
    expense = selectors.expense_get(request.user, expense)
    if refused := _read_only(request):
        return refused
    if not expense.document:
        raise Http404
    try:
        handle = expense.document.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(handle, as_attachment=True, filename=expense.document_name or expense.document.name.rsplit("/", 1)[-1])


# -- transparency (công khai tài chính) -------------------------------------------------------------------------
@login_required
@require_GET
def disclosure(request):
    form = ReportForm(request.GET)
    pk, year, subtree = form.values()
    unit, choices, as_member = selectors.disclosure_unit(request.user, pk)
    if as_member:
        subtree = True  # a member sees his unit as a whole, never its parts one by one
    return render_page(request, "budgets/disclosure.html", {
        "form": form, "unit": unit, "year": year, "subtree": subtree, "choices": choices, "as_member": as_member,
        "report": selectors.disclosure(unit=unit, year=year, subtree=subtree),
        "years": range(timezone.localdate().year, timezone.localdate().year - 5, -1),
    }, partial="report")
