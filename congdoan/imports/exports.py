"""Member export to .xlsx (the import's own layout, so an exported file can be edited and imported
again), and the empty template. Files are written with XlsxWriter in constant_memory mode: one row
in memory at a time, whatever the size (see docs/import.md for the measurements behind the choice).

Rows come from members.selectors.member_search, so the export holds exactly what the member list
shows the same official. CCCD, ethnicity and religion are written only when the official may see
sensitive data on the whole subtree exported; every export is written to the audit log.
"""

import datetime
import logging
import os
import tempfile

import xlsxwriter
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.imports.choices import ExportStatus
from congdoan.imports.columns import (
    COLUMN_BY_KEY, COLUMNS, EDUCATION_LABELS, EXPORT_EXTRA_HEADERS, GENDER_LABELS, SENSITIVE_KEYS,
)
from congdoan.imports.models import ExportJob
from congdoan.imports.progress import Progress
from congdoan.members.choices import Education, MemberStatus
from congdoan.members.selectors import member_search
from congdoan.organizations.models import Unit

log = logging.getLogger(__name__)

#: the filters of the member list that an export takes over
FILTER_NAMES = ("q", "gender", "age_band", "status", "employer_type")
#: member field read for each column of the file
SOURCE_FIELD = {"unit_code": "unit__code"}
SHEET_ROWS = 1_000_000  # an .xlsx sheet holds 1,048,576 rows: larger exports continue on a new sheet
DATE_KEYS = {"date_of_birth", "joined_on"}


def parse_year(value) -> int | None:
    value = str(value or "").strip()
    return int(value) if value.isdigit() and 1900 <= int(value) <= 2999 else None


def export_sync_max_rows() -> int:
    """Exports up to this many rows are written while the official waits; larger ones in the background."""
    return int(getattr(settings, "EXPORT_SYNC_MAX_ROWS", 5000))


def export_roots(user, unit: Unit | None) -> list[str]:
    return [unit.path] if unit is not None else scoping.granted_paths(user, Action.VIEW)


def may_export_sensitive(user, unit: Unit | None) -> bool:
    """True when ``user`` may see sensitive data on the whole subtree the export covers."""
    roots = export_roots(user, unit)
    return bool(roots) and all(scoping.can(user, Action.VIEW_SENSITIVE, path) for path in roots)


def export_keys(include_sensitive: bool) -> list[str]:
    return [c.key for c in COLUMNS if include_sensitive or c.key not in SENSITIVE_KEYS]


# -- services ----------------------------------------------------------------------------------------
@transaction.atomic
def export_job_create(*, actor, filters: dict, unit: Unit | None = None, language: str = "vi") -> ExportJob:
    """Record an export request under ``actor``'s scope (the unit filter, or all his units)."""
    if unit is not None and not scoping.can(actor, Action.VIEW, unit.path):
        raise NotFoundInScope()
    roots = export_roots(actor, unit)
    if not roots:
        raise NotFoundInScope()
    clean = {name: str(filters.get(name) or "") for name in FILTER_NAMES if filters.get(name)}
    # the member list's extra criteria (links from the dashboard), kept with their types
    if unit is not None and filters.get("direct"):
        clean["direct"] = True
    if filters.get("admitted_year"):
        clean["admitted_year"] = int(filters["admitted_year"])
    return ExportJob.objects.create(requested_by=actor, unit=unit, scope_path=roots[0], filters=clean,
                                    include_sensitive=may_export_sensitive(actor, unit),
                                    language=language or settings.LANGUAGE_CODE)


def export_job_queue(*, job: ExportJob):
    from congdoan.imports.tasks import export_task

    transaction.on_commit(lambda: export_task(job.pk))


