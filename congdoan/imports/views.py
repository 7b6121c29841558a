import io

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from congdoan.accounts.choices import Action
from congdoan.core import scoping
from congdoan.core.errors import DomainError
from congdoan.core.views import form_error, paginate, render_page
from congdoan.imports import exports, services
from congdoan.imports.choices import ExportStatus
from congdoan.imports.forms import ImportUploadForm
from congdoan.imports.models import ExportJob, ImportJob
from congdoan.imports.uploads import SizeLimitUploadHandler, declared_too_large
from congdoan.members.forms import MemberFilterForm
from congdoan.members.selectors import member_search
from congdoan.organizations.models import Unit

ERRORS_PER_PAGE = 100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _import_jobs(user):
    return ImportJob.objects.restrict(user, Action.CHANGE).filter(importer=user).select_related("scope_unit")


def _export_jobs(user):
    return ExportJob.objects.restrict(user, Action.VIEW).filter(requested_by=user)


@csrf_exempt  # checked by _import_start once the upload limit is in place (see uploads.py)
@login_required
def import_start(request):
    units = services.import_scope_units(request.user)
    if not units:
        raise Http404
    if request.method == "POST":
        if declared_too_large(request, settings.IMPORT_MAX_BYTES):
            return _too_large(request, units)  # the body is never read
        request.upload_handlers.insert(0, SizeLimitUploadHandler(request, settings.IMPORT_MAX_BYTES))
    return _import_start(request, units)


@csrf_protect
def _import_start(request, units):
    data, files = (request.POST, request.FILES) if request.method == "POST" else (None, None)
    if getattr(request, "upload_too_large", False):  # set by the upload handler while parsing the body
        return _too_large(request, units)
    form = ImportUploadForm(data, files, units=units)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.import_job_create(actor=request.user, upload=form.cleaned_data["file"],
                                             scope_unit=form.cleaned_data["unit"], language=translation.get_language())
        except DomainError as exc:
            form_error(form, exc)
        else:
            return redirect("imports:import_job", job.pk)
    return render_page(request, "imports/import_start.html", {
        "form": form, "jobs": _import_jobs(request.user)[:20], "max_mb": settings.IMPORT_MAX_BYTES / (1024 * 1024),
    }, status=422 if form.is_bound else 200)


def _too_large(request, units):
    return render_page(request, "imports/import_start.html", {
        "form": ImportUploadForm(units=units), "upload_error": services.file_too_large_error().message,
        "jobs": _import_jobs(request.user)[:20], "max_mb": settings.IMPORT_MAX_BYTES / (1024 * 1024),
    }, status=413)


@login_required
def import_template(request):
    if not scoping.granted_paths(request.user, Action.CHANGE):
        raise Http404
    buffer = io.BytesIO()
    exports.write_template(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="mau-danh-sach-doan-vien.xlsx"'
    return response


@login_required
def import_job_detail(request, pk):
    job = get_object_or_404(_import_jobs(request.user), pk=pk)
    return render_page(request, "imports/import_job.html", {
        "job": job, "errors": paginate(request, job.errors, per_page=ERRORS_PER_PAGE),
    }, partial="status")


@login_required
@require_POST
def import_job_confirm(request, pk):
    job = get_object_or_404(_import_jobs(request.user), pk=pk)
    try:
        services.import_job_confirm(actor=request.user, job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("imports:import_job", job.pk)


@login_required
def member_export(request):
    """The member list's filters, exported to .xlsx: at once when small, in the background when large."""
    form = MemberFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    unit = None
    if filters.get("unit"):
        unit = Unit.objects.restrict(request.user).filter(pk=filters["unit"]).first()
        if unit is None:
            raise Http404
    if not scoping.granted_paths(request.user, Action.VIEW):
        raise Http404
    wanted = {name: filters.get(name) or "" for name in exports.FILTER_NAMES}
    if unit is not None and request.GET.get("direct") == "1":
        wanted["direct"] = True
    if exports.parse_year(request.GET.get("admitted_year")):
        wanted["admitted_year"] = exports.parse_year(request.GET.get("admitted_year"))
    job = exports.export_job_create(actor=request.user, filters=wanted, unit=unit, language=translation.get_language())
    count = member_search(user=request.user, unit=unit, **job.filters).count()
    if count <= exports.export_sync_max_rows():
        job = exports.export_job_run(job_pk=job.pk)
        if job.status != ExportStatus.DONE:
            messages.error(request, _("The export failed. Try again later."))
            return redirect("members:member_list")
        return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.filename, content_type=XLSX)
    exports.export_job_queue(job=job)
    return redirect("imports:export_job", job.pk)


@login_required
def export_job_detail(request, pk):
    job = get_object_or_404(_export_jobs(request.user), pk=pk)
    return render_page(request, "imports/export_job.html", {"job": job}, partial="status")


@login_required
def export_download(request, pk):
    job = get_object_or_404(_export_jobs(request.user).filter(status=ExportStatus.DONE), pk=pk)
    if not job.file:
        raise Http404
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.filename, content_type=XLSX)
