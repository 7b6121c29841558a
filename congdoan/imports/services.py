"""Member import: upload, check (preview), confirm, import. Pages, tasks and tests call these.

The pipeline streams the file once: read (calamine or csv) -> check each row in memory
(validation.py) -> load checked rows into a staging table in chunks -> database-side checks,
counts and, when importing, the upsert (staging.py). An import runs in one transaction and
writes only when no row has any error: any error, and nothing is written.
"""

import gc
import hashlib
import logging
import operator
import os
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.background import in_background
from congdoan.core.errors import DomainError, NotFoundInScope
from congdoan.imports.choices import ImportStatus, Phase
from congdoan.imports.models import ImportJob
from congdoan.imports.progress import Progress
from congdoan.imports.reader import ImportFileError, _is_blank, open_table
from congdoan.imports.staging import ImportConflict, Staging
from congdoan.imports.validation import ErrorLog, RowValidator, UnitIndex, map_headers, sequential_code_start
from congdoan.organizations.models import Unit

log = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = (".xlsx", ".xlsm", ".csv", ".txt")
#: rows loaded into the staging table (and, when importing, written) per round
CHUNK_ROWS = 50_000
_UNIT_ID = operator.itemgetter(-1)  # of a staging record


class ImportJobError(DomainError):
    """A request about an import job that is not possible now (wrong state)."""


class _Rollback(Exception):
    pass


def file_too_large_error(size: int | None = None) -> ImportFileError:
    limit_mb = settings.IMPORT_MAX_BYTES / (1024 * 1024)
    return ImportFileError(_("The file is too large: at most %(limit)s MB can be imported at once. Split it into "
                             "several files.") % {"limit": f"{limit_mb:.0f}"}, code="file_too_large")


def import_scope_units(user):
    """The units an official may import into: the roots of his subtrees where he may change members."""
    paths = scoping.granted_paths(user, Action.CHANGE)
    return Unit.objects.filter(path__in=paths, status="active").order_by("path")


# -- upload --------------------------------------------------------------------------------------
@transaction.atomic
def import_job_create(*, actor, upload, scope_unit: Unit, language: str = "vi") -> ImportJob:
    """Store an uploaded file and queue its check. Refuses files over settings.IMPORT_MAX_BYTES."""
    scope_unit = Unit.objects.get(pk=scope_unit.pk)
    if not scoping.can(actor, Action.CHANGE, scope_unit.path):
        raise NotFoundInScope()
    name = os.path.basename(upload.name or "")[:200]
    extension = os.path.splitext(name)[1].lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise ImportFileError(_("Upload an Excel workbook (.xlsx) or a CSV file (.csv)."), code="file_type")
    if upload.size > settings.IMPORT_MAX_BYTES:
        raise file_too_large_error(upload.size)
    if upload.size == 0:
        raise ImportFileError(_("The file is empty."), code="file_empty")
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    job = ImportJob(importer=actor, scope_unit=scope_unit, original_name=name, file_size=upload.size,
                    file_sha256=digest.hexdigest(), language=language or settings.LANGUAGE_CODE)
    job.file.save(f"{uuid.uuid4().hex}{extension}", upload, save=False)
    job.save()
    from congdoan.imports.tasks import import_check_task

    transaction.on_commit(lambda: import_check_task(job.pk))
    return job


@transaction.atomic
def import_job_confirm(*, actor, job: ImportJob) -> ImportJob:
    """The importer asks to import a checked file: queue the import."""
    job = ImportJob.objects.select_for_update().select_related("scope_unit").get(pk=job.pk)
    if job.importer_id != getattr(actor, "pk", None) or not scoping.can(actor, Action.CHANGE, job.scope_unit.path):
        raise NotFoundInScope()
    if job.status != ImportStatus.READY:
        raise ImportJobError(_("Only a file checked without errors can be imported."), code="not_ready")
    job.status, job.phase, job.rows_done = ImportStatus.QUEUED, "", 0
    job.save(update_fields=["status", "phase", "rows_done"])
    from congdoan.imports.tasks import import_run_task

    transaction.on_commit(lambda: import_run_task(job.pk))
    return job


# -- background work -------------------------------------------------------------------------------
def import_job_check(*, job_pk: int) -> ImportJob:
    """The preview: read and check every row, count what an import would do; write no member."""
    return _run_job(job_pk, write=False)


