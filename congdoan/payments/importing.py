"""The statement import pipeline: upload, background import (read, check, match, write, post the
matched receipts to the ledger: all or nothing, in one transaction). See docs/payments.md."""

import datetime
import gc
import hashlib
import logging
import os
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.core import scoping
from congdoan.core.background import in_background
from congdoan.core.errors import DomainError, NotFoundInScope
from congdoan.imports.progress import Progress
from congdoan.payments import ledger
from congdoan.payments.choices import (
    SOURCE_OF_PAYER, ImportStatus, LineStatus, PayerKind, Phase, QueueReason, StatementFormat,
)
from congdoan.payments.errors import PaymentError
from congdoan.payments.matching import Resolver
from congdoan.payments.models import Allocation, BankAccount, BankLayout, BankTransaction, StatementImport
from congdoan.payments.parsers import StatementFileError, open_statement
from congdoan.payments.reading import parallel, read_chunks
from congdoan.payments.writer import Direct, Staging, draw_line_ids, existing, prepare_direct

log = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = {
    StatementFormat.TABLE: (".xlsx", ".xlsm", ".csv", ".txt"),
    StatementFormat.CAMT053: (".xml", ".camt", ".053"),
    StatementFormat.MT940: (".sta", ".mt940", ".940", ".txt", ".mt9"),
}
CHUNK_LINES = 20_000
#: a prepared line (reading.py): its fields by position
LINE_NO, TXN_ID, BOOKED_ON, AMOUNT, DESCRIPTION, PAYER_NAME, KEYS, PERIOD = range(8)

def _require(actor, path: str) -> None:
    if not scoping.can(actor, Action.FINANCE, path):
        raise NotFoundInScope()


