"""Importing statements: all-or-nothing, idempotent, matched, queued with reasons, posted."""

import datetime

import pytest
from django.db import connection, transaction

from congdoan.audit.models import AuditEntry
from congdoan.core.testing import make_member
from congdoan.organizations.models import Unit
from congdoan.organizations.services import unit_create
from congdoan.payments import ledger, services
from congdoan.payments.choices import ImportStatus, LineStatus, PayerKind, QueueReason, Source
from congdoan.payments.models import Allocation, BankTransaction, StatementImport
from congdoan.payments.tests.conftest import camt_entry, camt_xml, mt940_text, mt940_tx, upload, vcb_csv, vcb_row, vcb_xlsx

pytestmark = pytest.mark.django_db


def run(actor, account, content: bytes, name="sao-ke.csv", fmt="table", layout=None) -> StatementImport:
    job = services.statement_import_create(actor=actor, account=account, upload=upload(content, name), fmt=fmt, layout=layout)
    return services.statement_import_run(job_pk=job.pk)


def state():
    return (list(BankTransaction.objects.order_by("pk").values_list("pk", "bank_txn_id", "amount", "status", "reason")),
            list(Allocation.objects.order_by("pk").values_list("pk", "transaction_id", "unit_id", "member_id", "period", "amount",
                                                             "posted_at")))


def member_code(p):
    p.member_a.refresh_from_db()
    return p.member_a.code


def test_import_matches_by_tax_code_and_member_code_and_queues_the_rest(personas, account_a, fake_ledger):
    p = personas
    rows = [vcb_row(txn="T1", note="CONG TY MAY SONG HONG NOP KPCD T5/2025 MST 2600123456"),
            vcb_row(txn="T2", credit="120.000", note=f"Doan phi thang 6 {member_code(p)}"),
            vcb_row(txn="T3", credit="99.000", note="CHUYEN TIEN"),
            vcb_row(txn="T4", credit="", debit="11.000", note="PHI DICH VU")]
    job = run(p.province_a_chair, account_a, vcb_csv(rows))
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.new_count, job.known_count, job.matched_count, job.queued_count, job.debit_count) == (3, 0, 2, 1, 1)
    assert job.credit_total == 1_500_000 + 120_000 + 99_000
    fee = Allocation.objects.get(transaction__bank_txn_id="T1")
    assert (fee.payer_kind, fee.unit_id, fee.source, fee.period, fee.amount) == (
        PayerKind.EMPLOYER, p.grassroots_a.pk, Source.UNION_FEE, datetime.date(2025, 5, 1), 1_500_000)
    dues = Allocation.objects.get(transaction__bank_txn_id="T2")
    assert (dues.payer_kind, dues.member_id, dues.unit_id, dues.source, dues.period) == (
        PayerKind.MEMBER, p.member_a.pk, p.grassroots_a.pk, Source.DUES, datetime.date(2025, 6, 1))
    queued = BankTransaction.objects.get(bank_txn_id="T3")
    assert (queued.status, queued.reason) == (LineStatus.UNMATCHED, QueueReason.NO_REFERENCE)
    # posted through the ledger, once each, and the job says so
    assert set(fake_ledger.posted) == {fee.external_id, dues.external_id}
    assert job.posted_count == 2 and Allocation.objects.filter(posted_at__isnull=True).count() == 0
    entry = AuditEntry.objects.get(action="payments.statement_imported")
    assert entry.changes["new"] == 3 and entry.changes["file_sha256"] == job.file_sha256


def test_the_same_statement_twice_changes_nothing(personas, account_a, fake_ledger):
    content = vcb_csv([vcb_row(txn="T1"), vcb_row(txn="T2", note="nothing to match")])
    first = run(personas.province_a_chair, account_a, content)
    before, posted = state(), dict(fake_ledger.posted)
    second = run(personas.province_a_chair, account_a, content, name="sao-ke-lan-2.csv")
    assert second.status == ImportStatus.DONE
    assert (second.new_count, second.known_count, second.matched_count, second.queued_count) == (0, 2, 0, 0)
    assert state() == before and fake_ledger.posted == posted
    # the same file as .xlsx (another export of the same statement) changes nothing either
    third = run(personas.province_a_chair, account_a, vcb_xlsx([vcb_row(txn="T1"), vcb_row(txn="T2", note="x")]), name="s.xlsx")
    assert (third.status, third.new_count, third.known_count) == (ImportStatus.DONE, 0, 2)
    assert state() == before
    assert first.new_count == 2


