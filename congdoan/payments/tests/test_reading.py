"""Reading a statement in a child process (large statements) gives what reading it in a thread gives."""

import importlib
import multiprocessing

import pytest
from django.db import connection

from congdoan.payments import importing, reading, services
from congdoan.payments.choices import ImportStatus
from congdoan.payments.models import Allocation, BankTransaction
from congdoan.payments.parsers import StatementFileError
from congdoan.payments.tests.conftest import upload, vcb_csv, vcb_row

# committed data: on PostgreSQL the matching of a large statement runs on a connection of its own
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def vcb(db):
    """The seeded layout, seeded again: a transactional test may start from a database another one emptied."""
    from congdoan.payments.models import BankLayout

    seeded = importlib.import_module("congdoan.payments.migrations.0002_seed_layouts")
    fields = next(layout for layout in seeded.LAYOUTS if layout["bank_code"] == "VCB")
    return BankLayout.objects.update_or_create(name=fields["name"], defaults={**fields, "header_row": 0})[0]


def run(actor, account, content: bytes):
    job = services.statement_import_create(actor=actor, account=account, upload=upload(content, "sao-ke.csv"), fmt="table")
    return services.statement_import_run(job_pk=job.pk)


@pytest.fixture
def in_process(settings, monkeypatch):
    """Every statement read in a child process, two lines a chunk (several messages between the processes)."""
    settings.STATEMENT_PARALLEL_MIN_LINES = 1
    monkeypatch.setattr(importing, "CHUNK_LINES", 2)
    started = []
    real, real_matched = reading._in_process, importing._matched
    monkeypatch.setattr(reading, "_in_process", lambda *args: started.append("read in a process") or real(*args))
    monkeypatch.setattr(importing, "_matched", lambda chunks, match, *, in_thread, ahead: (
        started.append("matched in a thread") if in_thread else None) or real_matched(chunks, match, in_thread=in_thread,
                                                                                      ahead=ahead))
    yield started
    assert not multiprocessing.active_children()  # the reader is gone, whatever happened


def lines(p):
    p.member_a.refresh_from_db()
    return [vcb_row(txn="T1", note="CONG TY MAY SONG HONG NOP KPCD T5/2025 MST 2600123456"),
            vcb_row(txn="T2", credit="120.000", note=f"Doan phi thang 6 {p.member_a.code}"),
            vcb_row(txn="T3", credit="99.000", note="CHUYEN TIEN"),
            vcb_row(txn="T4", credit="", debit="11.000", note="PHI DICH VU"),
            vcb_row(txn="T5", credit="1.000.000", note="MST 2600123456 nộp kinh phí công đoàn tháng 7/2025")]


def test_a_statement_read_in_a_child_process_is_matched_and_written_like_one_read_in_a_thread(personas, account_a,
                                                                                               fake_ledger, in_process):
    job = run(personas.province_a_chair, account_a, vcb_csv(lines(personas)))
    # the matching has a thread (and a connection) of its own on PostgreSQL only
    assert in_process == ["read in a process"] + (["matched in a thread"] if connection.vendor == "postgresql" else [])
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.new_count, job.matched_count, job.queued_count, job.debit_count) == (4, 3, 1, 1)
    got = sorted(Allocation.objects.values_list("transaction__bank_txn_id", "unit_id", "member_id", "source", "period", "amount"))
    assert [row[0] for row in got] == ["T1", "T2", "T5"]
    assert [str(row[4]) for row in got] == ["2025-05-01", "2025-06-01", "2025-07-01"]  # months read from the notes
    assert job.posted_count == 3 and len(fake_ledger.posted) == 3