def _sha256_of(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


@transaction.atomic
def statement_import_create(*, actor, account: BankAccount, upload, fmt: str, layout: BankLayout | None = None,
                            language: str = "vi") -> StatementImport:
    """Store an uploaded statement and queue its import."""
    account = BankAccount.objects.select_related("unit").get(pk=account.pk)
    _require(actor, account.unit.path)
    if fmt not in StatementFormat.values:
        raise PaymentError(_("Choose the format of the statement."), code="format", field="format")
    if fmt == StatementFormat.TABLE:
        layout = layout or account.layout
        if layout is None:
            raise PaymentError(_("Choose the bank layout of this statement."), code="layout_required", field="layout")
    else:
        layout = None
    name = os.path.basename(upload.name or "")[:200]
    extension = os.path.splitext(name)[1].lower()
    if extension not in ALLOWED_EXTENSIONS[fmt]:
        raise PaymentError(_("A %(format)s statement has one of the extensions %(extensions)s.") % {
            "format": StatementFormat(fmt).label, "extensions": ", ".join(ALLOWED_EXTENSIONS[fmt])}, code="file_type", field="file")
    if upload.size > settings.IMPORT_MAX_BYTES:
        raise PaymentError(_("The file is too large: at most %(limit)s MB can be imported at once.") % {
            "limit": f"{settings.IMPORT_MAX_BYTES / (1024 * 1024):.0f}"}, code="file_too_large", field="file")
    if upload.size == 0:
        raise PaymentError(_("The file is empty."), code="file_empty", field="file")
    job = StatementImport(bank_account=account, format=fmt, layout=layout, original_name=name, file_size=upload.size,
                          file_sha256=_sha256_of(upload), importer=actor, language=language or settings.LANGUAGE_CODE)
    job.file.save(f"{uuid.uuid4().hex}{extension}", upload, save=False)
    job.save()
    from congdoan.payments.tasks import statement_import_task

    transaction.on_commit(lambda: statement_import_task(job.pk))
    return job


def statement_import_run(*, job_pk: int) -> StatementImport:
    """Read, check and match every line, then write all new lines or none; then post the receipts."""
    updated = StatementImport.objects.filter(pk=job_pk, status=ImportStatus.WAITING).update(
        status=ImportStatus.RUNNING, phase=Phase.READING, rows_done=0)
    job = StatementImport.objects.select_related("bank_account__unit", "layout", "importer").get(pk=job_pk)
    if not updated:
        return job  # taken by another worker, or already done
    started = time.monotonic()
    progress = Progress(StatementImport, job.pk)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            outcome = _import(job, progress)
        except StatementFileError as exc:
            outcome = {"status": ImportStatus.INVALID, "error_count": 1, "errors": [
                {"row": None, "column": "", "code": exc.code, "message": str(exc.message), "value": ""}]}
        except Exception:  # the job must not stay "running"; the trace goes to the log
            log.exception("statement import %s failed", job_pk)
            outcome = {"status": ImportStatus.FAILED, "error_count": 1, "errors": [
                {"row": None, "column": "", "code": "internal", "value": "",
                 "message": _("The statement could not be processed because of an internal error. Try again later or "
                              "tell the administrator.")}]}
        finally:
            progress.close()
    outcome["timings"] = {**outcome.get("timings", {}), "import_seconds": round(time.monotonic() - started, 3)}
    outcome.setdefault("phase", Phase.FINISHED)
    outcome["finished_at"] = timezone.now()
    for name, value in outcome.items():
        setattr(job, name, value)
    job.save(update_fields=list(outcome))
    return job


def _import(job: StatementImport, progress: Progress) -> dict:
    account, importer = job.bank_account, job.importer
    if importer is None or not scoping.can(importer, Action.FINANCE, account.unit.path):
        raise StatementFileError(_("You no longer keep the accounts of %(unit)s: the statement cannot be imported.") % {
            "unit": account.unit}, code="scope_lost")
    timings = {}
    t0 = time.monotonic()
    statement = open_statement(job.file.path, fmt=job.format, layout=job.layout, name=job.original_name,
                               expected_account=account.account_number)
    errors = statement.errors
    progress.update(force=True, phase=Phase.READING, rows_total=statement.total)
    large = parallel(statement)  # read in a child process; matched in a thread of its own on PostgreSQL
    in_thread = large and connection.vendor == "postgresql"
    resolver = Resolver()
    closed: dict[tuple[int, datetime.date], bool] = {}
    staging = Staging()

    def decide(chunk) -> tuple[list[tuple], dict, list[tuple], Direct | None]:
        """Rows to write for the chunk's new lines, and its lines imported before (to be counted, and checked
        to be the same as then: ``count_known``). Once a chunk held no line imported before, the statement is taken to be
        new: the next chunks are not looked up first, their lines already there are found when they are
        written (``probe`` off; see ``flush``)."""
        t = time.monotonic()
        known = existing(account.pk, [line[TXN_ID] for line in chunk]) if state["probe"] else {}
        if state["probe"] and not known:
            state["probe"] = False
        t = _spent(spent, "match_known", t)
        known_lines = []
        if known:
            known_lines = [(line[LINE_NO], line[TXN_ID], line[AMOUNT], line[BOOKED_ON]) for line in chunk if line[TXN_ID] in known]
            chunk = [line for line in chunk if line[TXN_ID] not in known]
        wanted = set()
        for line in chunk:
            wanted.update(line[KEYS])
        t = _spent(spent, "match_keys", t)
        resolver.resolve(wanted)
        t = _spent(spent, "match_lookup", t)
        decided = []
        pending_closed = set()
        for line in chunk:
            keys = line[KEYS]
            payers = resolver.payers_of(keys) if keys else ()
            decided.append(payers)
            if len(payers) == 1:
                (payer,) = payers
                pending_closed.add((payer.unit_id, line[BOOKED_ON].replace(day=1)))
        missing = {k for k in pending_closed if k not in closed}
        if missing:
            months = [m for _, m in missing]
            found = ledger.closed_months({u for u, _ in missing}, min(months), max(months))
            for key in missing:
                closed[key] = key in found
        rows = []
        for line, payers in zip(chunk, decided):
            head = line[:6]
            if not payers:
                rows.append(head + (UNMATCHED, NO_REFERENCE, "", "", None, None, None, None, None, None))
            elif len(payers) > 1:
                detail = ", ".join(sorted(f"{p.kind}:{p.id}" for p in payers))[:255]
                rows.append(head + (UNMATCHED, AMBIGUOUS, detail, "", None, None, None, None, None, None))
            else:
                (payer,) = payers
                if not payer.unit_active:
                    rows.append(head + (UNMATCHED, UNIT_DISSOLVED, "", payer.kind, payer.id, None, None, None, None, None))
                elif closed[(payer.unit_id, line[BOOKED_ON].replace(day=1))]:
                    rows.append(head + (UNMATCHED, CLOSED_MONTH, "", payer.kind, payer.id, None, None, None, None, None))
                else:
                    rows.append(head + (MATCHED, "", "", "", None, payer.kind, payer.unit_id,
                                        payer.id if payer.kind == MEMBER else None, SOURCE_OF_PAYER[payer.kind],
                                        line[PERIOD]))
        t = _spent(spent, "match_decide", t)
        direct = None
        if in_thread and rows:  # the chunk in COPY's format, here rather than in the thread that writes
            direct = prepare_direct(rows, draw_line_ids(len(rows)), account_id=account.pk, job_id=job.pk, now=now,
                                    posted=post_now)
        _spent(spent, "match_prepare", t)
        return rows, known, known_lines, direct

    totals = {"new": 0, "known": 0, "matched": 0, "queued": 0, "credit_total": 0}
    state = {"probe": True}
    spent = {"wait": 0.0, "match": 0.0, "write": 0.0, "match_known": 0.0, "match_keys": 0.0, "match_lookup": 0.0, "match_decide": 0.0,
             "match_prepare": 0.0}

    def count_known(before: dict, lines) -> None:
        """Lines (line number, bank ID, amount, date) the account already has (``before``: {bank ID: (amount,
        date)}): counted as imported before; one whose amount or date changed is an error."""
        totals["known"] += len(lines)
        for line_no, txn_id, amount, booked_on in lines:
            old_amount, old_date = before[txn_id]
            if (old_amount, old_date) != (amount, booked_on):
                errors.add(line_no, _("bank transaction ID"), "changed_line",
                           _("This bank transaction was already imported with the amount %(amount)s đ on %(date)s; the "
                             "statement differs from the one imported before.") % {
                               "amount": f"{old_amount:,}".replace(",", "."), "date": _date_text(old_date)}, txn_id)

    def match(chunk):
        """What ``decide`` says of a chunk; nothing once the file has an error (the rest is only checked)."""
        if errors.count:
            return None
        t = time.monotonic()
        decided = decide(chunk)
        spent["match"] += time.monotonic() - t
        return decided

    def flush(decided) -> None:
        """Write a matched chunk (inside the one transaction)."""
        if decided is None:
            return
        rows, known, known_lines, direct = decided
        if known_lines:
            count_known(known, known_lines)
        if errors.count:
            return
        t = time.monotonic()
        written = staging.write(rows, account_id=account.pk, job_id=job.pk, now=now, posted=post_now, direct=direct)
        skipped = written.pop("skipped")
        if written["new"]:
            posting.written(rows, written["new"])
        for key, value in written.items():
            totals[key] += value
        if skipped:  # lines imported before (or meanwhile by another import): counted, and checked to be the same
            state["probe"] = True
            count_known(existing(account.pk, [txn_id for _no, txn_id, _amount, _date in skipped]), skipped)
        spent["write"] += time.monotonic() - t

    now = timezone.now()
    post_now = ledger.available()  # the allocations are written as posted: the import posts them before it commits
    posting = _Posting(job, importer, now)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a million small objects: the cyclic collector would rescan them again and again
    try:
        with transaction.atomic():  # every new line of the file, or none
            if in_thread:
                _more_memory()
            staging.create()
            rows_read = 0
            chunks = read_chunks(statement, job.language or settings.LANGUAGE_CODE, CHUNK_LINES, resolver.tax_codes())
            in_batches = post_now and _in_batches(statement)
            batch_at = POST_FIRST_LINES
            timings["opened_seconds"] = round(time.monotonic() - t0, 3)
            waited = time.monotonic()
            for decided, rows_read in _matched(chunks, match, in_thread=in_thread,
                                               ahead=min(16, max(2, POST_EVERY_LINES // CHUNK_LINES)) if in_batches else 2):
                spent["wait"] += time.monotonic() - waited
                flush(decided)
                if in_batches and not errors.count and totals["new"] >= batch_at and totals["matched"]:
                    posting.batch()  # the days before the latest one written
                    batch_at = totals["new"] + POST_EVERY_LINES
                progress.update(rows_done=rows_read, rows_total=max(statement.total, rows_read),
                                phase=Phase.WRITING if not errors.count else Phase.READING)
                waited = time.monotonic()
            if rows_read == 0 and not errors.count:
                errors.add(None, "", "no_lines", _("The statement holds no credit line (money received)."))
            timings.update(read_match_write_seconds=round(time.monotonic() - t0, 3),
                           **{f"{name}_seconds": round(value, 3) for name, value in spent.items()})
            base = {"rows_total": rows_read, "rows_done": rows_read, "debit_count": statement.debit_count, "timings": timings}
            if errors.count:
                raise _Rollback()
            posted = {"posted": 0, "refused": 0}
            if totals["matched"] and post_now:
                progress.update(force=True, phase=Phase.POSTING)
                t = time.monotonic()
                posted = posting.rest()
                timings.update(**posted.pop("timings"), post_rest_seconds=round(time.monotonic() - t, 3))
            audit_record(actor=importer, action="payments.statement_imported", obj=job, unit_path=account.unit.path, changes={
                "file": job.original_name, "file_sha256": job.file_sha256, "lines": rows_read, "new": totals["new"],
                "already_imported": totals["known"], "matched": totals["matched"], "queued": totals["queued"],
                "posted": posted["posted"], "sent_back": posted["refused"]})
            t = time.monotonic()
        timings["commit_seconds"] = round(time.monotonic() - t, 3)
        return {**base, "status": ImportStatus.DONE, "new_count": totals["new"], "known_count": totals["known"],
                "matched_count": totals["matched"], "queued_count": totals["queued"], "credit_total": totals["credit_total"],
                "posted_count": posted["posted"], "error_count": 0, "errors": []}
    except _Rollback:
        return {**base, "status": ImportStatus.INVALID, "error_count": errors.count, "errors": errors.sorted_items()}
    except IntegrityError:
        log.warning("statement import %s: lines changed during the import", job.pk, exc_info=True)
        return {"status": ImportStatus.INVALID, "error_count": 1, "timings": timings, "errors": [
            {"row": None, "column": "", "code": "conflict", "value": "",
             "message": _("The same statement was being imported at the same time; nothing was written. Try again.")}]}
    finally:
        if gc_was_enabled:
            gc.enable()
        try:
            staging.drop()
        except Exception:  # noqa: BLE001 - the temporary table goes with the connection anyway
            log.warning("statement import %s: could not drop the staging table", job.pk, exc_info=True)


#: memory for the temporary tables of a large import (PostgreSQL's default, 8 MB, sends the posting's tables of
#: a million receipts to disk between its passes); taken as needed, returned when the worker's connection closes
TEMP_BUFFERS = "512MB"
#: memory of each sort and hash of a large statement's posting (the default 4 MB sends the sorts of its
#: hundreds of thousands of receipts to disk)
WORK_MEM = "128MB"


def _more_memory() -> None:
    """Raise ``work_mem`` and ``temp_buffers`` for this transaction; ``temp_buffers`` only when the session has
    not used a temporary table yet (PostgreSQL refuses the change after that: the import then runs with what
    the session has)."""
    with connection.cursor() as cur:
        cur.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"SET LOCAL temp_buffers = '{TEMP_BUFFERS}'")
    except DatabaseError:
        log.info("temp_buffers not raised: this session already used temporary tables")


def _spent(spent: dict, name: str, started: float) -> float:
    now = time.monotonic()
    spent[name] += now - started
    return now


class _Rollback(Exception):
    pass


def _matched(chunks, match, *, in_thread: bool, ahead: int = 2):
    """(match(chunk), lines read so far) for every chunk read. ``in_thread``: matched in a second thread, on a
    database connection of its own, while the caller writes the chunk before (on PostgreSQL; the matching only
    reads what other transactions committed: members, employers, references, closed months, lines imported
    before). The chunks are read meanwhile in a third place (``reading``). ``ahead``: how many matched chunks may
    wait for the writer (enough to go on matching while a batch is posted)."""
    if not in_thread:
        for chunk, read in chunks:
            yield match(chunk), read
        return

    def produce(emit):
        try:
            for chunk, read in chunks:
                if not emit((match(chunk), read)):
                    return
        finally:
            chunks.close()  # stops the reader, in this thread which iterated it

    yield from in_background(produce, name="statement-matcher", on_exit=lambda: connection.close(), ahead=ahead)


UNMATCHED, MATCHED = str(LineStatus.UNMATCHED), str(LineStatus.MATCHED)
NO_REFERENCE, AMBIGUOUS = str(QueueReason.NO_REFERENCE), str(QueueReason.AMBIGUOUS)
UNIT_DISSOLVED, CLOSED_MONTH = str(QueueReason.UNIT_DISSOLVED), str(QueueReason.CLOSED_MONTH)
MEMBER = str(PayerKind.MEMBER)


def _date_text(value) -> str:
    if isinstance(value, str):
        value = datetime.date.fromisoformat(value[:10])
    return value.strftime("%d/%m/%Y")


# -- posting to the ledger ------------------------------------------------------------------------
class _Posting:
    """The receipts of the lines an import matched, posted inside the import's transaction (the statement and
    its receipts are written together or not at all). A receipt the ledger refuses (an upper level's closed
    month, a dissolved union…) sends its line back to the queue with the ledger's reason, as when receipts
    were posted one by one. The allocations were written as posted (one UPDATE of a million rows less); those
    the ledger does not post are unmarked. While the ledger is not available the allocations wait for the
    periodic task.

    A large import posts in **batches while it reads** (``batch``): after ``POST_FIRST_LINES`` new lines, then
    every ``POST_EVERY_LINES``, the
    days before the latest one written so far, so that the database posts while the next lines are read and
    matched; ``rest`` posts what is left at the end. A batch takes the lines written up to then (line number ≤
    ``line``) dated before ``day``, less what an earlier batch took: each allocation is posted once, in the
    first batch that covers it. In a statement sorted by date (banks export them so) every day is posted
    whole, in one batch, and the summary transactions are those of posting all at once (one per province,
    day, source and account); a line dated before a day already posted is posted in the next batch."""

    def __init__(self, job: StatementImport, actor, now):
        self.job, self.actor, self.now = job, actor, now
        # earlier batches took the lines up to line number ``line`` of the file dated before ``day`` (line numbers, not
        # ids: the file's order is the order lines are written, ids are drawn ahead and a chunk may take new ones)
        self.day: datetime.date | None = None
        self.line = 0
        # what was written since: the latest day and the last line number, the earliest day since the last batch
        self.latest: datetime.date | None = None
        self.last_line = 0
        self.earliest: datetime.date | None = None
        self.unanalysed = 0
        self.totals = {"posted": 0, "refused": 0}
        self.timings: dict[str, float] = {}
        self.batches = 0

    def written(self, rows: list[tuple], new: int) -> None:
        """A chunk was written: its rows (as ``Staging.write`` takes them), ``new`` of them new lines."""
        days = [row[2] for row in rows]
        self.unanalysed += new
        self.earliest = min(self.earliest or min(days), min(days))
        self.latest = max(self.latest or max(days), max(days))
        self.last_line = max(self.last_line, max(row[0] for row in rows))  # file order, which is write order

    def batch(self) -> None:
        """Post the lines written so far dated before the latest day written, that no batch took yet."""
        day, line = self.latest, self.last_line
        if day is None or (self.day is not None and day <= self.day):
            return  # no new day begun since the last batch
        if self.day is None and (self.earliest is None or self.earliest >= day):
            return  # every line written so far is of the latest day
        self.earliest = None
        self._post(self._remaining().filter(transaction__line_no__lte=line, paid_on__lt=day))
        self.day, self.line = day, line

    def rest(self) -> dict:
        """Post what no batch took; the counts and timings of all batches."""
        self._post(self._remaining())
        return {**self.totals, "timings": {**{k: round(v, 3) for k, v in self.timings.items()}, "post_batches": self.batches}}

    def _remaining(self):
        allocations = Allocation.objects.filter(transaction__statement_import_id=self.job.pk,
                                                transaction__bank_account_id=self.job.bank_account_id)
        if self.day is not None:
            allocations = allocations.filter(Q(transaction__line_no__gt=self.line) | Q(paid_on__gte=self.day))
        return allocations

    def _post(self, allocations) -> None:
        if connection.vendor == "postgresql" and self.unanalysed >= ANALYZE_AFTER:
            # the planner's statistics still describe the tables before these lines: with them it finds the job's
            # allocations by one index probe per line into every unposted allocation (quadratic); refresh them: the
            # allocations' in full, the lines' but for their texts (notes, names, reasons), whose statistics cost the
            # most and which no query of the import filters on
            analysed = time.monotonic()
            with connection.cursor() as cur:
                cur.execute(f"ANALYZE {BankTransaction._meta.db_table} (id, bank_account_id, statement_import_id, line_no, "
                            f"booked_on, amount, status), {Allocation._meta.db_table}")
            self.unanalysed = 0
            self.timings["post_analyze_seconds"] = self.timings.get("post_analyze_seconds", 0) + time.monotonic() - analysed
        started = time.monotonic()
        result = _post(actor=self.actor, allocations=allocations, now=self.now, marked=True)
        self.batches += 1
        self.totals["posted"] += result["posted"]
        self.totals["refused"] += result["refused"]
        for name, value in {**result.get("timings", {}), "post_seconds": time.monotonic() - started}.items():
            self.timings[name] = self.timings.get(name, 0) + value


#: a large import posts its receipts while it reads (``_Posting``): a first batch after this many new lines (early:
#: while the database posts it, the matching gets ahead of the writing, which is faster) …
POST_FIRST_LINES = 200_000
#: … then a batch every this many lines
POST_EVERY_LINES = 500_000


def _in_batches(statement) -> bool:
    """Whether an import posts its receipts in batches while it reads: a large statement (``parallel``), whose
    lines are read and matched elsewhere meanwhile."""
    return parallel(statement)


#: new lines from which an import refreshes the planner's statistics before posting (PostgreSQL)
ANALYZE_AFTER = 10_000


def _post(*, actor, allocations, now, batch_ids=None, marked: bool = False) -> dict:
    """Post ``allocations`` (a queryset) in bulk, send the refused lines back, mark the rest posted (``marked``:
    they were written as posted; unmark those not posted)."""
    try:
        result = ledger.post_allocations(actor=actor, allocations=allocations)
    except ledger.LedgerUnavailable:
        if marked:
            allocations.update(posted_at=None)
        return {"posted": 0, "refused": 0, "unavailable": True}
    refused = result["refused"]
    _send_back_many(actor=actor, refused=refused, batch_ids=batch_ids)
    ids = list(refused)
    unposted = [pk for start in range(0, len(ids), POST_BATCH)  # refused and kept: a cash receipt, a line partly posted
                for pk in Allocation.objects.filter(pk__in=ids[start:start + POST_BATCH]).values_list("pk", flat=True)]
    if marked:
        for start in range(0, len(unposted), POST_BATCH):
            Allocation.objects.filter(pk__in=unposted[start:start + POST_BATCH]).update(posted_at=None)
    else:
        allocations.exclude(pk__in=unposted).update(posted_at=now)
    return {"posted": result["posted"] + result["existing"], "refused": len(refused), "unavailable": False,
            "timings": {f"post_{name}": value for name, value in result.get("timings", {}).items()}}


#: allocations posted per database transaction outside an import (the periodic task, a retry)
POST_BATCH = 5000


def allocations_post(*, actor, allocation_ids) -> dict:
    """Post allocations as receipts, in bulk, a batch per transaction. A receipt the ledger refuses (closed
    month, dissolved union) sends its bank line back to the queue with the ledger's reason.
    Returns counts; stops early when the ledger is not available."""
    ids = list(allocation_ids)
    posted = refused = 0
    for start in range(0, len(ids), POST_BATCH):
        batch = ids[start:start + POST_BATCH]
        with transaction.atomic():
            result = _post(actor=actor, allocations=Allocation.objects.filter(pk__in=batch, posted_at__isnull=True),
                           now=timezone.now(), batch_ids=set(batch))
        if result["unavailable"]:
            return {"posted": posted, "refused": refused, "unavailable": True}
        posted += result["posted"]
        refused += result["refused"]
    return {"posted": posted, "refused": refused, "unavailable": False}


def _send_back_many(*, actor, refused: dict, batch_ids=None) -> None:
    """Send the bank lines of refused allocations back to the queue with the ledger's reason (in the
    caller's transaction). A line keeps its match when another of its allocations is posted (before, or
    in this batch: ``batch_ids`` less the refused); cash receipts have no queue: logged."""
    if not refused:
        return
    allocations = {}
    for start in range(0, len(refused), POST_BATCH):
        allocations.update(Allocation.objects.in_bulk(list(refused)[start:start + POST_BATCH]))
    first_of_line: dict[int, tuple[Allocation, DomainError]] = {}
    for pk in sorted(allocations):
        allocation, exc = allocations[pk], refused[pk]
        if allocation.transaction_id:
            first_of_line.setdefault(allocation.transaction_id, (allocation, exc))
        else:
            log.warning("cash receipt allocation %s refused by the ledger: %s", pk, exc.code)
    line_ids = sorted(first_of_line)
    kept = set()
    for start in range(0, len(line_ids), POST_BATCH):
        siblings = Allocation.objects.filter(transaction_id__in=line_ids[start:start + POST_BATCH]).values_list(
            "pk", "transaction_id", "posted_at")
        for pk, line_id, posted_at in siblings:
            if pk not in refused and (posted_at is not None or (batch_ids is not None and pk in batch_ids)):
                kept.add(line_id)
    for line_id in kept:
        allocation, exc = first_of_line.pop(line_id)
        log.warning("line %s partly posted; allocation %s refused: %s", line_id, allocation.pk, exc.code)
    lines = []
    for start in range(0, len(line_ids), POST_BATCH):
        chunk = [pk for pk in line_ids[start:start + POST_BATCH] if pk in first_of_line]
        lines += BankTransaction.objects.select_for_update().select_related("bank_account__unit").filter(pk__in=chunk).order_by("pk")
    if not lines:
        return
    for start in range(0, len(lines), POST_BATCH):
        Allocation.objects.filter(transaction_id__in=[line.pk for line in lines[start:start + POST_BATCH]]).delete()  # never posted
    for line in lines:
        allocation, exc = first_of_line[line.pk]
        reason = QueueReason.CLOSED_MONTH if "closed" in exc.code else (
            QueueReason.UNIT_DISSOLVED if "dissolved" in exc.code or "inactive" in exc.code else QueueReason.POSTING_FAILED)
        line.status, line.reason, line.reason_detail = LineStatus.UNMATCHED, reason, str(exc.message)[:255]
        line.suggested_kind = allocation.payer_kind
        line.suggested_id = allocation.member_id if allocation.payer_kind == PayerKind.MEMBER else allocation.unit_id
        line.matched_by, line.decided_at = "", None
        audit_record(actor=actor, action="payments.line_requeued", obj=line, unit_path=line.bank_account.unit.path,
                     changes={"reason": [None, reason], "ledger_code": exc.code})
    BankTransaction.objects.bulk_update(lines, ["status", "reason", "reason_detail", "suggested_kind", "suggested_id", "matched_by",
                                                "decided_at"], batch_size=1000)


def pending_post(*, limit: int = 5000) -> dict:
    """Post what is waiting (the ledger was unavailable, or a worker stopped): for the periodic task."""
    if not ledger.available():
        return {"posted": 0, "refused": 0, "unavailable": True}
    ids = list(Allocation.objects.filter(posted_at__isnull=True).order_by("pk").values_list("pk", flat=True)[:limit])
    return allocations_post(actor=None, allocation_ids=ids) if ids else {"posted": 0, "refused": 0, "unavailable": False}