def test_a_line_imported_before_with_another_amount_refuses_the_file(personas, account_a, fake_ledger):
    run(personas.province_a_chair, account_a, vcb_csv([vcb_row(txn="T1")]))
    before = state()
    job = run(personas.province_a_chair, account_a, vcb_csv([vcb_row(txn="T9"), vcb_row(txn="T1", credit="1.600.000")]))
    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["code"], e["value"]) for e in job.errors] == [(6, "changed_line", "T1")]
    assert "1.500.000" in job.errors[0]["message"]
    assert state() == before


def test_lines_imported_before_in_a_later_chunk_of_a_new_statement(personas, account_a, fake_ledger, monkeypatch):
    """Once a chunk held no line imported before, the next chunks are written without looking their lines up
    first: those already there are found by the write, counted as imported before, and checked the same."""
    from congdoan.payments import importing, writer

    monkeypatch.setattr(importing, "CHUNK_LINES", 2)
    run(personas.province_a_chair, account_a, vcb_csv([vcb_row(txn="T3"), vcb_row(txn="T4", note="nothing to match")]))
    before = state()
    met = []  # PostgreSQL COPYs a chunk straight into the lines table: the line already there stops it, then the
    real = writer._line_already_there  # chunk goes through the staging table
    monkeypatch.setattr(writer, "_line_already_there", lambda exc: met.append(real(exc)) or met[-1])
    rows = [vcb_row(txn="T1"), vcb_row(txn="T2", note="nothing"), vcb_row(txn="T3"), vcb_row(txn="T4", note="nothing to match"),
            vcb_row(txn="T5")]
    job = run(personas.province_a_chair, account_a, vcb_csv(rows))
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.new_count, job.known_count, job.matched_count, job.queued_count) == (3, 2, 2, 1)
    assert BankTransaction.objects.count() == 5 and Allocation.objects.count() == len(before[1]) + 2
    assert job.credit_total == 3 * 1_500_000
    assert met == ([True] if connection.vendor == "postgresql" else [])
    # the same, with a line imported before under another amount: the file is refused, nothing written
    before = state()
    changed = [vcb_row(txn="T6"), vcb_row(txn="T7"), vcb_row(txn="T3", credit="1.600.000"), vcb_row(txn="T8")]
    job = run(personas.province_a_chair, account_a, vcb_csv(changed))
    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["code"], e["value"]) for e in job.errors] == [(7, "changed_line", "T3")]
    assert state() == before


def test_duplicate_lines_in_one_file_refuse_the_file(personas, account_a, fake_ledger):
    job = run(personas.province_a_chair, account_a, vcb_csv([vcb_row(txn="T1"), vcb_row(txn="T2"), vcb_row(txn="T1")]))
    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["code"]) for e in job.errors] == [(7, "duplicate_line")]
    assert "dòng 5" in job.errors[0]["message"]
    assert not BankTransaction.objects.exists() and not Allocation.objects.exists()


def test_zero_and_negative_amounts_refuse_the_file_and_write_nothing(personas, account_a, fake_ledger):
    job = run(personas.province_a_chair, account_a,
              vcb_csv([vcb_row(txn="T1"), vcb_row(txn="T2", credit="0"), vcb_row(txn="T3", credit="-1.000")]))
    assert job.status == ImportStatus.INVALID and job.error_count == 2
    assert {e["code"] for e in job.errors} == {"amount_zero", "amount_negative"}
    assert not BankTransaction.objects.exists() and not fake_ledger.posted


@pytest.mark.parametrize("content,name,code", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "sao-ke.xls", "file_type"),
    ("Ngày giao dịch;Số tiền\n".encode("utf-16"), "sao-ke.csv", "header_missing"),
])
def test_wrong_format_ends_the_job_with_a_clear_message(personas, account_a, fake_ledger, content, name, code):
    if name.endswith(".xls"):
        with pytest.raises(services.PaymentError) as info:
            run(personas.province_a_chair, account_a, content, name=name)
        assert info.value.code == "file_type"
        content, name = content, "sao-ke.csv"
    job = run(personas.province_a_chair, account_a, content, name=name)
    assert job.status == ImportStatus.INVALID
    assert job.errors[0]["code"] == code and job.errors[0]["row"] is None
    assert not BankTransaction.objects.exists()


