"""Pages of finance reports: thin; the reads are in selectors (restricted), the writes in services.

Reading the collection dashboard and the revenue report needs ``view`` on the unit (aggregated
figures); the employer list, receipts, remittances, reminders and every export naming employers
need ``finance``. Anything outside the caller's scope answers 404, exports included.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from congdoan.accounts.choices import Action
from congdoan.core import scoping
from congdoan.core.errors import DomainError
from congdoan.core.views import form_error, paginate, query_without_page, render_page
from congdoan.finance.choices import Source
from congdoan.finance_reports import exports, selectors, services
from congdoan.finance_reports.choices import ExportFormat
from congdoan.finance_reports.errors import ReportError
from congdoan.finance_reports.forms import EmployerContactForm, ReminderScheduleForm, ReminderStartForm
from congdoan.finance_reports.pdf import reminder_pdf as draw_reminder_pdf
from congdoan.finance_reports.periods import parse_month, parse_period


def _unit_param(value) -> int | None:
    """The ``unit`` of the query string; a malformed value means "my whole scope"."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 16 else None


def _scope(request, action: str):
    """(root, roots, period or None, the period's error or None) from the query string; 404 outside scope."""
    root, roots = selectors.choose_root(request.user, _unit_param(request.GET.get("unit")), action)
    try:
        period, error = parse_period(request.GET.get("period", ""), timezone.localdate()), None
    except ReportError as exc:
        period, error = None, exc
    return root, roots, period, error


def _base(root, roots, period, error, request) -> dict:
    this_month = timezone.localdate().replace(day=1)
    following = period.next() if period else None
    return {"root": root, "roots": roots, "period": period, "error": error, "period_text": request.GET.get("period", "")[:20],
            "previous_period": period.previous() if period else None,
            "next_period": following if following and following.start <= this_month else None,
            "query": query_without_page(request), "can_finance": scoping.can(request.user, Action.FINANCE, root.path)}


def _export(request, report: exports.Report, *, name: str, root, period, rows: int):
    """The report as a download in the format asked for (``?export=xlsx|pdf``), audited."""
    fmt = request.GET.get("export")
    services.report_exported(actor=request.user, report=name, root=root, period_key=period.key, fmt=fmt, rows=rows)
    if fmt == ExportFormat.XLSX:
        return FileResponse(exports.write_xlsx(report), as_attachment=True, filename=f"{report.slug}.xlsx",
                            content_type=exports.XLSX_TYPE)
    response = HttpResponse(exports.write_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.slug}.pdf"'
    return response


def _wants_export(request, period) -> bool:
    return period is not None and request.GET.get("export") in ExportFormat.values


# -- the collection dashboard --------------------------------------------------------------------------------------
@login_required
@require_GET
def dashboard(request):
    """Collection rates and arrears of a subtree for a period, per child branch (``?unit=`` drills down)."""
    root, roots, period, error = _scope(request, Action.VIEW)
    report = selectors.collection_report(user=request.user, root=root, roots=roots, period=period,
                                         today=timezone.localdate()) if period else None
    ctx = {**_base(root, roots, period, error, request), "report": report,
           "ancestors": report.ancestors if report else selectors.ancestors_in_scope(request.user, root)}
    return render_page(request, "finance_reports/dashboard.html", ctx, status=422 if error else 200)


# -- the employer list: arrears by employer --------------------------------------------------------------------------
@login_required
@require_GET
def employers(request):
    """Every grassroots union (employer) of a subtree with its figures for the period and its arrears;
    ``bucket`` keeps those in arrears (``any``) or with arrears of one age. Exports to .xlsx and PDF."""
    root, roots, period, error = _scope(request, Action.FINANCE)
    ctx = _base(root, roots, period, error, request)
    bucket = request.GET.get("bucket", "")
    bucket = bucket if bucket in ("any", *selectors.BUCKET_KEYS) else ""
    q = request.GET.get("q", "").strip()[:100]
    rows, totals, as_of = [], selectors.employer_totals([]), None
    if period:
        as_of = period.as_of(timezone.localdate())
        rows = selectors.filter_employer_rows(
            selectors.employer_rows(user=request.user, root=root, period=period, as_of=as_of, with_contacts=True), bucket=bucket, q=q)
        totals = selectors.employer_totals(rows)
        if _wants_export(request, period):
            report = exports.employers_export(root=root, period=period, as_of=as_of, rows=rows, totals=totals)
            return _export(request, report, name="employers", root=root, period=period, rows=len(rows))
    ctx.update({"page": paginate(request, rows), "totals": totals, "bucket": bucket, "q": q, "as_of": as_of,
                "bucket_labels": selectors.BUCKET_LABELS,
                "payments_url": (reverse("payments:arrears") + f"?unit={root.pk}&as_of={as_of:%m/%Y}"
                                 + (f"&bucket={bucket}" if bucket else "")) if as_of else ""})
    return render_page(request, "finance_reports/employers.html", ctx, partial="results", status=422 if error else 200)


# -- receipts: the "paid" figures --------------------------------------------------------------------------------------
@login_required
@require_GET
def receipts(request):
    """The money the ledger received for a subtree's grassroots unions for the months of a period."""
    root, roots, period, error = _scope(request, Action.FINANCE)
    source = request.GET.get("source", "")
    source = source if source in Source.values else ""
    ctx = _base(root, roots, period, error, request)
    found = selectors.receipts_of(user=request.user, root=root, period=period, source=source) if period else None
    ctx.update({"source": source, "sources": Source.choices,
                "page": paginate(request, found) if found is not None else None,
                "totals": selectors.receipt_totals(found) if found is not None else {"count": 0, "amount": 0}})
    return render_page(request, "finance_reports/receipts.html", ctx, partial="results", status=422 if error else 200)