def test_line_errors_found_in_the_child_process_are_those_a_thread_finds(personas, account_a, fake_ledger, settings,
                                                                          monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_LINES", 2)
    rows = lines(personas) + [vcb_row(txn="T1"), vcb_row(txn="T6", credit="0"), vcb_row(txn="T7", credit="abc"),
                              vcb_row(txn="T2")]
    settings.STATEMENT_PARALLEL_MIN_LINES = 10**9
    in_thread = run(personas.province_a_chair, account_a, vcb_csv(rows))
    settings.STATEMENT_PARALLEL_MIN_LINES = 1
    in_child = run(personas.province_a_chair, account_a, vcb_csv(rows))
    assert in_child.status == in_thread.status == ImportStatus.INVALID
    assert in_child.error_count == in_thread.error_count == 4
    assert in_child.errors == in_thread.errors
    assert [e["code"] for e in in_child.errors] == ["duplicate_line", "amount_zero", "amount_invalid", "duplicate_line"]
    assert not BankTransaction.objects.exists() and not fake_ledger.posted
    assert not multiprocessing.active_children()


def test_a_file_error_in_the_child_process_ends_the_job_with_its_message(personas, account_a, fake_ledger, in_process,
                                                                           monkeypatch):
    def broken(text):
        raise StatementFileError("Tệp CSV bị lỗi gần dòng 7.", code="file_unreadable")

    monkeypatch.setattr(reading, "normalize_note", broken)  # the child is forked after this: it has it too
    job = run(personas.province_a_chair, account_a, vcb_csv(lines(personas)))
    assert job.status == ImportStatus.INVALID
    assert [(e["code"], e["message"]) for e in job.errors] == [("file_unreadable", "Tệp CSV bị lỗi gần dòng 7.")]
    assert not BankTransaction.objects.exists()


def test_a_crash_of_the_child_process_fails_the_job_and_writes_nothing(personas, account_a, fake_ledger, in_process,
                                                                         monkeypatch):
    calls = []

    def crash(note):
        calls.append(note)
        if len(calls) > 3:  # after the first chunks were written
            raise ZeroDivisionError("boom")
        return []

    monkeypatch.setattr(reading, "candidates", crash)
    job = run(personas.province_a_chair, account_a, vcb_csv(lines(personas)))
    assert job.status == ImportStatus.FAILED
    assert job.errors[0]["code"] == "internal"
    assert not BankTransaction.objects.exists() and not Allocation.objects.exists()


def test_a_large_import_posts_in_batches_while_it_reads_and_each_receipt_once(personas, account_a, fake_ledger, in_process,
                                                                               monkeypatch):
    """Every two new lines, the days before the latest one written are posted; a line dated before a day already
    posted (the file is not sorted there) goes with the next batch; the rest at the end. Nothing twice, nothing left."""
    from congdoan.payments import ledger

    monkeypatch.setattr(importing, "POST_FIRST_LINES", 2)
    monkeypatch.setattr(importing, "POST_EVERY_LINES", 2)
    batches = []
    real_post = importing._post
    monkeypatch.setattr(importing, "_post", lambda **kw: batches.append(sorted(
        kw["allocations"].values_list("transaction__bank_txn_id", flat=True))) or real_post(**kw))
    calls = []
    real_receipt = ledger.post_receipt
    monkeypatch.setattr(ledger, "post_receipt", lambda **kw: calls.append(kw["allocation"].external_id) or real_receipt(**kw))
    fee = "CONG TY MAY SONG HONG NOP KPCD MST 2600123456"
    rows = [vcb_row(txn="T1", date="02/06/2025", note=fee), vcb_row(txn="T2", date="02/06/2025", note=fee),
            vcb_row(txn="T3", date="03/06/2025", note=fee), vcb_row(txn="T4", date="04/06/2025", note=fee),
            vcb_row(txn="T5", date="02/06/2025", note=fee),  # before a day posted already
            vcb_row(txn="T6", date="04/06/2025", note="CHUYEN TIEN"), vcb_row(txn="T7", date="05/06/2025", note=fee),
            vcb_row(txn="T8", date="06/06/2025", note=fee)]
    job = run(personas.province_a_chair, account_a, vcb_csv(rows))
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.matched_count, job.posted_count) == (7, 7)
    # chunks of two lines, a batch every two new lines when a new day began: the days before the latest one (T5,
    # dated before a day already posted, with the next batch); the rest at the end
    assert batches == [["T1", "T2", "T3"], ["T4", "T5", "T7"], ["T8"]]
    assert sorted(calls) == sorted(set(calls)) and len(calls) == 7
    assert not Allocation.objects.filter(posted_at__isnull=True).exists()
    assert job.timings["post_batches"] == 3