def test_wrong_encoding_is_reported_in_vietnamese(personas, account_a, fake_ledger):
    content = vcb_csv([vcb_row(note="Đoàn phí")], encoding="cp1258")
    job = StatementImport.objects.get(pk=services.statement_import_create(
        actor=personas.province_a_chair, account=account_a, upload=upload(content, "s.csv"), fmt="table", language="vi").pk)
    job = services.statement_import_run(job_pk=job.pk)
    assert job.status == ImportStatus.INVALID and job.errors[0]["code"] == "file_encoding"
    assert job.errors[0]["message"]


def test_a_reference_that_matches_two_payers_goes_to_the_queue(personas, account_a, fake_ledger):
    p = personas
    # a second employer declared with the same tax code (a branch registered twice)
    unit_create(actor=None, parent=p.upper_a, level="grassroots", code="PA-G3", name="Công đoàn cơ sở Chi nhánh May Sông Hồng",
                employer_type="fdi", employer_name="Chi nhánh Công ty May Sông Hồng", employer_tax_code="2600123456")
    other = make_member(p.grassroots_a2, full_name="Đỗ Thị Mai")
    job = run(p.province_a_chair, account_a, vcb_csv([
        vcb_row(txn="T1", note="KPCD MST 2600123456"),
        vcb_row(txn="T2", note=f"MST 0101234567 {other.code} {member_code(p)}")]))
    assert job.status == ImportStatus.DONE and job.matched_count == 0 and job.queued_count == 2
    for txn in ("T1", "T2"):
        line = BankTransaction.objects.get(bank_txn_id=txn)
        assert (line.status, line.reason) == (LineStatus.UNMATCHED, QueueReason.AMBIGUOUS)
        assert line.reason_detail.count(":") == 2
    assert not Allocation.objects.exists()


def test_a_payment_dated_in_a_closed_month_goes_to_the_queue(personas, account_a, fake_ledger):
    fake_ledger.closed.add((personas.grassroots_a.pk, datetime.date(2025, 6, 1)))
    job = run(personas.province_a_chair, account_a, vcb_csv([vcb_row(txn="T1"), vcb_row(txn="T2", date="01/07/2025")]))
    assert (job.matched_count, job.queued_count) == (1, 1)
    line = BankTransaction.objects.get(bank_txn_id="T1")
    assert (line.status, line.reason, line.suggested_kind, line.suggested_id) == (
        LineStatus.UNMATCHED, QueueReason.CLOSED_MONTH, PayerKind.EMPLOYER, personas.grassroots_a.pk)
    assert list(fake_ledger.posted) == [f"bank:{BankTransaction.objects.get(bank_txn_id='T2').pk}:1"]


def test_a_payment_to_a_dissolved_unit_goes_to_the_queue(personas, account_a, fake_ledger):
    Unit.objects.filter(pk=personas.grassroots_a.pk).update(status="dissolved")
    job = run(personas.province_a_chair, account_a, vcb_csv([vcb_row(txn="T1")]))
    line = BankTransaction.objects.get(bank_txn_id="T1")
    assert (job.matched_count, line.status, line.reason) == (0, LineStatus.UNMATCHED, QueueReason.UNIT_DISSOLVED)
    assert not fake_ledger.posted


def test_a_receipt_the_ledger_refuses_sends_the_line_back_with_the_reason(personas, account_a, fake_ledger, monkeypatch):
    original = fake_ledger.post_receipt

    def refuse_t1(*, actor, allocation):
        if allocation.transaction.bank_txn_id == "T1":
            from congdoan.core.errors import DomainError

            raise DomainError("Tháng 06/2025 đã khóa sổ.", code="month_closed")
        original(actor=actor, allocation=allocation)

    monkeypatch.setattr(ledger, "post_receipt", refuse_t1)
    job = run(personas.province_a_chair, account_a, vcb_csv([vcb_row(txn="T1"), vcb_row(txn="T2")]))
    assert (job.status, job.matched_count, job.posted_count) == (ImportStatus.DONE, 2, 1)
    line = BankTransaction.objects.get(bank_txn_id="T1")
    assert (line.status, line.reason, line.reason_detail) == (LineStatus.UNMATCHED, QueueReason.CLOSED_MONTH, "Tháng 06/2025 đã khóa sổ.")
    assert not line.allocations.exists()
    assert AuditEntry.objects.filter(action="payments.line_requeued", object_id=str(line.pk)).exists()