# -- revenue ---------------------------------------------------------------------------------------------------------
@login_required
@require_GET
def revenue(request):
    """Revenue kept by the units of a subtree per month, level and source; .xlsx and PDF."""
    root, roots, period, error = _scope(request, Action.VIEW)
    report = selectors.revenue_report(user=request.user, root=root, period=period) if period else None
    if report is not None and _wants_export(request, period):
        return _export(request, exports.revenue_export(root=root, period=period, report=report), name="revenue", root=root,
                       period=period, rows=len(report["detail"]))
    ctx = {**_base(root, roots, period, error, request), "report": report}
    return render_page(request, "finance_reports/revenue.html", ctx, status=422 if error else 200)


# -- remittances -----------------------------------------------------------------------------------------------------
@login_required
@require_GET
def remittances(request):
    """What each unit of a subtree owed its upper levels, added, remitted and still owes; .xlsx and PDF."""
    root, roots, period, error = _scope(request, Action.FINANCE)
    report = selectors.remittance_report(user=request.user, root=root, period=period) if period else None
    if report is not None and _wants_export(request, period):
        return _export(request, exports.remittances_export(root=root, period=period, report=report), name="remittances", root=root,
                       period=period, rows=len(report["rows"]))
    ctx = {**_base(root, roots, period, error, request), "report": report}
    return render_page(request, "finance_reports/remittances.html", ctx, status=422 if error else 200)


# -- reminders -------------------------------------------------------------------------------------------------------
@login_required
def reminders(request):
    """Reminders sent in a subtree; the form that sends the reminders of every employer in arrears, and
    the one that sends them every month (``ReminderSchedule``, told apart by its ``schedule`` field)."""
    data = request.POST if request.method == "POST" else None
    unit = _unit_param(data.get("unit") if data is not None else request.GET.get("unit"))
    root, roots = selectors.choose_root(request.user, unit, Action.FINANCE)
    schedule = selectors.reminder_schedule_of(request.user, root)
    scheduling = data is not None and "schedule" in data
    form = ReminderStartForm(None if scheduling else data, initial={"unit": root.pk})
    schedule_form = ReminderScheduleForm(data if scheduling else None, initial={
        "day_of_month": schedule.day_of_month if schedule else 5, "enabled": schedule.enabled if schedule else True,
        "language": schedule.language if schedule else translation.get_language()})
    status = 200
    if scheduling:
        if schedule_form.is_valid():
            try:
                services.reminder_schedule_save(actor=request.user, root=root, **{
                    k: schedule_form.cleaned_data[k] for k in ("day_of_month", "enabled", "language")})
            except DomainError as exc:
                form_error(schedule_form, exc)
            else:
                messages.success(request, _("The monthly reminders of %(unit)s are saved.") % {"unit": root.name})
                return redirect(reverse("finance_reports:reminders") + f"?unit={root.pk}")
        status = 422
    elif data is not None:
        if form.is_valid():
            try:
                job = services.reminder_job_create(actor=request.user, root=root, as_of=form.cleaned_data["as_of"],
                                                   force=form.cleaned_data["force"], language=translation.get_language())
            except DomainError as exc:
                form_error(form, exc)
            else:
                return redirect("finance_reports:reminder_job", job=job.pk)
        status = 422
    return render_page(request, "finance_reports/reminders.html", {
        "root": root, "roots": roots, "form": form, "schedule": schedule, "schedule_form": schedule_form,
        "query": query_without_page(request),
        "page": paginate(request, selectors.reminders_of(user=request.user, root=root)),
        "jobs": selectors.reminder_jobs_of(request.user).in_subtree(root.path)[:5],
    }, partial="results", status=status)


@login_required
def reminder_job(request, job):
    """Progress of a reminder job (polled every second while it runs), then its counts and problems."""
    job = get_object_or_404(selectors.reminder_jobs_of(request.user), pk=job)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return render_page(request, "finance_reports/reminder_job.html", {"job": job}, partial="status")


@login_required
def reminder_pdf(request, employer):
    """The reminder notice of one employer as of a month, as it would be e-mailed (a download)."""
    employer = selectors.employer_in_scope(request.user, employer)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    try:
        as_of = parse_month(request.GET.get("as_of", ""), timezone.localdate())
    except ReportError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("finance_reports:employers") + f"?unit={employer.pk}")
    facts = selectors.reminder_facts(user=request.user, employer=employer, as_of=as_of)
    sender_pk = _unit_param(request.GET.get("sender"))
    sender = selectors.report_unit(request.user, sender_pk, Action.FINANCE) if sender_pk else employer
    content = draw_reminder_pdf(facts, sender=sender, contact=selectors.contact_of(request.user, employer))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="nhac-nop-kpcd-{facts["reference"]}-{as_of:%Y-%m}.pdf"'
    return response


@login_required
def contact_edit(request, employer):
    """Where reminders to an employer go: e-mail address and contact person."""
    employer = selectors.employer_in_scope(request.user, employer)
    contact = selectors.contact_of(request.user, employer)
    initial = {"email": contact.email, "contact_person": contact.contact_person, "phone": contact.phone} if contact else {}
    form = EmployerContactForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.employer_contact_save(actor=request.user, employer=employer, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, _("The contact of %(employer)s is saved.") % {"employer": employer.employer_name or employer.name})
                return redirect(reverse("finance_reports:employers") + f"?unit={employer.pk}")
        status = 422
    return render_page(request, "finance_reports/contact_form.html", {"employer": employer, "form": form, "contact": contact},
                       status=status)
