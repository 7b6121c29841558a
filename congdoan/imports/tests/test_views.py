"""Pages: upload, the job page polled by HTMX, confirm, the template, and the upload size limit."""

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, RequestFactory, encode_multipart
from django.urls import reverse
from python_calamine import CalamineWorkbook

from congdoan.imports import uploads, views
from congdoan.imports.choices import ImportStatus
from congdoan.imports.columns import COLUMNS
from congdoan.imports.models import ImportJob
from congdoan.imports.tests.conftest import member_row, xlsx_bytes
from congdoan.members.models import Member

pytestmark = pytest.mark.django_db


def upload(client, unit, data, name="ds.xlsx"):
    return client.post(reverse("imports:import_start"), {"unit": unit.pk, "file": SimpleUploadedFile(name, data)})


def test_upload_check_and_import_through_the_pages(personas, login, django_capture_on_commit_callbacks):
    client = login(personas.province_a_chair)
    page = client.get(reverse("imports:import_start"))
    assert page.status_code == 200 and reverse("imports:import_template").encode() in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, personas.province_a, xlsx_bytes([member_row()]))
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("imports:import_job", args=[job.pk])
    assert job.status == ImportStatus.READY and job.importer == personas.province_a_chair

    detail = client.get(reverse("imports:import_job", args=[job.pk]))
    assert detail.status_code == 200 and reverse("imports:import_confirm", args=[job.pk]).encode() in detail.content
    assert b"every 1s" not in detail.content  # finished: no more polling
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and Member.objects.filter(citizen_id="025191000001").exists()


def test_running_job_polls_every_second_and_htmx_gets_the_partial(personas, login):
    client = login(personas.province_a_chair)
    upload(client, personas.province_a, xlsx_bytes([member_row()]))  # on_commit never runs here: stays waiting
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.CHECKING, rows_total=1000, rows_done=250, phase="validating")
    full = client.get(reverse("imports:import_job", args=[job.pk]))
    assert b'hx-trigger="every 1s"' in full.content and b"<html" in full.content and b'value="250"' in full.content
    partial = client.get(reverse("imports:import_job", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b'id="job-status"' in partial.content


def test_error_list_query_count_does_not_grow(personas, login, django_assert_num_queries):
    client = login(personas.province_a_chair)
    upload(client, personas.province_a, xlsx_bytes([member_row()]))
    job = ImportJob.objects.get()
    url = reverse("imports:import_job", args=[job.pk])

    def with_errors(n):
        errors = [{"row": i + 2, "column": "Ngày sinh", "cell": f"B{i + 2}", "code": "invalid_date",
                   "message": "bad", "value": "x"} for i in range(n)]
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.INVALID, errors=errors, error_count=n)

    with_errors(1)
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    with_errors(100)
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(url)
    assert len(one.captured_queries) <= 6
    assert response.content.count(b"B101") == 1


@pytest.mark.parametrize("persona", ["outsider", "accountant_a", "member_user"])
def test_officials_without_change_rights_get_404(personas, login, persona):
    client = login(getattr(personas, persona))
    assert client.get(reverse("imports:import_start")).status_code == 404
    assert client.get(reverse("imports:import_template")).status_code == 404


def test_a_job_is_visible_to_its_importer_only(personas, login):
    client = login(personas.province_a_chair)
    upload(client, personas.province_a, xlsx_bytes([member_row()]))
    job = ImportJob.objects.get()
    for other in (personas.province_b_chair, personas.national_chair, personas.grassroots_a_chair):
        other_client = login(other)
        assert other_client.get(reverse("imports:import_job", args=[job.pk])).status_code == 404
        assert other_client.post(reverse("imports:import_confirm", args=[job.pk])).status_code == 404


def test_province_b_cannot_pick_province_a(personas, login):
    client = login(personas.province_b_chair)
    response = upload(client, personas.province_a, xlsx_bytes([member_row()]))
    assert response.status_code == 422 and not ImportJob.objects.exists()


def test_template_has_the_headers_and_round_trips(personas, login, tmp_path):
    client = login(personas.grassroots_a_chair)
    response = client.get(reverse("imports:import_template"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxmlformats")
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"".join(response.streaming_content) if response.streaming else response.content)
    workbook = CalamineWorkbook.from_path(str(path))
    header = next(workbook.get_sheet_by_index(0).iter_rows())
    assert header == [c.header for c in COLUMNS]
    assert len(workbook.sheet_names) == 2


def test_upload_over_the_declared_limit_is_refused_unread(personas, settings):
    """The body of an over-limit upload is never read: the declared length decides."""
    settings.IMPORT_MAX_BYTES = 64 * 1024
    body = encode_multipart(BOUNDARY, {"unit": personas.province_a.pk,
                                       "file": SimpleUploadedFile("big.csv", b"x" * (2 * 1024 * 1024))})
    stream = CountingStream(body)
    request = _request(stream, len(body), personas.province_a_chair)
    response = views.import_start(request)
    assert response.status_code == 413 and stream.bytes_read == 0
    assert "MB" in response.content.decode() and not ImportJob.objects.exists()


def test_upload_stops_as_soon_as_the_file_passes_the_limit(personas, settings, monkeypatch):
    """When the declared length passes, the upload handler still stops at the limit and reads no further."""
    settings.IMPORT_MAX_BYTES = 64 * 1024
    monkeypatch.setattr(uploads, "MULTIPART_OVERHEAD", 10 * 1024 * 1024)
    body = encode_multipart(BOUNDARY, {"unit": personas.province_a.pk,
                                       "file": SimpleUploadedFile("big.csv", b"x" * (4 * 1024 * 1024))})
    stream = CountingStream(body)
    request = _request(stream, len(body), personas.province_a_chair)
    response = views.import_start(request)
    assert response.status_code == 413 and not ImportJob.objects.exists()
    assert stream.bytes_read < len(body) / 4


class CountingStream(io.BytesIO):
    bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.bytes_read += len(data)
        return data


def _request(stream, length, user):
    from django.core.handlers.wsgi import WSGIRequest

    environ = RequestFactory()._base_environ(
        PATH_INFO=reverse("imports:import_start"), REQUEST_METHOD="POST", CONTENT_TYPE=MULTIPART_CONTENT,
        CONTENT_LENGTH=str(length), **{"wsgi.input": stream})
    request = WSGIRequest(environ)
    request.user = user
    request._dont_enforce_csrf_checks = True
    return request