def test_without_the_ledger_receipts_wait_and_are_posted_later(personas, account_a, monkeypatch):
    monkeypatch.setattr(ledger, "payers_by_reference", lambda keys: {})
    monkeypatch.setattr(ledger, "closed_months", lambda *a, **k: set())
    monkeypatch.setattr(ledger, "available", lambda: False)
    monkeypatch.setattr(ledger, "post_receipt", _unavailable)
    monkeypatch.setattr(ledger, "post_allocations", _unavailable)
    job = run(personas.province_a_chair, account_a, vcb_csv([vcb_row(txn="T1")]))
    assert (job.status, job.matched_count, job.posted_count) == (ImportStatus.DONE, 1, 0)
    assert Allocation.objects.get().posted_at is None
    assert services.pending_post()["unavailable"] is True
    posted = []
    monkeypatch.setattr(ledger, "available", lambda: True)
    monkeypatch.setattr(ledger, "post_allocations", lambda *, actor, allocations: posted.extend(a.external_id for a in allocations)
                        or {"posted": len(posted), "existing": 0, "refused": {}})
    assert services.pending_post()["posted"] == 1
    assert Allocation.objects.get().posted_at is not None and len(posted) == 1
    assert services.pending_post()["posted"] == 0  # posted once


def _unavailable(**kwargs):
    raise ledger.LedgerUnavailable()


def test_camt053_and_mt940_through_the_job(personas, account_a, fake_ledger):
    job = run(personas.province_a_chair, account_a, camt_xml([camt_entry(ref="C1"), camt_entry(ref="C2", note="khong ro")]),
              name="stmt.xml", fmt="camt053")
    assert (job.status, job.new_count, job.matched_count) == (ImportStatus.DONE, 2, 1), job.errors
    job = run(personas.province_a_chair, account_a, mt940_text([mt940_tx(ref="M1"), mt940_tx(ref="C1")]), name="s.sta", fmt="mt940")
    assert (job.status, job.new_count, job.known_count) == (ImportStatus.DONE, 1, 1), job.errors
    job = run(personas.province_a_chair, account_a, camt_xml([camt_entry()], account="999888"), name="o.xml", fmt="camt053")
    assert job.status == ImportStatus.INVALID and job.errors[0]["code"] == "wrong_account"


def test_only_officials_who_keep_the_accounts_import(personas, account_a):
    for who in ("province_b_chair", "outsider", "member_user"):
        with pytest.raises(services.NotFoundInScope):
            services.statement_import_create(actor=personas.users[who], account=account_a, upload=upload(b"x", "s.csv"), fmt="table")
    # an importer who loses the grant before the worker runs: nothing is imported
    job = services.statement_import_create(actor=personas.province_a_chair, account=account_a,
                                           upload=upload(vcb_csv([vcb_row()]), "s.csv"), fmt="table")
    from congdoan.accounts.models import RoleAssignment
    from django.utils import timezone

    RoleAssignment.objects.filter(user=personas.province_a_chair).update(revoked_at=timezone.now())
    job = services.statement_import_run(job_pk=job.pk)
    assert job.status == ImportStatus.INVALID and job.errors[0]["code"] == "scope_lost"
    assert not BankTransaction.objects.exists()


