"""The import services end to end: check (preview), confirm, import; scope; all-or-nothing."""

import datetime

import pytest
from django.db import connection, transaction
from django.db.models import Value
from django.db.models.functions import Concat
from django.core.files.uploadedfile import SimpleUploadedFile

from congdoan.audit.models import AuditEntry
from congdoan.core.errors import NotFoundInScope
from congdoan.imports import services
from congdoan.imports.choices import ImportStatus
from congdoan.imports.models import ImportJob
from congdoan.imports.reader import ImportFileError
from congdoan.imports.tests.conftest import HEADERS, csv_bytes, member_row, rewrite_sheet, xlsx_bytes
from congdoan.imports.validation import RowValidator
from congdoan.members.choices import EventKind
from congdoan.members.models import Member, MembershipEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Upload ``data`` as ``actor`` into ``unit``; the check runs (Huey immediate); optionally import."""

    def _run(actor, unit, data: bytes, *, name="doan-vien.xlsx", confirm=True) -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = services.import_job_create(actor=actor, upload=SimpleUploadedFile(name, data), scope_unit=unit)
        job.refresh_from_db()
        if confirm and job.status == ImportStatus.READY:
            with django_capture_on_commit_callbacks(execute=True):
                services.import_job_confirm(actor=actor, job=job)
            job.refresh_from_db()
        return job

    return _run


def three_rows():
    return [
        member_row(),
        member_row(name="Lê Văn Tám", gender="Nam", dob="01/01/1990", cid="025090000002", unit="PA-G2", code="TEST-01"),
        member_row(name="Đỗ Thị Lan", dob="20/10/2001", cid="001301000003", unit="PA-G1-S", joined="05/05/2022"),
    ]


def test_check_then_import_then_same_file_changes_nothing(personas, run):
    actor = personas.province_a_chair
    before = Member.objects.count()
    checked = run(actor, personas.province_a, xlsx_bytes(three_rows()), confirm=False)
    assert checked.status == ImportStatus.READY, checked.errors
    assert (checked.rows_total, checked.created_count, checked.updated_count) == (3, 3, 0)
    assert Member.objects.count() == before  # the check writes nothing

    job = run(actor, personas.province_a, xlsx_bytes(three_rows()))
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.created_count, job.updated_count, job.unchanged_count) == (3, 0, 0)
    assert Member.objects.count() == before + 3
    lan = Member.objects.get(citizen_id="001301000003")
    assert lan.full_name == "Đỗ Thị Lan" and lan.name_normalized == "do thi lan" and lan.unit == personas.sub_union_a
    assert lan.date_of_birth == datetime.date(2001, 10, 20) and lan.gender == "female" and lan.education_level == "university"
    assert lan.code.startswith("DV") and len(lan.code) == 12 and lan.status == "active"
    assert Member.objects.get(citizen_id="025090000002").code == "TEST-01"
    events = MembershipEvent.objects.filter(member__citizen_id__in=["025191000001", "025090000002", "001301000003"])
    assert sorted(events.values_list("kind", flat=True)) == [EventKind.ADMISSION] * 3
    assert events.get(member=lan).occurred_on == datetime.date(2022, 5, 5) and events.get(member=lan).to_unit == personas.sub_union_a
    entry = AuditEntry.objects.get(action="member.imported")
    assert entry.actor == actor and entry.unit_path == personas.province_a.path
    assert entry.changes["created"] == 3 and entry.changes["file_sha256"] == job.file_sha256

    stamps = dict(Member.objects.values_list("citizen_id", "updated_at"))
    again = run(actor, personas.province_a, csv_bytes(three_rows(), bom=True), name="lai.csv")
    assert again.status == ImportStatus.DONE, again.errors
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 3)
    assert Member.objects.count() == before + 3
    assert dict(Member.objects.values_list("citizen_id", "updated_at")) == stamps
    assert MembershipEvent.objects.filter(member__citizen_id="025191000001").count() == 1


def test_reimport_updates_by_citizen_id_and_moves_within_scope(personas, run):
    actor = personas.province_a_chair
    member = personas.member_a
    row = member_row(name="Nguyễn Văn An", gender="Nam", dob="03/02/1988", cid=member.citizen_id, unit="PA-G2",
                     phone="0988777666", occupation="Thợ điện")
    job = run(actor, personas.province_a, xlsx_bytes([row]))
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.created_count, job.updated_count, job.moved_count) == (0, 1, 1)
    member.refresh_from_db()
    assert (member.phone, member.occupation, member.unit) == ("0988777666", "Thợ điện", personas.grassroots_a2)
    assert member.code == personas.member_a.code  # kept
    moved = MembershipEvent.objects.get(member=member, kind=EventKind.TRANSFER)
    assert (moved.from_unit, moved.to_unit, moved.actor) == (personas.grassroots_a, personas.grassroots_a2, actor)


def test_a_citizen_id_outside_the_scope_is_not_revealed(personas, run):
    outsider = personas.member_a  # province A
    row = member_row(name="Giả Mạo", gender="Nam", dob="03/02/1988", cid=outsider.citizen_id, unit="PB-G1")
    job = run(personas.province_b_chair, personas.province_b, xlsx_bytes([row]))
    assert job.status == ImportStatus.INVALID
    [error] = job.errors
    assert error["code"] == "citizen_id_elsewhere" and error["row"] == 2
    for secret in (outsider.full_name, outsider.code, personas.grassroots_a.name, personas.grassroots_a.code):
        assert secret not in error["message"]
    outsider.refresh_from_db()
    assert outsider.unit == personas.grassroots_a and outsider.full_name == "Nguyễn Văn An"


def test_province_b_cannot_import_into_or_over_province_a(personas, run):
    with pytest.raises(NotFoundInScope):
        run(personas.province_b_chair, personas.province_a, xlsx_bytes([member_row(unit="PB-G1")]))
    job = run(personas.province_b_chair, personas.province_b, xlsx_bytes([member_row(unit="PA-G1")]))
    assert [e["code"] for e in job.errors] == ["unit_out_of_scope"]
    # a grassroots chair cannot move a member of his union into the neighbouring one
    a = personas.member_a
    row = member_row(name=a.full_name, gender="Nam", dob="03/02/1988", cid=a.citizen_id, unit="PA-G2")
    job = run(personas.grassroots_a_chair, personas.grassroots_a, xlsx_bytes([row]))
    assert [e["code"] for e in job.errors] == ["unit_out_of_scope"]
    # nor update a member of the neighbouring union by its CCCD
    a2 = personas.member_a2
    row = member_row(name="Trần Thị Bích", dob="09/07/1995", cid=a2.citizen_id, unit="PA-G1")
    job = run(personas.grassroots_a_chair, personas.grassroots_a, xlsx_bytes([row]))
    assert [e["code"] for e in job.errors] == ["citizen_id_elsewhere"]
    assert Member.objects.get(pk=a2.pk).unit == personas.grassroots_a2


def test_member_codes_given_in_the_file(personas, run):
    actor = personas.province_a_chair
    taken = member_row(cid="025191000011", code=personas.member_b.code)  # held by another member (province B)
    mismatch = member_row(name="Nguyễn Văn An", gender="Nam", dob="03/02/1988", cid=personas.member_a.citizen_id,
                          code="OTHER-1")
    job = run(actor, personas.province_a, xlsx_bytes([taken, mismatch]))
    assert sorted((e["row"], e["code"]) for e in job.errors) == [(2, "duplicate_code"), (3, "code_mismatch")]
    assert personas.member_b.full_name not in job.errors[0]["message"]


def test_random_codes_never_collide(personas, run, monkeypatch):
    """When codes must be drawn at random, a code some member already holds is drawn again."""
    monkeypatch.setattr(services, "sequential_code_start", lambda rows: None)
    original = RowValidator.new_code

    def colliding(self, row_no=None):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls <= 2:  # the first two draws hit existing members' codes
            return [personas.member_a.code, personas.member_b.code][self.calls - 1]
        return original(self, row_no)

    monkeypatch.setattr(RowValidator, "new_code", colliding)
    job = run(personas.province_a_chair, personas.province_a, xlsx_bytes(three_rows()[:1] + three_rows()[2:]))
    assert job.status == ImportStatus.DONE, job.errors
    codes = list(Member.objects.filter(citizen_id__in=["025191000001", "001301000003"]).values_list("code", flat=True))
    assert len(set(codes)) == 2 and not set(codes) & {personas.member_a.code, personas.member_b.code}
    assert all(c.startswith("DV") and len(c) == 12 for c in codes)


def test_new_codes_count_up_from_the_highest(personas, run):
    Member.objects.filter(pk=personas.member_b.pk).update(code="DV0000000100")
    Member.objects.exclude(pk=personas.member_b.pk).update(code=Concat(Value("OLD"), "id"))
    job = run(personas.province_a_chair, personas.province_a, xlsx_bytes(three_rows()))
    assert job.status == ImportStatus.DONE, job.errors
    codes = sorted(Member.objects.filter(code__startswith="DV0000000").values_list("code", flat=True))
    assert codes == ["DV0000000100", "DV0000000101", "DV0000000102"]  # the third row has its own code


def test_all_or_nothing_when_the_data_changed_after_the_check(personas, run, monkeypatch):
    """Rows are written chunk by chunk inside one transaction: an error in a later chunk undoes the earlier ones."""
    monkeypatch.setattr(services, "CHUNK_ROWS", 1)
    actor = personas.province_a_chair
    checked = run(actor, personas.province_a, xlsx_bytes(three_rows()), confirm=False)
    assert checked.status == ImportStatus.READY
    # meanwhile province B registers the third row's CCCD
    from congdoan.core.testing import make_member
    taken = make_member(personas.grassroots_b, full_name="Người Khác", dob=datetime.date(2001, 10, 20), joined_on=datetime.date(2022, 1, 1))
    Member.objects.filter(pk=taken.pk).update(citizen_id="001301000003")
    before = Member.objects.count(), MembershipEvent.objects.count(), AuditEntry.objects.filter(action="member.imported").count()
    job = services.import_job_confirm(actor=actor, job=checked)
    job = services.import_job_run(job_pk=job.pk)
    assert job.status == ImportStatus.INVALID and [e["code"] for e in job.errors] == ["citizen_id_elsewhere"]
    assert (job.created_count, job.updated_count) == (0, 0)
    after = Member.objects.count(), MembershipEvent.objects.count(), AuditEntry.objects.filter(action="member.imported").count()
    assert after == before
    assert not Member.objects.filter(citizen_id="025191000001").exists()


def test_any_row_error_means_nothing_is_written(personas, run):
    rows = three_rows() + [member_row(name="Sai Ngày", cid="025191000099", dob="30/02/1991")]
    job = run(personas.province_a_chair, personas.province_a, xlsx_bytes(rows))
    assert job.status == ImportStatus.INVALID and job.error_count == 1
    assert job.errors[0]["row"] == 5 and job.errors[0]["code"] == "invalid_date"
    assert not Member.objects.filter(citizen_id__in=["025191000001", "025090000002"]).exists()
    with pytest.raises(services.ImportJobError) as exc:
        services.import_job_confirm(actor=personas.province_a_chair, job=job)
    assert exc.value.code == "not_ready"


@pytest.mark.parametrize("data,name,code", [
    (b"", "a.csv", "file_empty"),
    (b"PK\x03\x04broken", "a.xlsx", "file_unreadable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64 + "EncryptedPackage".encode("utf-16-le"), "a.xlsx", "file_encrypted"),
    (b"name,age\r\nAn,30\r\n", "a.csv", "header_unknown"),
    ("Họ và tên,Ngày sinh,Giới tính,Số CCCD,Ngày vào công đoàn,Mã đơn vị\r\n".encode(), "a.csv", "no_rows"),
    (b"hello", "a.pdf", "file_type"),
])
def test_file_problems_end_in_a_clear_error(personas, run, data, name, code):
    try:
        job = run(personas.province_a_chair, personas.province_a, data, name=name)
    except ImportFileError as exc:  # refused at upload: empty file or wrong extension
        assert exc.code == code
        return
    assert job.status == ImportStatus.INVALID
    assert code in {e["code"] for e in job.errors}


def test_errors_point_at_the_spreadsheets_own_cells_in_a_sheet_starting_at_column_b(personas, run):
    import io

    import xlsxwriter
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    sheet = workbook.add_worksheet()
    sheet.write(0, 1, "DANH SÁCH ĐOÀN VIÊN")
    sheet.write_row(2, 1, HEADERS)
    good = member_row()
    sheet.write_row(3, 1, [good[k] for k in ("full_name", "date_of_birth", "gender", "citizen_id")])
    sheet.write_row(4, 1, ["Lê Văn Tám", "31/02/1990", "Nam", "025090000002"])
    for r in (3, 4):
        sheet.write(r, 1 + HEADERS.index("Ngày vào công đoàn"), "01/06/2015")
        sheet.write(r, 1 + HEADERS.index("Mã đơn vị"), "PA-G1")
    workbook.close()
    job = run(personas.province_a_chair, personas.province_a, buffer.getvalue(), confirm=False)
    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["cell"], e["code"]) for e in job.errors] == [(5, "C5", "invalid_date")]


def test_a_workbook_damaged_in_the_middle_writes_nothing(personas, run, monkeypatch):
    rows = [member_row(cid=f"0251910{i:05d}") for i in range(300)]

    def damage(xml):
        at = xml.index(b'<row r="200"')
        return xml[:at] + b'<row r="200"><c r="A200" <<' + xml[at + 40:]

    before = Member.objects.count()
    data = rewrite_sheet(xlsx_bytes(rows), damage)
    job = run(personas.province_a_chair, personas.province_a, data)
    assert job.status == ImportStatus.INVALID and [e["code"] for e in job.errors] == ["file_unreadable"]
    # the import itself meets the damage after writing its first chunks: they are rolled back
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
    monkeypatch.setattr(services, "CHUNK_ROWS", 50)
    written = []
    write = services.Staging.write
    monkeypatch.setattr(services.Staging, "write", lambda self, *a, **k: written.append(1) or write(self, *a, **k))
    job = services.import_job_run(job_pk=job.pk)
    assert job.status == ImportStatus.INVALID and [e["code"] for e in job.errors] == ["file_unreadable"]
    assert len(written) >= 3 and Member.objects.count() == before


def test_size_limit_is_configurable(personas, run, settings):
    settings.IMPORT_MAX_BYTES = 1024
    data = xlsx_bytes(three_rows())
    assert len(data) > 1024
    with pytest.raises(ImportFileError) as exc:
        run(personas.province_a_chair, personas.province_a, data)
    assert exc.value.code == "file_too_large"
    assert not ImportJob.objects.exists()


def test_the_importer_must_still_hold_the_unit(personas, run):
    actor = personas.province_a_chair
    checked = run(actor, personas.province_a, xlsx_bytes(three_rows()), confirm=False)
    services.import_job_confirm(actor=actor, job=checked)
    from congdoan.accounts.models import RoleAssignment
    from congdoan.core.scoping import forget_grants
    RoleAssignment.objects.filter(user=actor).delete()
    forget_grants(actor)
    job = services.import_job_run(job_pk=checked.pk)
    assert job.status == ImportStatus.INVALID and job.errors[0]["code"] == "scope_lost"
    assert not Member.objects.filter(citizen_id="025191000001").exists()


def test_only_the_importer_confirms(personas, run):
    checked = run(personas.province_a_chair, personas.province_a, xlsx_bytes(three_rows()), confirm=False)
    with pytest.raises(NotFoundInScope):
        services.import_job_confirm(actor=personas.national_chair, job=checked)


def test_errors_are_capped_but_counted(personas, run, monkeypatch):
    from congdoan.imports.validation import ErrorLog
    monkeypatch.setattr(ErrorLog.__init__, "__defaults__", (5,))
    rows = [member_row(cid=f"02519100{i:04d}", dob="xx") for i in range(12)]
    job = run(personas.province_a_chair, personas.province_a, xlsx_bytes(rows))
    assert job.error_count == 12 and len(job.errors) == 5
    assert [e["row"] for e in job.errors] == [2, 3, 4, 5, 6]


def test_a_counted_up_code_given_explicitly_later_in_the_chunk_is_redrawn(personas, run):
    Member.objects.filter(pk=personas.member_b.pk).update(code="DV0000000100")
    Member.objects.exclude(pk=personas.member_b.pk).update(code=Concat(Value("OLD"), "id"))
    rows = three_rows()
    rows[1]["code"] = "DV0000000101"  # the code the first row would be given
    job = run(personas.province_a_chair, personas.province_a, xlsx_bytes(rows))
    assert job.status == ImportStatus.DONE, job.errors
    codes = dict(Member.objects.filter(citizen_id__in=["025191000001", "025090000002"]).values_list("citizen_id", "code"))
    assert codes["025090000002"] == "DV0000000101" and codes["025191000001"] not in ("DV0000000101", "")


@pytest.mark.parametrize("mode", ["normal", "initial_load"])
def test_a_counted_up_code_given_explicitly_in_a_later_chunk_is_an_error(personas, run, monkeypatch, settings, mode):
    """The code was given to a new member of an earlier chunk, already written: the row is refused, nothing is
    written (an initial load, which no longer keeps the code index during the load, finds it the same way)."""
    if mode == "initial_load":
        if connection.vendor != "postgresql":
            pytest.skip("the initial-load mode is PostgreSQL only")
        settings.IMPORT_INITIAL_LOAD, settings.IMPORT_INITIAL_LOAD_MIN_ROWS = True, 1
    Member.objects.filter(pk=personas.member_b.pk).update(code="DV0000000100")
    Member.objects.exclude(pk=personas.member_b.pk).update(code=Concat(Value("OLD"), "id"))
    rows = three_rows()
    rows[1]["code"] = "DV0000000101"  # the code the first row is given
    checked = run(personas.province_a_chair, personas.province_a, xlsx_bytes(rows), confirm=False)
    assert checked.status == ImportStatus.READY, checked.errors
    monkeypatch.setattr(services, "CHUNK_ROWS", 1)
    from congdoan.imports import staging
    began = []
    bulk_begin = staging.Staging.bulk_begin
    monkeypatch.setattr(staging.Staging, "bulk_begin", lambda self, *a: began.append(bulk_begin(self, *a)) or began[-1])
    before = Member.objects.count()
    job = services.import_job_run(job_pk=services.import_job_confirm(actor=personas.province_a_chair, job=checked).pk)
    assert began == ([True] if mode == "initial_load" else [])
    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["cell"], e["code"]) for e in job.errors] == [(3, "O3", "duplicate_code")]
    assert Member.objects.count() == before


def test_an_initial_load_matches_the_members_already_there(personas, run, initial_load, monkeypatch):
    """During an initial load the member table has no CCCD or code index: rows are matched against a snapshot of
    the members there before, by CCCD (updated, not inserted twice) and by code (a code another member holds)."""
    from congdoan.imports import staging

    began = []
    bulk_begin = staging.Staging.bulk_begin
    monkeypatch.setattr(staging.Staging, "bulk_begin", lambda self, *a: began.append(bulk_begin(self, *a)) or began[-1])
    a = personas.member_a
    new = [member_row(name=f"Thành Viên {i}", cid=f"0251910{i:05d}") for i in range(40)]
    again = member_row(name=a.full_name, cid=a.citizen_id, unit="PA-G2", dob=a.date_of_birth.strftime("%d/%m/%Y"),
                       gender="Nam", code=a.code, phone=a.phone)
    before = Member.objects.count()
    job = run(personas.province_a_chair, personas.province_a, xlsx_bytes([*new, again]))
    assert job.status == ImportStatus.DONE, job.errors
    assert began == [True] and (job.created_count, job.updated_count, job.moved_count) == (40, 1, 1)
    assert Member.objects.count() == before + 40 and Member.objects.get(pk=a.pk).unit.code == "PA-G2"

    # a code that another member takes between the check and the import
    rows = [member_row(name=f"Người Mới {i}", cid=f"0251910{i + 100:05d}") for i in range(60)]
    rows[5]["code"] = "KX-0001"
    checked = run(personas.province_a_chair, personas.province_a, xlsx_bytes(rows), confirm=False)
    assert checked.status == ImportStatus.READY, checked.errors
    Member.objects.filter(pk=personas.member_b.pk).update(code="KX-0001")
    before = Member.objects.count()
    job = services.import_job_run(job_pk=services.import_job_confirm(actor=personas.province_a_chair, job=checked).pk)
    assert began == [True, True]
    assert job.status == ImportStatus.INVALID and [(e["row"], e["code"]) for e in job.errors] == [(7, "duplicate_code")]
    assert Member.objects.count() == before


def test_dashboard_counts_follow_the_import(personas, run):
    from congdoan.dashboard.models import UnitStat

    job = run(personas.province_a_chair, personas.province_a, xlsx_bytes(three_rows()))
    assert job.status == ImportStatus.DONE
    counted = dict(UnitStat.objects.filter(status="active").values_list("unit_id", "members"))
    assert counted[personas.grassroots_a2.pk] == Member.objects.filter(unit=personas.grassroots_a2, status="active").count() == 2
    assert counted[personas.sub_union_a.pk] == 1


def test_text_with_tabs_backslashes_and_line_breaks_is_stored_as_written(personas, run):
    """Texts with tabs, backslashes and line breaks are stored as written."""
    row = member_row(occupation="Thợ\tmay \\ cắt", qualification="Kế toán\\N", union_position="Tổ trưởng\r\ntổ 2")
    job = run(personas.province_a_chair, personas.province_a, xlsx_bytes([row]))
    assert job.status == ImportStatus.DONE, job.errors
    member = Member.objects.get(citizen_id="025191000001")
    assert (member.occupation, member.qualification, member.union_position) == ("Thợ\tmay \\ cắt", "Kế toán\\N",
                                                                                "Tổ trưởng\r\ntổ 2")


def test_staged_records_come_back_as_written():
    """The staging table holds the checked records exactly (PostgreSQL: binary COPY; SQLite: executemany),
    texts with tabs, backslashes and line breaks, and NULL dates and unit included."""
    from congdoan.imports.staging import Staging
    from congdoan.imports.validation import RECORD_FIELDS

    day = datetime.date(1990, 1, 2)
    plain = (2, "025191000001", "", "DV0000000001", "Lê Văn A", "le van a", day, "male", "Kinh", "", "", "", "09", "", "",
             "", day, 7)
    odd = (3, "025191000002", "X", "", "B\tC", "b c", None, "", "a\\b", "x\ny", "", "\\N", "", "", "", "r\r", None, None)
    with transaction.atomic():
        staging = Staging(connection, scope_path="0001", scope_end=None, actor_id=None, today=day, now=None)
        staging.create()
        staging.load([plain, odd])
        with connection.cursor() as cur:
            cur.execute(f"SELECT {', '.join(RECORD_FIELDS)} FROM import_stage ORDER BY row_no")
            back = [tuple(row) for row in cur.fetchall()]
        staging.drop()
    assert back == [plain, odd]


def test_a_citizen_id_registered_during_the_import_is_a_conflict(personas, run, monkeypatch):
    """Between matching a chunk by CCCD and inserting it, another transaction registers one of its CCCDs:
    the unique constraint stops the insert, the import ends in a conflict and nothing is written."""
    from congdoan.core.testing import make_member
    from congdoan.imports import staging

    actor = personas.province_a_chair
    checked = run(actor, personas.province_a, xlsx_bytes(three_rows()), confirm=False)
    classify = staging.Staging.classify

    def classify_then_someone_registers(self):
        classify(self)
        other = make_member(personas.grassroots_a2, full_name="Người Khác", dob=datetime.date(1990, 1, 1),
                            joined_on=datetime.date(2020, 1, 1))
        Member.objects.filter(pk=other.pk).update(citizen_id="025090000002")

    monkeypatch.setattr(staging.Staging, "classify", classify_then_someone_registers)
    before = Member.objects.count(), MembershipEvent.objects.count()
    job = services.import_job_run(job_pk=services.import_job_confirm(actor=actor, job=checked).pk)
    assert job.status == ImportStatus.INVALID and [e["code"] for e in job.errors] == ["conflict"]
    assert (Member.objects.count(), MembershipEvent.objects.count()) == before


def _member_indexes():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                    "WHERE indrelid IN ('members_member'::regclass, 'members_membershipevent'::regclass) ORDER BY 1")
        return cur.fetchall()


@pytest.fixture
def initial_load(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the initial-load mode is PostgreSQL only")
    settings.IMPORT_INITIAL_LOAD = True
    settings.IMPORT_INITIAL_LOAD_MIN_ROWS = 1
    settings.IMPORT_INITIAL_LOAD_LOCK_MS = 300
    return settings


def test_an_initial_load_builds_the_indexes_again(personas, run, initial_load, monkeypatch):
    from congdoan.imports import staging

    began = []
    bulk_begin = staging.Staging.bulk_begin
    monkeypatch.setattr(staging.Staging, "bulk_begin", lambda self, *a: began.append(bulk_begin(self, *a)) or began[-1])
    indexes = _member_indexes()
    rows = three_rows() + [member_row(name="Hà Văn Bốn", gender="Nam", dob="01/01/1985", cid="025085000004", unit="PA-G2")]
    job = run(personas.province_a_chair, personas.province_a, xlsx_bytes(rows))  # 4 new members, 3 in the table
    assert job.status == ImportStatus.DONE and job.created_count == 4, job.errors
    assert began == [True]
    assert _member_indexes() == indexes  # the same names and definitions
    assert MembershipEvent.objects.filter(member__citizen_id="025085000004", kind=EventKind.ADMISSION).count() == 1
    assert Member.objects.filter(full_name__contains="Bốn", name_normalized="ha van bon").exists()


def test_an_initial_load_that_fails_keeps_the_indexes(personas, run, initial_load, monkeypatch):
    from congdoan.imports import staging

    indexes = _member_indexes()
    actor = personas.province_a_chair
    checked = run(actor, personas.province_a, xlsx_bytes(three_rows()), confirm=False)
    monkeypatch.setattr(staging.Staging, "counts", lambda self: {"created": 99, "updated": 0, "unchanged": 0, "moved": 0})
    before = Member.objects.count()
    job = services.import_job_run(job_pk=services.import_job_confirm(actor=actor, job=checked).pk)
    assert job.status == ImportStatus.INVALID and [e["code"] for e in job.errors] == ["conflict"]
    assert Member.objects.count() == before and _member_indexes() == indexes


def test_an_initial_load_whose_unique_constraints_fail_to_build_writes_nothing(personas, run, initial_load, monkeypatch):
    """Two members with one code when the constraints are built again (which the checks rule out): a conflict,
    nothing written, the indexes and constraints as they were."""
    from congdoan.imports import staging

    indexes = _member_indexes()
    rows = [member_row(name=f"Thành Viên {i}", cid=f"0251910{i:05d}") for i in range(40)]
    checked = run(personas.province_a_chair, personas.province_a, xlsx_bytes(rows), confirm=False)
    bulk_end = staging.Staging.bulk_end

    def twice_then_build(self):
        with connection.cursor() as cur:
            cur.execute("UPDATE members_member SET code = %s WHERE citizen_id = %s", [personas.member_b.code, "025191000003"])
        bulk_end(self)

    monkeypatch.setattr(staging.Staging, "bulk_end", twice_then_build)
    before = Member.objects.count()
    job = services.import_job_run(job_pk=services.import_job_confirm(actor=personas.province_a_chair, job=checked).pk)
    assert job.status == ImportStatus.INVALID and [e["code"] for e in job.errors] == ["conflict"]
    assert Member.objects.count() == before and _member_indexes() == indexes


def test_random_codes_drawn_past_the_end_of_the_counted_range_are_checked(personas, run, monkeypatch):
    """No room to count codes up (a file that does not declare its size, the highest code near the end): the
    codes are drawn at random, and one that a member holds is drawn again."""
    import random

    Member.objects.filter(pk=personas.member_b.pk).update(code="DV9999999996")  # room for three codes above
    Member.objects.filter(pk=personas.member_a.pk).update(code="DV0000000007")
    draws = iter([7])
    original = random.Random.randrange
    monkeypatch.setattr(random.Random, "randrange", lambda self, *a: next(draws, None) or original(self, *a))
    rows = [member_row(name=f"Người {i}", cid=f"0251910{i:05d}") for i in range(5)]
    data = rewrite_sheet(xlsx_bytes(rows), lambda xml: __import__("re").sub(rb"<dimension [^>]*/>", b"", xml))
    job = run(personas.province_a_chair, personas.province_a, data)
    assert job.status == ImportStatus.DONE, job.errors
    codes = list(Member.objects.filter(citizen_id__startswith="0251910").values_list("code", flat=True))
    assert len(set(codes)) == 5 and "DV0000000007" not in codes


def test_an_initial_load_does_not_wait_for_busy_member_tables(personas, run, initial_load, monkeypatch):
    """Another transaction reads members: the import does not take the tables, it imports row by row."""
    import psycopg
    from django.db import connection

    from congdoan.imports import staging

    began = []
    bulk_begin = staging.Staging.bulk_begin
    monkeypatch.setattr(staging.Staging, "bulk_begin", lambda self, *a: began.append(bulk_begin(self, *a)) or began[-1])
    params = connection.get_connection_params()
    params.pop("cursor_factory", None), params.pop("context", None), params.pop("prepare_threshold", None)
    with psycopg.connect(**params) as other:
        other.execute("LOCK TABLE members_member IN ACCESS SHARE MODE")
        job = run(personas.province_a_chair, personas.province_a, xlsx_bytes(three_rows()))
    assert job.status == ImportStatus.DONE and job.created_count == 3, job.errors
    assert began == [False]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_chunk_is_written_with_more_memory_and_index_lookups_and_the_defaults_come_back(personas):
    """Staging.index_lookups: while a chunk is matched and written, hash joins are off and ``work_mem`` is raised
    (the rows a chunk writes to the member table are kept for its reference check: members 0006); afterwards the
    transaction has its settings of before again."""

    from congdoan.imports import staging

    def shown(name):
        with connection.cursor() as cursor:
            cursor.execute(f"SHOW {name}")
            return cursor.fetchone()[0]

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '6MB'")  # what the caller had: it comes back, not the server's default
        default = shown("work_mem")
        stage = staging.Staging(connection, scope_path="0001", scope_end=None, actor_id=None, today=datetime.date(2026, 1, 1),
                                now=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
        with stage.index_lookups():
            assert shown("work_mem") == staging.WORK_MEM != default
            assert shown("enable_hashjoin") == "off"
        assert shown("work_mem") == default == "6MB"
        assert shown("enable_hashjoin") == "on"