def test_a_chunk_that_meets_a_line_imported_before_takes_new_ids_and_every_receipt_is_still_posted_once(
        personas, account_a, fake_ledger, in_process, monkeypatch):
    """The matching draws the line ids of the chunks ahead; a chunk that meets a line imported before goes through the
    staging table and takes new, higher ids. Batches follow the file's line numbers, not ids: nothing is skipped."""
    from congdoan.payments import ledger

    monkeypatch.setattr(importing, "POST_FIRST_LINES", 2)
    monkeypatch.setattr(importing, "POST_EVERY_LINES", 1)  # a batch after every chunk that begins a new day
    real_matched = importing._matched

    def matched_all_first(chunks, match, *, in_thread, ahead):  # every chunk matched (its ids drawn) before any write
        return iter(list(real_matched(chunks, match, in_thread=in_thread, ahead=ahead)))

    fee = "CONG TY MAY SONG HONG NOP KPCD MST 2600123456"
    run(personas.province_a_chair, account_a, vcb_csv([vcb_row(txn="T5", date="03/06/2025", note=fee)]))
    monkeypatch.setattr(importing, "_matched", matched_all_first)
    calls = []
    real_receipt = ledger.post_receipt
    monkeypatch.setattr(ledger, "post_receipt", lambda **kw: calls.append(kw["allocation"].external_id) or real_receipt(**kw))
    rows = [vcb_row(txn=f"T{i}", date=day, note=fee) for i, day in enumerate(
        ["02/06/2025", "02/06/2025", "03/06/2025", "03/06/2025", "03/06/2025", "05/06/2025", "04/06/2025", "05/06/2025",
         "06/06/2025"], start=1)]  # T6 (new ids) begins 05/06, then T7 of 04/06 (an id drawn before T6's): in the next batch
    job = run(personas.province_a_chair, account_a, vcb_csv(rows))
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.new_count, job.known_count, job.matched_count, job.posted_count) == (8, 1, 8, 8)
    new = Allocation.objects.filter(transaction__statement_import=job)
    assert sorted(calls) == sorted(a.external_id for a in new) and len(set(calls)) == 8  # each once, none left out
    fallback = BankTransaction.objects.get(bank_txn_id="T6")  # written after T5 was met: a new id above later chunks'
    if connection.vendor == "postgresql":
        assert fallback.pk > BankTransaction.objects.get(bank_txn_id="T9").pk
    assert not Allocation.objects.filter(posted_at__isnull=True).exists() and job.timings["post_batches"] > 2


def test_the_child_reader_ends_when_its_parent_is_gone(personas, account_a, tmp_path):
    """A worker killed hard leaves no reader behind: the child, blocked on a full channel, sees its parent changed
    and ends (simulated: the child's ``getppid`` changes while nobody reads)."""
    from congdoan.payments.parsers import open_statement
    from congdoan.payments.tests.conftest import vcb_csv as csv_of

    path = tmp_path / "s.csv"
    path.write_bytes(csv_of([vcb_row(txn=f"T{i}") for i in range(50)]))
    statement = open_statement(path, fmt="table", layout=account_a.layout, name="s.csv", expected_account=account_a.account_number)
    context = multiprocessing.get_context("fork")
    channel = context.Queue(maxsize=1)
    calls = []
    real = reading.os.getppid

    def getppid():  # the parent's pid at the start, then another one: the parent is gone
        calls.append(1)
        return real() if len(calls) == 1 else 1

    import unittest.mock

    with unittest.mock.patch.object(reading.os, "getppid", getppid):
        child = context.Process(target=reading._child, args=(statement, "vi", 2, None, channel), daemon=True)
        child.start()
    child.join(timeout=20)
    assert not child.is_alive() and child.exitcode == 1
    channel.close()
    channel.cancel_join_thread()


def test_the_child_reader_gives_way_to_the_workers_connection(personas, account_a, tmp_path):
    """The reader runs at a lower priority than the worker and its database connection (``READER_NICE``), which do
    most of an import's work: the reader and the matching share what the connection leaves."""
    import os
    import unittest.mock

    from congdoan.payments.parsers import open_statement
    from congdoan.payments.tests.conftest import vcb_csv as csv_of

    path = tmp_path / "s.csv"
    path.write_bytes(csv_of([vcb_row(txn=f"T{i}") for i in range(5)]))
    statement = open_statement(path, fmt="table", layout=account_a.layout, name="s.csv", expected_account=account_a.account_number)
    context = multiprocessing.get_context("fork")
    channel, asked = context.Queue(), context.Queue()
    real_nice, before = reading.os.nice, os.nice(0)

    def nice(increment):  # runs in the child: reports the increment and the child's own priority after it
        niceness = real_nice(increment)
        asked.put((increment, niceness))
        return niceness

    with unittest.mock.patch.object(reading.os, "nice", nice):
        child = context.Process(target=reading._child, args=(statement, "vi", 1000, None, channel), daemon=True)
        child.start()
    messages = [channel.get(timeout=20)]
    while messages[-1][0] == "chunk":
        messages.append(channel.get(timeout=20))
    child.join(timeout=20)
    assert messages[-1][0] == "end" and [len(m[1]) for m in messages[:-1]] == [5]
    assert asked.get(timeout=5) == (reading.READER_NICE, min(19, before + reading.READER_NICE))
    assert os.nice(0) == before  # the worker itself keeps its priority