def export_job_run(*, job_pk: int) -> ExportJob:
    """Write the file of an export job and the audit entry. Called inline for small exports, by the task for large ones."""
    updated = ExportJob.objects.filter(pk=job_pk, status=ExportStatus.WAITING).update(status=ExportStatus.RUNNING)
    job = ExportJob.objects.select_related("requested_by", "unit").get(pk=job_pk)
    if not updated:
        return job
    progress = Progress(ExportJob, job.pk)
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            _export(job, progress)
    except Exception:
        log.exception("export job %s failed", job_pk)
        job.status = ExportStatus.FAILED
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
    finally:
        progress.close()
    return job


def _export(job: ExportJob, progress: Progress):
    user = job.requested_by
    unit = None
    if job.unit_id is not None:
        unit = Unit.objects.restrict(user).filter(pk=job.unit_id).first()
        if unit is None:
            raise NotFoundInScope()
    # the permission is decided again now: a role may have been revoked since the request
    include_sensitive = job.include_sensitive and may_export_sensitive(user, unit)
    members = member_search(user=user, unit=unit, **job.filters).order_by("unit__path", "name_normalized", "id")
    total = members.count()
    progress.update(force=True, rows_total=total)
    keys = export_keys(include_sensitive)
    fields = [SOURCE_FIELD.get(k, k) for k in keys] + ["unit__name", "status"]
    rows = members.values_list(*fields).iterator(chunk_size=5000)
    os.makedirs(settings.MEDIA_ROOT, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".xlsx", dir=settings.MEDIA_ROOT, delete=False) as tmp:
        tmp_path = tmp.name
    try:
        count = write_members_xlsx(tmp_path, rows, keys=keys,
                                   on_progress=lambda n: progress.update(rows_done=n))
        with transaction.atomic():
            with open(tmp_path, "rb") as fh:
                job.file.save(f"{job.pk}-{timezone.now():%Y%m%d%H%M%S}.xlsx", File(fh), save=False)
            job.status, job.rows_total, job.rows_done, job.finished_at = ExportStatus.DONE, count, count, timezone.now()
            job.include_sensitive = include_sensitive
            job.save(update_fields=["file", "status", "rows_total", "rows_done", "finished_at", "include_sensitive"])
            audit_record(actor=user, action="member.exported", obj=job, unit_path=job.scope_path,
                         changes={"rows": count, "filters": job.filters, "unit_id": job.unit_id,
                                  "sensitive": include_sensitive})
    finally:
        os.unlink(tmp_path)


# -- files ---------------------------------------------------------------------------------------------
def write_members_xlsx(target, rows, *, keys: list[str], on_progress=None, sheet_rows: int = SHEET_ROWS) -> int:
    """Write member rows (values in the order of ``keys`` + unit name + status) to an .xlsx file."""
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_numbers": False,
                                            "strings_to_formulas": False, "strings_to_urls": False})
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    headers = [COLUMN_BY_KEY[k].header for k in keys] + EXPORT_EXTRA_HEADERS
    widths = [COLUMN_BY_KEY[k].width for k in keys] + [30, 14]
    date_positions = {i for i, k in enumerate(keys) if k in DATE_KEYS}
    gender_pos = keys.index("gender")
    education_pos = keys.index("education_level")
    status_pos = len(keys) + 1
    status_labels = {value: str(label) for value, label in MemberStatus.choices}
    education_labels = {value: EDUCATION_LABELS.get(value, str(label)) for value, label in Education.choices}

    def new_sheet(number):
        sheet = workbook.add_worksheet(_("Members") if number == 1 else f"{_('Members')} {number}")
        for i, width in enumerate(widths):
            sheet.set_column(i, i, width)
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, headers, bold)
        return sheet

    sheets = 1
    sheet = new_sheet(sheets)
    write_string, write_datetime = sheet.write_string, sheet.write_datetime
    row_index = 0
    count = 0
    for values in rows:
        if row_index >= sheet_rows:
            sheets += 1
            sheet = new_sheet(sheets)
            write_string, write_datetime = sheet.write_string, sheet.write_datetime
            row_index = 0
        row_index += 1
        count += 1
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            if col in date_positions:
                write_datetime(row_index, col, value, date_format)
            elif col == gender_pos:
                write_string(row_index, col, GENDER_LABELS.get(value, value))
            elif col == education_pos:
                write_string(row_index, col, education_labels.get(value, value))
            elif col == status_pos:
                write_string(row_index, col, status_labels.get(value, value))
            else:
                write_string(row_index, col, str(value))
        if on_progress is not None and count % 5000 == 0:
            on_progress(count)
    workbook.close()
    return count


