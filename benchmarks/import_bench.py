"""Member import and export at national scale (issue 3).

Generates BENCH_ROWS members (default 1,000,000) in BENCH_ROWS/50 grassroots unions as an .xlsx
written by XlsxWriter in constant_memory mode (cached under var/bench/), then, in a fresh
PostgreSQL database (created and dropped here) and in a fresh SQLite file:
  - reads the file alone, and reads + checks it in memory (the stage costs);
  - the check (preview) and the import with full validation, end to end, through the services;
  - imports the same file again (every row unchanged);
  - exports every member to .xlsx.
"pg" imports into PostgreSQL with the initial-load mode off (as into a table that already holds as many members),
"pg_initial" with it on (IMPORT_INITIAL_LOAD, the default: a first load into the empty table).
BENCH_QUICK=1 runs 20,000 rows; BENCH_IMPORT_DBS (default pg,pg_initial,sqlite) chooses the runs;
BENCH_EXPORT=0 skips the exports. Besides wall times it prints the CPU seconds of Python and of the
PostgreSQL backend, per step too: on a shared machine those move much less than wall times.
Prints `name: value unit` lines.
"""

import datetime
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_db import BENCH_DIR, ROOT, Timer, Usage, build_tree, pg_available, pg_database, run_worker, setup_django

PG_NAME = "congdoan_bench_import"
FILE_TODAY = datetime.date(2026, 1, 1)  # fixed so that the cached file stays valid
EXPORTS = os.environ.get("BENCH_EXPORT", "1").lower() not in {"0", "false", "no"}


