"""Export: the member list's filters and scope, sensitive columns, background jobs, audit, round trip."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from python_calamine import CalamineWorkbook

from congdoan.accounts.models import RoleAssignment
from congdoan.audit.models import AuditEntry
from congdoan.imports import exports, services
from congdoan.imports.choices import ExportStatus, ImportStatus
from congdoan.imports.models import ExportJob

pytestmark = pytest.mark.django_db


def read_xlsx(content: bytes, tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_bytes(content)
    rows = list(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).iter_rows())
    return rows[0], rows[1:]


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_small_export_downloads_at_once_with_sensitive_columns(personas, login, tmp_path):
    client = login(personas.province_a_chair)
    response = client.get(reverse("imports:member_export"))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    header, rows = read_xlsx(body(response), tmp_path)
    assert header[:4] == ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD"] and "Tên đơn vị" in header
    cids = {r[3] for r in rows}
    assert cids == {personas.member_a.citizen_id, personas.member_a2.citizen_id}  # province A only
    an = next(r for r in rows if r[0] == "Nguyễn Văn An")
    assert an[1].strftime("%d/%m/%Y") == "03/02/1988" and an[2] == "Nam" and an[header.index("Mã đơn vị")] == "PA-G1"
    entry = AuditEntry.objects.get(action="member.exported")
    assert entry.actor == personas.province_a_chair and entry.changes["rows"] == 2 and entry.changes["sensitive"] is True
    assert entry.unit_path == personas.province_a.path


def test_without_view_sensitive_the_columns_are_left_out(personas, login, tmp_path):
    client = login(personas.accountant_a)  # may view, may not see sensitive data
    header, rows = read_xlsx(body(client.get(reverse("imports:member_export"))), tmp_path)
    assert "Số CCCD" not in header and "Dân tộc" not in header and "Tôn giáo" not in header
    assert [r[0] for r in rows] == ["Nguyễn Văn An"]
    flat = " ".join(str(c) for r in rows for c in r)
    assert personas.member_a.citizen_id not in flat


def test_sensitive_only_when_allowed_on_the_whole_scope(personas):
    # a committee member of province B (view only) who is staff in grassroots A: sensitive in A only
    user = personas.outsider
    RoleAssignment.objects.create(user=user, unit=personas.province_b, role="committee_member")
    RoleAssignment.objects.create(user=user, unit=personas.grassroots_a, role="staff")
    assert exports.may_export_sensitive(user, personas.grassroots_a)
    assert not exports.may_export_sensitive(user, personas.province_b)
    assert not exports.may_export_sensitive(user, None)  # A and B together


def test_filters_apply_and_scope_holds(personas, login, tmp_path):
    client = login(personas.province_b_chair)
    header, rows = read_xlsx(body(client.get(reverse("imports:member_export"))), tmp_path)
    assert [r[0] for r in rows] == ["Lê Văn Bình"]
    # province A's unit as the filter: 404, not an empty file
    assert client.get(reverse("imports:member_export"), {"unit": personas.grassroots_a.pk}).status_code == 404
    client = login(personas.national_chair)
    _, rows = read_xlsx(body(client.get(reverse("imports:member_export"), {"gender": "female"})), tmp_path)
    assert [r[0] for r in rows] == ["Trần Thị Bích"]
    _, rows = read_xlsx(body(client.get(reverse("imports:member_export"), {"unit": personas.upper_b.pk})), tmp_path)
    assert [r[0] for r in rows] == ["Lê Văn Bình"]
    assert login(personas.outsider).get(reverse("imports:member_export")).status_code == 404


def test_large_export_runs_in_the_background(personas, login, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.EXPORT_SYNC_MAX_ROWS = 1
    client = login(personas.national_chair)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(reverse("imports:member_export"))
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("imports:export_job", args=[job.pk])
    assert job.status == ExportStatus.DONE and job.rows_total == 3
    page = client.get(response["Location"])
    assert reverse("imports:export_download", args=[job.pk]).encode() in page.content
    _, rows = read_xlsx(body(client.get(reverse("imports:export_download", args=[job.pk]))), tmp_path)
    assert len(rows) == 3
    for other in (personas.province_a_chair, personas.province_b_chair):
        assert login(other).get(reverse("imports:export_download", args=[job.pk])).status_code == 404


def test_running_export_page_polls(personas, login):
    job = exports.export_job_create(actor=personas.province_a_chair, filters={})
    client = login(personas.province_a_chair)
    page = client.get(reverse("imports:export_job", args=[job.pk]))
    assert b'hx-trigger="every 1s"' in page.content


def test_sheets_roll_over_past_the_row_limit(tmp_path):
    import datetime
    keys = exports.export_keys(False)
    row = ["Tên", datetime.date(1990, 1, 1), "male", "", "", "", "", "", "", datetime.date(2010, 1, 1), "G1", "DV1", "U", "active"]
    assert len(row) == len(keys) + 2
    path = tmp_path / "x.xlsx"
    assert exports.write_members_xlsx(str(path), iter([row] * 5), keys=keys, sheet_rows=2) == 5
    workbook = CalamineWorkbook.from_path(str(path))
    assert len(workbook.sheet_names) == 3
    assert [len(list(workbook.get_sheet_by_index(i).iter_rows())) for i in range(3)] == [3, 3, 2]


def test_export_then_import_changes_nothing(personas, login, tmp_path, django_capture_on_commit_callbacks):
    client = login(personas.province_a_chair)
    content = body(client.get(reverse("imports:member_export")))
    with django_capture_on_commit_callbacks(execute=True):
        job = services.import_job_create(actor=personas.province_a_chair, scope_unit=personas.province_a,
                                         upload=SimpleUploadedFile("export.xlsx", content))
    job.refresh_from_db()
    assert job.status == ImportStatus.READY, job.errors
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 2)


def test_the_member_lists_extra_criteria_are_exported(personas, login, tmp_path):
    client = login(personas.province_a_chair)
    response = client.get(reverse("imports:member_export"), {"unit": personas.grassroots_a.pk, "direct": "1"})
    _, rows = read_xlsx(body(response), tmp_path)
    assert [r[0] for r in rows] == ["Nguyễn Văn An"]
    assert ExportJob.objects.get().filters == {"direct": True}
    response = client.get(reverse("imports:member_export"), {"admitted_year": "2015"})  # personas joined in 2015
    _, rows = read_xlsx(body(response), tmp_path)
    assert len(rows) == 2
