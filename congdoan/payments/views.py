"""Pages of payments: thin; the rules are in services, the reads in selectors (all restricted)."""

import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.core.errors import DomainError
from congdoan.core.views import form_error, paginate, query_without_page, render_page
from congdoan.organizations.models import Unit
from congdoan.payments import selectors, services
from congdoan.payments.choices import AGE_BUCKETS, LineStatus, QueueReason, Source
from congdoan.payments.forms import (
    AllocateForm, ArrearsForm, BankAccountForm, BankLayoutForm, CashReceiptForm, QueueFilterForm, ReturnForm, StatementUploadForm,
)
from congdoan.payments.models import BankLayout
from congdoan.payments.pdf import cash_receipt_pdf

ERRORS_PER_PAGE = 100


def _finance_only(request):
    if not selectors.has_finance(request.user):
        raise Http404


# -- statements ---------------------------------------------------------------------------------
@login_required
def statement_list(request):
    _finance_only(request)
    accounts = selectors.accounts_of(request.user)
    form = StatementUploadForm(request.POST or None, request.FILES or None, accounts=accounts)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.statement_import_create(
                actor=request.user, account=form.cleaned_data["account"], upload=form.cleaned_data["file"],
                fmt=form.cleaned_data["format"], layout=form.cleaned_data["layout"], language=translation.get_language())
        except DomainError as exc:
            form_error(form, exc)
        else:
            return redirect("payments:statement_detail", job=job.pk)
    return render_page(request, "payments/statement_list.html", {
        "form": form, "page": paginate(request, selectors.imports_of(request.user)), "has_accounts": accounts.exists(),
        "max_mb": settings.IMPORT_MAX_BYTES / (1024 * 1024),
    })


@login_required
def statement_detail(request, job):
    job = get_object_or_404(selectors.imports_of(request.user), pk=job)
    return render_page(request, "payments/statement_detail.html", {
        "job": job, "errors": paginate(request, job.errors, per_page=ERRORS_PER_PAGE),
    }, partial="status")


# -- the reconciliation queue -----------------------------------------------------------------------
@login_required
def queue(request):
    _finance_only(request)
    form = QueueFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    lines = selectors.queue(user=request.user, reason=filters.get("reason", ""), q=filters.get("q", ""))
    return render_page(request, "payments/queue.html", {
        "form": form, "page": paginate(request, lines), "counts": selectors.queue_counts(user=request.user),
        "reasons": dict(QueueReason.choices), "query": query_without_page(request),
    }, partial="results")


@login_required
def line_detail(request, line):
    line = get_object_or_404(selectors.lines_of(request.user), pk=line)
    allocate_form = AllocateForm(total=line.amount)
    return_form = ReturnForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "return":
                return_form = ReturnForm(request.POST)
                if return_form.is_valid():
                    services.line_mark_return(actor=request.user, line=line, reason=return_form.cleaned_data["reason"])
                    messages.success(request, _("The payment is marked for return."))
                    return redirect("payments:queue")
            else:
                allocate_form = AllocateForm(request.POST, total=line.amount)
                if allocate_form.is_valid():
                    data = allocate_form.cleaned_data
                    payer = services.payer_find(actor=request.user, key=data["payer"])
                    services.line_allocate(actor=request.user, line=line, payer=payer, parts=data["parts"], paid_on=data["paid_on"])
                    messages.success(request, _("The payment is matched."))
                    return redirect("payments:queue")
        except DomainError as exc:
            form_error(return_form if action == "return" else allocate_form, exc)
    suggestion = ""
    if line.suggested_kind and line.suggested_id:
        suggestion = services.payer_label(line.suggested_kind, line.suggested_id)
        if line.status == LineStatus.UNMATCHED and not allocate_form.is_bound:
            allocate_form = AllocateForm(total=line.amount, initial={"payer": services.payer_key(line.suggested_kind, line.suggested_id)})
    return render_page(request, "payments/line_detail.html", {
        "line": line, "allocate_form": allocate_form, "return_form": return_form, "suggestion": suggestion,
        "allocations": line.allocations.select_related("unit", "member"), "reasons": dict(QueueReason.choices),
    })


# -- accounts and layouts --------------------------------------------------------------------------
@login_required
def account_list(request):
    _finance_only(request)
    units = Unit.objects.restrict(request.user, Action.FINANCE).filter(status="active")
    form = BankAccountForm(request.POST or None, units=units)
    if request.method == "POST" and form.is_valid():
        try:
            services.bank_account_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The account is registered."))
            return redirect("payments:account_list")
    return render_page(request, "payments/account_list.html", {
        "form": form, "page": paginate(request, selectors.accounts_of(request.user)),
    })


@login_required
def layout_list(request):
    _finance_only(request)
    editable = services.may_edit_layouts(request.user)
    form = BankLayoutForm(request.POST or None) if editable else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            try:
                services.bank_layout_save(actor=request.user, layout=form.instance)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, _("The layout is saved."))
                return redirect("payments:layout_list")
    return render_page(request, "payments/layout_list.html", {
        "layouts": BankLayout.objects.order_by("name"), "form": form,
    })