def settings_from_env() -> tuple[int, int]:
    if os.environ.get("BENCH_QUICK", "").lower() in {"1", "true", "yes"}:
        rows = 20_000
    else:
        rows = int(os.environ.get("BENCH_ROWS", "1000000"))
    return rows, max(10, rows // 50)


def generate_file(rows: int, units: int) -> tuple[Path, float | None]:
    """The member file, generated once per size and kept under var/bench/."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "congdoan.settings")
    import xlsxwriter

    from congdoan.core import demo_data
    from congdoan.imports.columns import COLUMNS, EDUCATION_LABELS, GENDER_LABELS

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"members-{rows}-{units}.xlsx"
    if path.exists():
        return path, None
    timer = Timer()
    tmp = path.with_suffix(".partial")
    rng = random.Random(20260101)
    workbook = xlsxwriter.Workbook(str(tmp), {"constant_memory": True})
    sheet = workbook.add_worksheet("Đoàn viên")
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    keys = [c.key for c in COLUMNS]
    sheet.write_row(0, 0, [c.header for c in COLUMNS])
    dob_col, joined_col = keys.index("date_of_birth"), keys.index("joined_on")
    for i in range(rows):
        m = demo_data.member_row(rng, i, FILE_TODAY)
        m["gender"] = GENDER_LABELS[m["gender"]]
        m["education_level"] = EDUCATION_LABELS[m["education_level"]]
        m["unit_code"] = f"G{i % units:05d}"
        r = i + 1
        for c, key in enumerate(keys):
            if c == dob_col or c == joined_col:
                sheet.write_datetime(r, c, m[key], date_format)
            else:
                value = m.get(key)
                if value:
                    sheet.write_string(r, c, value)
    workbook.close()
    tmp.rename(path)
    return path, timer.seconds


def main():
    rows, units = settings_from_env()
    path, generated = generate_file(rows, units)
    print(f"import_file: {path.name} ({path.stat().st_size / 1e6:.1f} MB, {rows} rows, {units} grassroots unions)")
    if generated is not None:
        print(f"import_file_generate_seconds: {generated:.1f} s")
    dbs = [d.strip() for d in os.environ.get("BENCH_IMPORT_DBS", "pg,pg_initial,sqlite").split(",") if d.strip()]
    for label in ("pg", "pg_initial"):
        if label not in dbs:
            continue
        if not pg_available():
            print(f"import_{label}: skipped (no PostgreSQL server)")
            continue
        with pg_database(PG_NAME) as url, tempfile.TemporaryDirectory(dir=BENCH_DIR) as var:
            for line in run_worker("benchmarks.import_bench", [str(path), str(units), label],
                                   {"DATABASE_URL": url, "VAR_DIR": var}):
                print(line, flush=True)
    if EXPORTS:
        compare_writers(min(rows, int(os.environ.get("BENCH_EXPORT_ROWS", "200000"))))
    if "sqlite" in dbs:
        with tempfile.TemporaryDirectory(dir=BENCH_DIR) as var:
            for line in run_worker("benchmarks.import_bench", [str(path), str(units), "sqlite"],
                                   {"DATABASE_URL": f"sqlite:///{var}/bench.sqlite3", "VAR_DIR": var}):
                print(line, flush=True)


def time_database_stages() -> dict:
    """Accumulate, per step of an import, the wall time and the CPU time of the PostgreSQL backend
    (the staging methods, the dashboard recount, the commit), and the time to open the file (for an
    .xlsx, calamine parses the whole sheet then) and to check the first chunk."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    from benchmarks.bench_db import _process_cpu, backend_pid
    from congdoan.dashboard import services as dashboard
    from congdoan.imports import services, staging

    spent: dict[str, list] = {}
    backend = backend_pid()

    def db_cpu():
        return (_process_cpu(backend) or 0.0) if backend else 0.0

    def add(label, wall, cpu):
        entry = spent.setdefault(label, [0.0, 0.0])
        entry[0] += wall
        entry[1] += cpu

    def timed(owner, method, label):
        original = getattr(owner, method, None)
        if original is None:
            return

        def wrapper(*args, **kwargs):
            start, cpu = time.perf_counter(), db_cpu()
            try:
                return original(*args, **kwargs)
            finally:
                add(label, time.perf_counter() - start, db_cpu() - cpu)

        setattr(owner, method, wrapper)

    timed(services, "open_table", "open_file")
    for method, label in [("load", "copy_to_staging"), ("load_copy_text", "copy_to_staging"), ("classify", "match_by_cccd"),
                          ("check", "database_checks"), ("counts", "counts"), ("fix_generated_codes", "code_collisions"),
                          ("write", "insert_update_and_events"), ("bulk_begin", "initial_load_lock_and_drop_indexes"),
                          ("bulk_end", "initial_load_fk_checks_index_builds_analyze")]:
        timed(staging.Staging, method, label)
    timed(dashboard, "refresh_unit_stats", "dashboard_recount")
    timed(BaseDatabaseWrapper, "commit", "commit_deferred_fk_checks")

    chunks = services._checked_chunks

    def first_chunk_timed(*args, **kwargs):
        # the database side waits here for the reading thread: for the first chunk, and for later
        # ones whenever reading and checking fall behind the database
        start = time.perf_counter()
        for number, chunk in enumerate(chunks(*args, **kwargs)):
            add("first_chunk_checked" if number == 0 else "waiting_for_later_chunks", time.perf_counter() - start, 0.0)
            yield chunk
            start = time.perf_counter()

    services._checked_chunks = first_chunk_timed
    return spent


def stage_lines(say, prefix: str, spent: dict):
    for name, (wall, cpu) in spent.items():
        say(f"{prefix}_{name}_seconds", f"{wall:.1f}", f"s (PostgreSQL backend CPU {cpu:.1f} s)" if cpu else "s")


def worker(path: str, units: int, label: str):
    setup_django()
    from django.conf import settings
    from django.db import connection

    # the initial-load mode (docs/import.md; on by default) for "pg_initial", where the 1 M members go into the empty
    # table; off for "pg", which measures the normal mode (every index maintained row by row)
    settings.IMPORT_INITIAL_LOAD = label == "pg_initial"

    from congdoan.accounts.models import RoleAssignment, User
    from congdoan.imports import services
    from congdoan.imports.choices import ImportStatus
    from congdoan.imports.exports import export_keys, write_members_xlsx
    from congdoan.imports.models import ImportJob
    from congdoan.imports.reader import _is_blank, open_table
    from congdoan.imports.validation import ErrorLog, RowValidator, UnitIndex, map_headers
    from congdoan.members.models import Member
    from congdoan.members.selectors import member_search

    def say(name, value, unit=""):
        print(f"import_{label}_{name}: {value}{(' ' + unit) if unit else ''}", flush=True)

    timer = Timer()
    tree = build_tree(units)
    user = User.objects.create_user(username="bench_chair", password="x" * 12)
    RoleAssignment.objects.create(user=user, unit=tree["national"], role="chair")
    say("setup_seconds", f"{timer.seconds:.1f}", "s")

    # stage 1: reading alone
    timer = Timer()
    table = open_table(path)
    count = sum(1 for _ in table.rows)
    read_s = timer.seconds
    say("read_rows_per_s", f"{count / read_s:,.0f}", "rows/s")

    # stage 2: reading + checking in memory (no database)
    timer = Timer()
    log = ErrorLog()
    table = open_table(path)
    columns = map_headers(table.headers, table.col_offset, log)
    validator = RowValidator(columns=columns, headers=table.headers, col_offset=table.col_offset,
                             units=UnitIndex(tree["national"]), log=log)
    for row_no, cells in table.rows:
        if not _is_blank(cells):
            validator.check(row_no, cells)
    validate_s = timer.seconds - read_s
    say("validate_rows_per_s", f"{count / max(validate_s, 1e-9):,.0f}", "rows/s")
    if log.count:
        say("unexpected_errors", log.count, f"first: {log.items[:3]}")

    def job_for_file():
        media = Path(settings.MEDIA_ROOT) / "imports"
        media.mkdir(parents=True, exist_ok=True)
        target = media / f"bench-{time.monotonic_ns()}.xlsx"
        os.link(path, target) if Path(path).stat().st_dev == media.stat().st_dev else shutil.copy(path, target)
        return ImportJob.objects.create(file=str(target.relative_to(settings.MEDIA_ROOT)), original_name=Path(path).name,
                                        file_size=target.stat().st_size, file_sha256=services._sha256(target),
                                        importer=user, scope_unit=tree["national"])

    # the check (preview) and the import, end to end through the services
    job = job_for_file()
    timer, usage = Timer(), Usage()
    job = services.import_job_check(job_pk=job.pk)
    check_s = timer.seconds
    say("check_usage", usage.summary())
    assert job.status == ImportStatus.READY, (job.status, job.errors[:3])
    say("check_seconds", f"{check_s:.1f}", "s")
    say("check_rows_per_s", f"{count / check_s:,.0f}", "rows/s")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
    stages = time_database_stages()
    timer, usage = Timer(), Usage()
    job = services.import_job_run(job_pk=job.pk)
    import_s = timer.seconds
    say("import_usage", usage.summary())
    assert job.status == ImportStatus.DONE and job.created_count == count, (job.status, job.errors[:3])
    say("import_seconds", f"{import_s:.1f}", "s")
    say("import_rows_per_s", f"{count / import_s:,.0f}", "rows/s")
    # where the time goes: the database statements run in this thread (reading and checking overlap
    # with them in the reading thread, so only the part before the first chunk adds to the total)
    stage_lines(say, "import_stage", stages)
    stages.clear()
    assert Member.objects.count() == count

    # the same file again: every row found by CCCD and unchanged
    job = job_for_file()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
    timer, usage = Timer(), Usage()
    job = services.import_job_run(job_pk=job.pk)
    reimport_s = timer.seconds
    say("reimport_usage", usage.summary())
    assert job.status == ImportStatus.DONE and job.unchanged_count == count, (job.status, job.unchanged_count)
    say("reimport_unchanged_seconds", f"{reimport_s:.1f}", "s")
    stage_lines(say, "reimport_stage", stages)

    if not EXPORTS or label == "pg_initial":
        return
    # export everything the national chair sees
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE members_member")
    timer = Timer()
    keys = export_keys(True)
    fields = [{"unit_code": "unit__code"}.get(k, k) for k in keys] + ["unit__name", "status"]
    rows = member_search(user=user).order_by("unit__path", "name_normalized", "id").values_list(*fields).iterator(chunk_size=5000)
    out = Path(settings.MEDIA_ROOT) / "export.xlsx"
    exported = write_members_xlsx(str(out), rows, keys=keys)
    export_s = timer.seconds
    say("export_rows_per_s", f"{exported / export_s:,.0f}", "rows/s")
    say("export_seconds", f"{export_s:.1f}", f"s ({out.stat().st_size / 1e6:.0f} MB)")


WRITERS = ["xlsxwriter", "pyexcelerate", "rustpy_xlsxwriter"]


def compare_writers(rows: int):
    """Write the same member rows with each .xlsx writer that is installed, in a fresh process each."""
    import importlib.util

    for name in WRITERS:
        if importlib.util.find_spec(name) is None:
            print(f"export_writer_{name}: not installed")
            continue
        with tempfile.TemporaryDirectory(dir=BENCH_DIR) as var:
            for line in run_worker("benchmarks.import_bench", ["writer", name, str(rows), var], {}):
                print(line, flush=True)


def writer_worker(name: str, rows: int, out_dir: str):
    import resource

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from congdoan.core import demo_data
    from congdoan.imports.columns import COLUMN_BY_KEY, EXPORT_EXTRA_HEADERS
    from congdoan.imports.exports import export_keys, write_members_xlsx

    keys = export_keys(True)
    headers = [COLUMN_BY_KEY[k].header for k in keys] + EXPORT_EXTRA_HEADERS

    rng = random.Random(7)
    data = []
    for i in range(rows):  # made before the clock starts: only writing is measured
        m = demo_data.member_row(rng, i, FILE_TODAY)
        m.update(unit_code=f"G{i % 1000:05d}", code=f"DV{i:010d}", email="", union_position="")
        data.append([m[k] for k in keys] + ["Công đoàn cơ sở", "active"])

    def member_rows():
        return iter(data)

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    path = str(Path(out_dir) / f"{name}.xlsx")
    timer = Timer()
    if name == "xlsxwriter":
        write_members_xlsx(path, member_rows(), keys=keys)
    elif name == "pyexcelerate":
        from pyexcelerate import Workbook

        workbook = Workbook()
        workbook.new_sheet("Members", data=[headers, *member_rows()])  # takes the whole table in memory
        workbook.save(path)
    elif name == "rustpy_xlsxwriter":
        from rustpy_xlsxwriter import FastExcel

        FastExcel(path).sheet("Members", (dict(zip(headers, r)) for r in member_rows())).save()
    seconds = timer.seconds
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    print(f"export_writer_{name}: {rows / seconds:,.0f} rows/s ({seconds:.1f} s, +{peak:.0f} MB peak memory, "
          f"{Path(path).stat().st_size / 1e6:.0f} MB file)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        if sys.argv[2] == "writer":
            writer_worker(sys.argv[3], int(sys.argv[4]), sys.argv[5])
        else:
            worker(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