def test_the_task_runs_the_job_after_commit(personas, account_a, fake_ledger, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.statement_import_create(actor=personas.province_a_chair, account=account_a,
                                               upload=upload(vcb_csv([vcb_row()]), "s.csv"), fmt="table")
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.posted_count == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_a_large_import_asks_for_more_memory_and_temporary_buffers_when_the_session_still_may():
    """work_mem is raised for the import's transaction; temp_buffers can change only before a session's first
    temporary table: raised then, and after that the import goes on with what the session has (no error, nothing
    undone). Both end with the transaction."""
    from congdoan.payments import importing

    def show(name):
        with connection.cursor() as cur:
            cur.execute(f"SHOW {name}")
            return cur.fetchone()[0]

    connection.close()  # a session of its own: the test database's may have used temporary tables
    default_work_mem = show("work_mem")
    assert default_work_mem != importing.WORK_MEM
    with transaction.atomic():
        importing._more_memory()
        assert show("temp_buffers") == importing.TEMP_BUFFERS
        assert show("work_mem") == importing.WORK_MEM
        with connection.cursor() as cur:
            cur.execute("CREATE TEMPORARY TABLE t_used (x int)")
            cur.execute("INSERT INTO t_used VALUES (1)")
    assert show("work_mem") == default_work_mem
    with transaction.atomic():
        importing._more_memory()  # temp_buffers too late for this session: refused by PostgreSQL, nothing else undone
        assert show("work_mem") == importing.WORK_MEM
        with connection.cursor() as cur:
            cur.execute("SELECT x FROM t_used")
            assert cur.fetchone() == (1,)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_direct_write_stores_every_value_as_given(personas, account_a):
    """Lines and allocations written in COPY's text format come back as they went in: tabs, new lines, backslashes,
    accents and NULLs included."""
    from django.utils import timezone

    from congdoan.payments.writer import Staging

    job = StatementImport.objects.create(bank_account=account_a, format="table", original_name="x.csv", file_size=1,
                                         file_sha256="0" * 64, importer=personas.province_a_chair)
    now = timezone.now()
    note = "Nộp KPCĐ\ttháng 5\\2025\nMST 2600123456\r\\N"
    rows = [(7, "T\\1\t", datetime.date(2025, 6, 2), 1_500_000, note, "Công ty \\N", "matched", "", "", "", None,
             "employer", personas.grassroots_a.pk, None, "union_fee", datetime.date(2025, 5, 1)),
            (8, "T2", datetime.date(2025, 6, 3), 99, "", "", "unmatched", "ambiguous", "employer:1, member:2", "member", 42,
             None, None, None, None, None)]
    staging = Staging()
    staging.create()
    written = staging.write(rows, account_id=account_a.pk, job_id=job.pk, now=now, posted=True)
    assert (written["new"], written["matched"], written["queued"], written["credit_total"]) == (2, 1, 1, 1_500_099)
    first, second = BankTransaction.objects.order_by("line_no")
    assert (first.bank_txn_id, first.description, first.payer_name, first.amount, first.matched_by, first.decided_at) == (
        "T\\1\t", note, "Công ty \\N", 1_500_000, "auto", now)
    assert (second.reason, second.reason_detail, second.suggested_kind, second.suggested_id, second.decided_at) == (
        "ambiguous", "employer:1, member:2", "member", 42, None)
    allocation = Allocation.objects.get()
    assert (allocation.transaction_id, allocation.unit_id, allocation.member_id, allocation.period, allocation.posted_at) == (
        first.pk, personas.grassroots_a.pk, None, datetime.date(2025, 5, 1), now)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_before_posting_the_statistics_are_refreshed_but_for_the_lines_texts(
        personas, account_a, fake_ledger, monkeypatch):
    """After many new lines the import refreshes the planner's statistics before it posts (a stale plan probes every
    unposted allocation once per line): the allocations' in full, the lines' but for their texts, which are not read."""
    from congdoan.payments import importing

    monkeypatch.setattr(importing, "ANALYZE_AFTER", 2)
    p = personas
    rows = [vcb_row(txn=f"T{i}", note=f"CONG TY MAY SONG HONG NOP KPCD T5/2025 MST 2600123456 LAN {i}") for i in range(3)]
    job = run(p.province_a_chair, account_a, vcb_csv(rows))
    assert job.status == ImportStatus.DONE and job.posted_count == 3
    with connection.cursor() as cur:
        cur.execute("SELECT tablename, attname FROM pg_stats WHERE tablename IN ('payments_banktransaction', "
                    "'payments_allocation')")
        analysed = set(cur.fetchall())
    assert {("payments_banktransaction", "line_no"), ("payments_banktransaction", "statement_import_id"),
            ("payments_banktransaction", "status"), ("payments_allocation", "transaction_id"), ("payments_allocation", "paid_on"),
            ("payments_allocation", "posted_at"), ("payments_allocation", "member_id")} <= analysed
    assert not {("payments_banktransaction", name) for name in ("description", "payer_name", "reason_detail")} & analysed