# -- cash receipts ----------------------------------------------------------------------------------
@login_required
def receipt_list(request):
    _finance_only(request)
    return render_page(request, "payments/receipt_list.html", {"page": paginate(request, selectors.receipts_of(request.user))})


@login_required
def receipt_create(request):
    _finance_only(request)
    units = Unit.objects.restrict(request.user, Action.FINANCE).filter(status="active")
    form = CashReceiptForm(request.POST or None, units=units, initial={"paid_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            payer = services.payer_find(actor=request.user, key=data["payer"])
            receipt = services.cash_receipt_create(actor=request.user, unit=data["unit"], payer=payer, payer_name=data["payer_name"],
                                                   paid_on=data["paid_on"], parts=data["parts"], note=data["note"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            return redirect("payments:receipt_detail", receipt=receipt.pk)
    return render_page(request, "payments/receipt_form.html", {"form": form})


@login_required
def receipt_detail(request, receipt):
    receipt = get_object_or_404(selectors.receipts_of(request.user), pk=receipt)
    return render_page(request, "payments/receipt_detail.html", {
        "receipt": receipt, "allocations": receipt.allocations.select_related("unit", "member"),
    })


@login_required
def receipt_pdf(request, receipt):
    receipt = get_object_or_404(selectors.receipts_of(request.user), pk=receipt)
    content = cash_receipt_pdf(receipt, list(receipt.allocations.order_by("period")))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{receipt.number}.pdf"'
    return response


# -- arrears -----------------------------------------------------------------------------------------
def _as_of(form) -> datetime.date:
    return (form.cleaned_data.get("as_of") if form.is_valid() else None) or timezone.localdate().replace(day=1)


def _root(request, form):
    roots = list(selectors.finance_roots(request.user))
    if not roots:
        raise Http404
    pk = form.cleaned_data.get("unit") if form.is_valid() else None
    return (selectors.unit_in_scope(request.user, pk) if pk else roots[0]), roots


@login_required
def arrears(request):
    form = ArrearsForm(request.GET or None)
    root, roots = _root(request, form)
    as_of = _as_of(form)
    bucket = form.cleaned_data.get("bucket", "") if form.is_valid() else ""
    q = request.GET.get("q", "").strip()[:100]
    overview = selectors.arrears_overview(user=request.user, root=root, as_of=as_of)
    rows = selectors.filter_rows(overview["rows"], bucket, q)
    base = {"unit": root.pk, "as_of": as_of.strftime("%m/%Y")}
    return render_page(request, "payments/arrears.html", {
        "root": root, "roots": roots, "as_of": as_of, "totals": overview["totals"], "bucket": bucket, "q": q,
        "page": paginate(request, rows), "buckets": [(key, label, overview["totals"]["buckets"][key]) for key, label, *_ in AGE_BUCKETS],
        "bucket_labels": {key: label for key, label, *_ in AGE_BUCKETS}, "base": base,
        "query": query_without_page(request), "year_start": as_of.replace(month=1),
        "received_url": reverse("payments:received") + f"?unit={root.pk}&source={Source.UNION_FEE}&start={as_of.year}-01&end={as_of:%Y-%m}",
    }, partial="results")


@login_required
def arrears_employer(request, employer):
    employer = selectors.unit_in_scope(request.user, employer)
    form = ArrearsForm(request.GET or None)
    as_of = _as_of(form)
    months = selectors.employer_months(user=request.user, employer=employer, as_of=as_of)
    allocations = selectors.allocations_of(user=request.user, root=employer, source=Source.UNION_FEE, unit_id=employer.pk)[:100]
    return render_page(request, "payments/arrears_employer.html", {
        "employer": employer, "as_of": as_of, "months": list(reversed(months)), "allocations": allocations,
        "bucket_labels": {key: label for key, label, *_ in AGE_BUCKETS},
        "totals": {"owed": sum(m["owed"] for m in months), "paid": sum(m["paid"] for m in months),
                   "unpaid": sum(m["unpaid"] for m in months)},
    })


@login_required
def received(request):
    """The payments received in a subtree (the "paid" figures link here)."""
    form = ArrearsForm(request.GET or None)
    root, _roots = _root(request, form)
    start = _month_param(request.GET.get("start"))
    end = _month_param(request.GET.get("end"))
    source = request.GET.get("source", "")
    allocations = selectors.allocations_of(user=request.user, root=root, source=source if source in Source.values else "",
                                           start=start, end=end)
    return render_page(request, "payments/received.html", {
        "root": root, "page": paginate(request, allocations), "start": start, "end": end, "query": query_without_page(request),
    }, partial="results")


def _month_param(value):
    try:
        year, month = (int(x) for x in (value or "").split("-"))
        return datetime.date(year, month, 1)
    except (TypeError, ValueError):
        return None