def import_job_run(*, job_pk: int) -> ImportJob:
    """The import: the same checks again (the data may have changed), then write all rows or none."""
    return _run_job(job_pk, write=True)


def _run_job(job_pk: int, *, write: bool) -> ImportJob:
    expected, running = (ImportStatus.QUEUED, ImportStatus.IMPORTING) if write else (ImportStatus.WAITING, ImportStatus.CHECKING)
    updated = ImportJob.objects.filter(pk=job_pk, status=expected).update(status=running, phase=Phase.READING, rows_done=0)
    job = ImportJob.objects.select_related("scope_unit", "importer").get(pk=job_pk)
    if not updated:
        return job  # already taken by another worker, or not in the state this task expects
    started = time.monotonic()
    progress = Progress(ImportJob, job.pk)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            outcome = _process(job, write=write, progress=progress)
        except ImportFileError as exc:
            outcome = {"status": ImportStatus.INVALID, "errors": [_file_error(exc)], "error_count": 1}
        except Exception:  # the job must not stay "running" forever; the trace goes to the log
            log.exception("import job %s failed", job_pk)
            outcome = {"status": ImportStatus.FAILED, "error_count": 1, "errors": [{
                "row": None, "column": "", "cell": "", "code": "internal", "value": "",
                "message": _("The file could not be processed because of an internal error. Try again later or tell "
                             "the administrator."),
            }]}
        finally:
            progress.close()
    outcome.setdefault("phase", Phase.FINISHED)
    outcome["duration_seconds"] = round(time.monotonic() - started, 3)
    outcome["imported_at" if write else "checked_at"] = timezone.now()
    for name, value in outcome.items():
        setattr(job, name, value)
    job.save(update_fields=list(outcome))
    return job


def _file_error(exc: DomainError) -> dict:
    return {"row": None, "column": "", "cell": "", "code": exc.code, "message": str(exc.message), "value": ""}


def _process(job: ImportJob, *, write: bool, progress: Progress) -> dict:
    importer, scope_unit = job.importer, job.scope_unit
    if importer is None or not scoping.can(importer, Action.CHANGE, scope_unit.path) or not scope_unit.is_active:
        raise ImportFileError(_("You no longer manage the unit %(unit)s: the file cannot be imported.") % {"unit": scope_unit},
                              code="scope_lost")
    if write and _sha256(job.file.path) != job.file_sha256:
        raise ImportFileError(_("The stored file has changed since it was checked; upload it again."), code="file_changed")
    errors = ErrorLog()
    table = open_table(job.file.path, name=job.original_name)
    columns = map_headers(table.headers, table.col_offset, errors)
    progress.update(force=True, phase=Phase.VALIDATING, rows_total=table.total)
    if errors.count:
        return {"status": ImportStatus.INVALID, "errors": errors.sorted_items(), "error_count": errors.count, "rows_total": 0}

    validator = RowValidator(columns=columns, headers=table.headers, col_offset=table.col_offset,
                             units=UnitIndex(scope_unit), log=errors,
                             code_start=sequential_code_start(max(table.total, job.rows_total or 0)) if write else None, generate_codes=write)
    staging = Staging(connection, scope_path=scope_unit.path, scope_end=tree.successor(scope_unit.path),
                      actor_id=importer.pk, today=validator.today, now=timezone.now())
    totals = {"created": 0, "updated": 0, "unchanged": 0, "moved": 0}
    touched: set[int] = set()  # units whose members changed: their dashboard counts are recomputed

    def flush(batch):
        if not batch:
            return
        # a check runs each chunk in its own short transaction (SQLite would commit row by row otherwise);
        # an import is already inside its one transaction, where this is a savepoint
        with transaction.atomic(savepoint=False), staging.index_lookups():
            staging.load(batch)
            staging.classify()
            staging.check(validator.row_error)
            counts = staging.counts()
            if write and errors.count == 0:
                if validator.codes_may_collide:
                    staging.fix_generated_codes(validator.new_code)
                touched.update(staging.write(counts, reason=_("Unit changed by a member import")))
                if counts["created"] or counts["updated"]:
                    touched.update(map(_UNIT_ID, batch))
            staging.clear()
        for key in totals:
            totals[key] += counts[key]

    def run():
        staging.create()
        bulk = write and _initial_load(job)
        if bulk and not staging.bulk_begin(getattr(settings, "IMPORT_INITIAL_LOAD_LOCK_MS", 5000)):
            log.info("import job %s: member tables busy, importing without the initial-load mode", job.pk)
            bulk = False
        for batch in _checked_chunks(table, validator, job.language or settings.LANGUAGE_CODE):
            flush(batch)
            progress.update(rows_done=validator.rows, rows_total=max(table.total, validator.rows),
                            phase=Phase.WRITING if write and not errors.count else Phase.VALIDATING)
        validator.finish()
        if validator.rows == 0:
            errors.add(None, "", "", "no_rows", _("The file has column headers but no member rows."))
        if write and errors.count == 0:
            if bulk:
                staging.bulk_end()
            if touched:
                from congdoan.dashboard.services import refresh_unit_stats

                refresh_unit_stats(touched)
            audit_record(actor=importer, action="member.imported", obj=job, unit_path=scope_unit.path, changes={
                "file": job.original_name, "file_sha256": job.file_sha256, "rows": validator.rows, **totals})
        elif write:
            raise _Rollback()

    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of tuples and dict entries: the cyclic collector would rescan them again and again
    try:
        if write:
            with transaction.atomic():
                run()
        else:
            run()
    except _Rollback:
        pass
    except ImportConflict:
        log.warning("import job %s: data changed during the import", job.pk, exc_info=True)
        errors.add(None, "", "", "conflict", _("Members changed while the file was being imported; nothing was "
                                               "imported. Check the file again."))
    finally:
        if gc_was_enabled:
            gc.enable()
        try:
            staging.drop()
        except DatabaseError:
            log.warning("import job %s: could not drop the staging table", job.pk, exc_info=True)
    outcome = {"rows_total": validator.rows, "rows_done": validator.rows, "error_count": errors.count,
               "errors": errors.sorted_items(), "created_count": totals["created"], "updated_count": totals["updated"],
               "unchanged_count": totals["unchanged"], "moved_count": totals["moved"]}
    if errors.count:
        outcome.update(status=ImportStatus.INVALID, created_count=0, updated_count=0, unchanged_count=0, moved_count=0)
    else:
        outcome["status"] = ImportStatus.DONE if write else ImportStatus.READY
    return outcome