def write_template(target):
    """The empty member file: headers, cell formats that keep leading zeros and dates, drop-downs, instructions."""
    workbook = xlsxwriter.Workbook(target)
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    required = workbook.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1, "text_wrap": True})
    text_format = workbook.add_format({"num_format": "@"})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    sheet = workbook.add_worksheet(_("Members"))
    last_row = 100_000
    for i, column in enumerate(COLUMNS):
        cell_format = date_format if column.key in DATE_KEYS else text_format
        sheet.set_column(i, i, column.width, cell_format)
        sheet.write_string(0, i, column.header, required if column.required else bold)
    gender_col = [c.key for c in COLUMNS].index("gender")
    education_col = [c.key for c in COLUMNS].index("education_level")
    sheet.data_validation(1, gender_col, last_row, gender_col, {"validate": "list", "source": list(GENDER_LABELS.values())})
    sheet.data_validation(1, education_col, last_row, education_col,
                          {"validate": "list", "source": list(EDUCATION_LABELS.values()), "error_type": "warning"})
    for col, key in enumerate(c.key for c in COLUMNS):
        if key in DATE_KEYS:
            sheet.data_validation(1, col, last_row, col, {
                "validate": "date", "criteria": "between", "minimum": datetime.date(1900, 1, 1),
                "maximum": datetime.date(2100, 12, 31), "error_type": "warning",
                "input_message": "dd/mm/yyyy"})
    sheet.freeze_panes(1, 0)

    guide = workbook.add_worksheet(_("Instructions"))
    guide.set_column(0, 0, 24)
    guide.set_column(1, 1, 90)
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    guide.write_row(0, 0, [_("Column"), _("What to write")], bold)
    for i, (column, help_text) in enumerate(_column_help(), start=1):
        guide.write_string(i, 0, column.header + (" *" if column.required else ""), required if column.required else bold)
        guide.write_string(i, 1, help_text, wrap)
    guide.write_string(len(COLUMNS) + 2, 1, _("Columns marked * are required. Keep the members on the first sheet, "
                                              "one member per row, from row 2. Importing the same file again updates "
                                              "the members found by their citizen ID and creates no duplicates."), wrap)
    workbook.close()


def _column_help():
    helps = {
        "full_name": _("Full name with accents, e.g. Nguyễn Thị Lan."),
        "date_of_birth": _("Date of birth as dd/mm/yyyy, e.g. 17/05/1990."),
        "gender": _("Nam or Nữ."),
        "citizen_id": _("The 12 digits of the citizen ID (CCCD), written as text so that the leading zeros stay. "
                        "It identifies the member: a second import with the same CCCD updates the member."),
        "ethnicity": _("Ethnicity, e.g. Kinh, Tày, Mường."),
        "religion": _("Religion, or Không."),
        "education_level": _("One of: %(values)s.") % {"values": ", ".join(EDUCATION_LABELS.values())},
        "qualification": _("Professional qualification, e.g. Kỹ sư cơ khí."),
        "phone": _("Mobile number, e.g. 0987654321."),
        "email": _("Email address (optional)."),
        "occupation": _("Job, e.g. Công nhân may."),
        "union_position": _("Union position, e.g. Tổ trưởng công đoàn (optional)."),
        "joined_on": _("Date of joining the union as dd/mm/yyyy; the member must then be at least 15."),
        "unit_code": _("Code of the grassroots union, sub-union or union group the member belongs to (see the units page)."),
        "code": _("Member code: leave empty for new members (a code is given); existing members keep theirs."),
    }
    return [(c, str(helps[c.key])) for c in COLUMNS]
