"""Reading an open statement chunk by chunk, beside the database work of the import.

Each line comes out prepared for matching: ``(line_no, txn_id, booked_on, amount, description,
payer_name, keys, period)``, where ``keys`` are the candidate keys of its normalized note and
``period`` the month the note says it pays (``matching``). A line whose bank transaction ID already
appeared in the file is an error (docs/payments.md).

The reading runs either in a second thread (small statements: nothing to start) or, from
``STATEMENT_PARALLEL_MIN_LINES`` lines on, in a **child process** forked from the worker: parsing
and cutting notes into keys are Python work, and a thread shares the interpreter with the matching
and writing of the import, while a process runs on a core of its own. The child touches no database
(it inherits the open statement, not the use of the connections) and sends back, with each chunk,
the line errors it found; the parent merges them into its own error log.
"""

import multiprocessing
import os
import queue
import traceback

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from congdoan.core.background import in_background
from congdoan.payments.matching import candidates, normalize_note, period_in_note
from congdoan.payments.parsers import MAX_STORED_ERRORS, ErrorLog, Statement, StatementFileError

_END = "end"  # the last message of a reader
#: how much the child reader lowers its priority: the worker's database connection, which does most of the import's
#: work in its one transaction, then keeps a core while the reader and the matching share the other (wall time minus
#: that connection's CPU time, in paired runs: 8.7 and 9.1 s against 12.1 and 11.7 s at the same priority)
READER_NICE = 10


def parallel(statement: Statement) -> bool:
    """Whether the statement is large enough (``STATEMENT_PARALLEL_MIN_LINES``, lines as estimated on opening) to
    be read in a child process and, on PostgreSQL, matched in a thread of its own (importing.py)."""
    return statement.total >= settings.STATEMENT_PARALLEL_MIN_LINES


def read_chunks(statement: Statement, language: str, chunk_lines: int, tax_codes=None):
    """(chunk of prepared lines, lines read so far), read beside the caller; line errors land in
    ``statement.errors`` and the debit count in ``statement.debit_count``. ``tax_codes``: the employers'
    tax codes, the only all-digit keys kept (``Resolver.tax_codes``)."""
    if parallel(statement) and "fork" in multiprocessing.get_all_start_methods():
        return _in_process(statement, language, chunk_lines, tax_codes)
    return _in_thread(statement, language, chunk_lines, tax_codes)


def _produce(statement: Statement, language: str, chunk_lines: int, emit, tax_codes=None) -> None:
    """Read every line, emit(chunk, read) per chunk (emit returns False: stop)."""
    errors = statement.errors
    # a large statement's first chunk is a tenth of the others: the database starts writing sooner
    size = chunk_lines // 10 if chunk_lines >= 10_000 else chunk_lines
    with translation.override(language):
        seen: dict[str, int] = {}
        chunk, read = [], 0
        for line in statement.lines:
            read += 1
            first = seen.setdefault(line.txn_id, line.line_no)
            if first != line.line_no:
                errors.add(line.line_no, _("bank transaction ID"), "duplicate_line",
                           _("This line repeats line %(line)s: the same bank transaction ID appears twice in one "
                             "file.") % {"line": first}, line.txn_id)
                continue
            note = normalize_note(line.description)
            keys = candidates(note, tax_codes)
            chunk.append((line.line_no, line.txn_id, line.booked_on, line.amount, line.description, line.payer_name,
                          keys, period_in_note(note, line.booked_on)))
            if len(chunk) >= size:
                if not emit(chunk, read):
                    return
                chunk, size = [], chunk_lines
        emit(chunk, read)


# -- in a thread ------------------------------------------------------------------------------------
def _in_thread(statement: Statement, language: str, chunk_lines: int, tax_codes):
    return in_background(lambda emit: _produce(statement, language, chunk_lines, lambda chunk, read: emit((chunk, read)),
                                               tax_codes), name="statement-reader")


# -- in a child process -----------------------------------------------------------------------------
def _child(statement: Statement, language: str, chunk_lines: int, tax_codes, out) -> None:
    """The forked reader: sends ("chunk", lines, read, new error items, error count added), then
    ("end", debit count), or ("file_error", message, code) / ("crash", trace)."""
    errors = statement.errors
    state = {"items": len(errors.items), "count": errors.count}
    parent = os.getppid()
    try:
        os.nice(READER_NICE)
    except OSError:  # a system that refuses it: the reader runs at the worker's priority
        pass

    def send(message) -> None:
        while True:  # a parent killed meanwhile (the worker stopped hard) reads no more: end with it
            try:
                out.put(message, timeout=1)
                return
            except queue.Full:
                if os.getppid() != parent:
                    os._exit(1)

    def emit(chunk, read) -> bool:
        items, count = errors.items[state["items"]:], errors.count - state["count"]
        state["items"], state["count"] = len(errors.items), errors.count
        send(("chunk", chunk, read, items, count))
        return True

    try:
        _produce(statement, language, chunk_lines, emit, tax_codes)
        send((_END, statement.debit_count))
    except StatementFileError as exc:
        send(("file_error", str(exc.message), exc.code))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the job with it
        send(("crash", traceback.format_exc()))
    finally:
        out.close()
        out.join_thread()  # everything sent before the process ends


def _in_process(statement: Statement, language: str, chunk_lines: int, tax_codes):
    context = multiprocessing.get_context("fork")
    channel = context.Queue(maxsize=3)
    child = context.Process(target=_child, args=(statement, language, chunk_lines, tax_codes, channel), name="statement-reader",
                            daemon=True)
    child.start()
    errors = statement.errors
    try:
        while True:
            try:
                message = channel.get(timeout=5)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError(f"the statement reader stopped (exit code {child.exitcode})") from None
                continue
            kind = message[0]
            if kind == "chunk":
                _kind, chunk, read, items, count = message
                merge_errors(errors, items, count)
                yield chunk, read
            elif kind == _END:
                statement.debit_count = message[1]
                return
            elif kind == "file_error":
                raise StatementFileError(message[1], code=message[2])
            else:
                raise RuntimeError(f"the statement reader failed:\n{message[1]}")
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=10)
        channel.close()
        channel.cancel_join_thread()


def merge_errors(errors: ErrorLog, items: list[dict], count: int) -> None:
    """Add line errors found elsewhere (their stored items, and how many there were in all)."""
    errors.items.extend(items[:max(0, MAX_STORED_ERRORS - len(errors.items))])
    errors.count += count