def _initial_load(job: ImportJob) -> bool:
    """Whether this import is an initial load (settings.IMPORT_INITIAL_LOAD, PostgreSQL only): the
    check found at least IMPORT_INITIAL_LOAD_MIN_ROWS new members, and at least as many as the
    member table holds (a first load). The import then takes the member tables for itself and builds
    their secondary indexes and unique constraints after the load (Staging.bulk_begin). On by default."""
    if not getattr(settings, "IMPORT_INITIAL_LOAD", True) or connection.vendor != "postgresql":
        return False
    new = job.created_count or 0
    if new < getattr(settings, "IMPORT_INITIAL_LOAD_MIN_ROWS", 100_000):
        return False
    from congdoan.members.models import Member

    return new >= Member.objects.count()


def _checked_chunks(table, validator, language: str):
    """Chunks of checked rows, read and checked in a second thread.

    While this thread waits for the database (loading and writing a chunk), the other one reads
    and checks the next: reading and checking are Python work, waiting for PostgreSQL or SQLite
    releases the interpreter, so the two overlap. It touches no database.
    """

    def produce(emit):
        with translation.override(language):
            batch, size = [], CHUNK_ROWS
            # the last rows go in smaller chunks: the database writes the last chunk after the reading has ended
            last_chunks_from = table.total - CHUNK_ROWS if table.total > 2 * CHUNK_ROWS else None
            for row_no, cells in table.rows:
                first = cells[0] if cells else None
                # a row whose first cell holds text is not blank (most rows): no need to look at every cell
                if not (type(first) is str and first and not first.isspace()) and _is_blank(cells):
                    continue
                record = validator.check(row_no, cells)
                if record is not None:
                    batch.append(record)
                if len(batch) >= size:
                    validator.seal(row_no)
                    if not emit(batch):
                        return
                    batch = []
                    if last_chunks_from is not None and validator.rows >= last_chunks_from:
                        size = CHUNK_ROWS // 10
            emit(batch)

    return in_background(produce, name="import-reader")


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
