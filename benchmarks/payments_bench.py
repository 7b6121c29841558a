"""Bank statement in, matched and posted (issue 5): BENCH_STATEMENT_LINES lines (default 1,000,000).

In a fresh PostgreSQL database ``congdoan_bench_pay`` (created and dropped here): a national tree
with BENCH_PAY_EMPLOYERS grassroots unions (default 5,000, each an employer with a tax code) and
BENCH_PAY_MEMBERS members (default 200,000); a Vietcombank-layout CSV statement whose lines are
60 % union fee (tax code in the note), 30 % dues (member code in the note), 10 % notes that match
nobody, each behind the bank's own prefix ("MBVCB.8812345678.123456."). Then, through the same
service the background task calls:
  - the import: read + check + match + stage, write lines and allocations, post every matched line to
    the ledger as a receipt in bulk (finance.bulk), all in one transaction, committed with its deferred checks;
  - the same statement again (every line already imported: nothing changes, nothing posted).
Prints `name: value unit` lines, with the stage breakdown and the machine's load average (the machine
is shared: wall times move with the other load). BENCH_CHECKS=1 adds the time of each statement-level
reference check (pg_stat_user_functions); BENCH_EXPLAIN=<ms> writes the plans of slower statements to
PostgreSQL's log. PAYMENTS_BENCH_SETTINGS picks the settings module (default congdoan.settings).
"""

import contextlib
import datetime
import os
import random
import sys
import time
from pathlib import Path

from benchmarks.bench_db import BENCH_DIR, Timer, Usage, build_tree, pg_available, pg_database, run_worker, setup_django

PG_NAME = "congdoan_bench_pay"
FIRST_NAMES = ["NGUYEN VAN AN", "TRAN THI BICH", "LE VAN BINH", "PHAM THI HOA", "HOANG VAN NAM", "DANG THI MAI", "VU DUC MINH"]


def sizes() -> tuple[int, int, int]:
    lines = int(os.environ.get("BENCH_STATEMENT_LINES", "1000000"))
    employers = int(os.environ.get("BENCH_PAY_EMPLOYERS", "5000"))
    members = int(os.environ.get("BENCH_PAY_MEMBERS", "200000"))
    return lines, employers, members


def tax_code(i: int) -> str:
    return f"{0o100000000 + i * 7919:010d}"[-10:]


def member_code(i: int) -> str:
    return f"DV{5_000_000_000 + i * 37:010d}"


def generate_statement(lines: int, employers: int, members: int) -> Path:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"statement-vcb-{lines}-{employers}-{members}.csv"
    if path.exists():
        return path
    rng = random.Random(20250601)
    tmp = path.with_suffix(".partial")
    start = datetime.date(2025, 6, 1)
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write("NGÂN HÀNG TMCP NGOẠI THƯƠNG VIỆT NAM\r\nSAO KÊ TÀI KHOẢN,,Số tài khoản: 0011004123456\r\n\r\n")
        fh.write("STT,Ngày giao dịch,Số tham chiếu,Số tiền ghi nợ,Số tiền ghi có,Số dư,Mô tả\r\n")
        for i in range(lines):
            day = start + datetime.timedelta(days=i * 28 // max(lines, 1))
            prefix = f"MBVCB.{rng.randrange(10**9, 10**10)}.{rng.randrange(10**5, 10**6)}."
            kind = rng.random()
            month = rng.randint(1, 5)
            if kind < 0.6:
                amount = rng.randrange(50, 5000) * 10_000
                note = f"{prefix}CONG TY TNHH SO {i % employers} NOP KPCD T{month:02d}/2025 MST {tax_code(rng.randrange(employers))}"
            elif kind < 0.9:
                amount = rng.randrange(3, 30) * 10_000
                note = f"{prefix}{rng.choice(FIRST_NAMES)} DOAN PHI THANG {month} {member_code(rng.randrange(members))}"
            else:
                amount = rng.randrange(1, 100) * 10_000
                note = f"{prefix}CHUYEN TIEN UNG HO QUY"
            fh.write(f"{i + 1},{day:%d/%m/%Y},FT25{i:010d},,\"{amount:,}\",,{note}\r\n")
    tmp.rename(path)
    return path


def main():
    lines, employers, members = sizes()
    if not pg_available():
        print("payments_bench: PostgreSQL not reachable, skipped")
        return
    timer = Timer()
    path = generate_statement(lines, employers, members)
    print(f"pay_statement_file: {path.name} ({path.stat().st_size / 1e6:.1f} MB, {lines} lines)")
    print(f"pay_generate_seconds: {timer.seconds:.1f} s")
    env = {"DJANGO_SETTINGS_MODULE": os.environ.get("PAYMENTS_BENCH_SETTINGS", "congdoan.settings")}
    with pg_database(PG_NAME) as url:
        for line in run_worker("benchmarks.payments_bench", [str(path)], {**env, "DATABASE_URL": url, "HUEY_IMMEDIATE": "1"}):
            print(line)


def worker(path: str):
    lines, employers, members = sizes()
    setup_django()
    from django.db import connection

    from congdoan.accounts.models import RoleAssignment, User
    from congdoan.organizations.models import Unit
    from congdoan.payments import ledger, services
    from congdoan.payments.models import Allocation, BankAccount, BankLayout, BankTransaction

    timer = Timer()
    tree = build_tree(employers)
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM organizations_unit WHERE level = 'grassroots' ORDER BY code")
        ids = [r[0] for r in cur.fetchall()]
        cur.executemany("UPDATE organizations_unit SET employer_tax_code = %s, employer_type = 'domestic_private' WHERE id = %s",
                        [(tax_code(i), pk) for i, pk in enumerate(ids)])
        with cur.cursor.copy("COPY members_member (code, full_name, name_normalized, date_of_birth, gender, citizen_id, ethnicity, "
                             "religion, education_level, qualification, phone, email, occupation, union_position, joined_on, "
                             "unit_id, status, created_at, updated_at) FROM STDIN") as copy:
            now = datetime.datetime.now(datetime.timezone.utc)
            for i in range(members):
                copy.write_row((member_code(i), "Nguyễn Văn An", "nguyen van an", datetime.date(1990, 1, 1), "male",
                                f"{i:012d}", "", "", "", "", "", "", "", "", datetime.date(2015, 1, 1), ids[i % len(ids)],
                                "active", now, now))
        cur.execute("ANALYZE")
    national = tree["national"]
    user = User.objects.create_user(username="ke_toan_tw", password="x-Bench-2026", full_name="Kế toán")
    RoleAssignment.objects.create(user=user, unit=national, role="accountant")
    account = BankAccount.objects.create(unit=Unit.objects.get(pk=national.pk), bank_name="Vietcombank",
                                         account_number="0011004123456", layout=BankLayout.objects.get(bank_code="VCB"))
    print(f"pay_setup_seconds: {timer.seconds:.1f} s ({employers} employers, {members} members)")

    from django.core.files import File

    def run_once(label):
        load_before = os.getloadavg()
        usage = Usage()
        started = time.perf_counter()
        job = services.statement_import_create(actor=user, account=account, upload=File(open(path, "rb"), name=os.path.basename(path)),
                                               fmt="table")
        job = services.statement_import_run(job_pk=job.pk)
        total = time.perf_counter() - started
        t = job.timings
        print(f"{label}_status: {job.status} (errors {job.error_count})")
        print(f"{label}_total_seconds: {total:.1f} s ({lines / total:,.0f} lines/s)")
        # CPU seconds move less than wall time on a shared host: the worker's connection's is the floor of the figure
        print(f"{label}_usage: {usage.summary()} (Python: the worker with its reader process; the matching thread's "
              f"connection not counted)")
        print(f"{label}_read_match_write_seconds: {t.get('read_match_write_seconds', 0):.1f} s (one transaction; the file is "
              f"parsed in a second thread meanwhile)")
        print(f"{label}_opened_seconds: {t.get('opened_seconds', 0):.1f} s (the file opened, before the first line is read)")
        print(f"{label}_waiting_seconds: {t.get('wait_seconds', 0):.1f} s (the writing thread waiting for matched lines)")
        print(f"{label}_match_seconds: {t.get('match_seconds', 0):.1f} s (normalize, find keys, look them up, decide)")
        print(f"{label}_match_parts: known lines {t.get('match_known_seconds', 0):.1f} s, keys {t.get('match_keys_seconds', 0):.1f} s, "
              f"look-ups {t.get('match_lookup_seconds', 0):.1f} s, decisions {t.get('match_decide_seconds', 0):.1f} s, "
              f"COPY text prepared {t.get('match_prepare_seconds', 0):.1f} s")
        print(f"{label}_write_seconds: {t.get('write_seconds', 0):.1f} s (stage, check, insert lines and allocations)")
        print(f"{label}_post_seconds: {t.get('post_seconds', 0):.1f} s (posted {job.posted_count} receipts in bulk, inside the "
              f"import's transaction, in {t.get('post_batches', 0)} batches: all but the last while the next lines are read)")
        print(f"{label}_post_after_reading_seconds: {t.get('post_rest_seconds', 0):.1f} s (the last batch, after the reading)")
        for stage, what in (("analyze", "the lines' and allocations' statistics refreshed before each batch"),
                            ("stage", "allocations staged"), ("prepare", "units, rules, accounts"),
                            ("decide", "decisions and splits, one CREATE TABLE AS"),
                            ("groups", "summary transactions: one per union, day, source and account"),
                            ("receipts", "INSERT receipts with their splits"), ("transactions", "INSERT summary transactions"),
                            ("entries", "INSERT their entries")):
            if f"post_{stage}_seconds" in t:
                print(f"{label}_post_{stage}_seconds: {t[f'post_{stage}_seconds']:.1f} s ({what})")
        parts = ", ".join(f"{part} {t[f'post_prepare_{part}_seconds']:.1f} s" for part in
                          ("units", "rules", "references", "closed", "refusals", "accounts") if f"post_prepare_{part}_seconds" in t)
        if parts:
            print(f"{label}_post_prepare_parts: {parts}")
        print(f"{label}_commit_seconds: {t.get('commit_seconds', 0):.1f} s (deferred checks: foreign keys, ledger balance)")
        print(f"{label}_load_average: {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} cores)")
        print(f"{label}_counts: new {job.new_count}, already imported {job.known_count}, matched {job.matched_count}, "
              f"queued {job.queued_count}")
        return job, total

    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        job, total = run_once("pay_import")
        profile.disable()
        target = os.environ["BENCH_PROFILE"]  # "1": to stderr; else a file to write the profile to
        with (open(target, "w") if target != "1" else contextlib.nullcontext(sys.stderr)) as stream:
            pstats.Stats(profile, stream=stream).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(45)
    else:
        watch_checks()
        job, total = run_once("pay_import")
        print_checks()
    print(f"pay_ledger_wired: {'yes' if ledger.available() else 'no (receipt_post not found: posting deferred)'}")
    print(f"pay_import_under_60s: {'yes' if total < 60 else 'no'} (imported, matched and posted)")
    print(f"pay_lines_in_db: {BankTransaction.objects.count()} lines, {Allocation.objects.count()} allocations, "
          f"{Allocation.objects.filter(posted_at__isnull=True).count()} unposted")
    from congdoan.finance.models import Entry, Receipt, Transaction

    print(f"pay_ledger_in_db: {Transaction.objects.count()} transactions, {Entry.objects.count()} entries, "
          f"{Receipt.objects.count()} receipts")
    if ledger.available():
        one_by_one(user, int(os.environ.get("BENCH_ONE_BY_ONE", "1000")))
    run_once("pay_reimport")


def watching() -> bool:
    return bool(os.environ.get("BENCH_CHECKS") or os.environ.get("BENCH_EXPLAIN"))


def watch_checks():
    """BENCH_CHECKS=1: count the time of the database's own functions (the statement-level reference checks) in the
    import's session; BENCH_EXPLAIN=<ms> also writes the plan of every statement that took longer to the server's log
    (auto_explain, this session only; the server's settings are not touched; timing plans slows the statements
    it times). Needs a superuser connection."""
    from django.db import connection

    if not watching():
        return
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_reset()")  # the counters are cumulative: only the import's own calls are printed
        cur.execute("SET track_functions = 'pl'")
        if os.environ.get("BENCH_EXPLAIN"):
            cur.execute("LOAD 'auto_explain'")
            cur.execute(f"SET auto_explain.log_min_duration = {int(os.environ['BENCH_EXPLAIN'])}")
            cur.execute("SET auto_explain.log_analyze = on")
            cur.execute("SET auto_explain.log_timing = off")
            cur.execute("SET auto_explain.log_nested_statements = on")


def print_checks():
    from django.db import connection

    if not watching():
        return
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_force_next_flush()")
    connection.close()  # the statistics are read by another session once flushed
    time.sleep(1.5)
    with connection.cursor() as cur:
        cur.execute("SELECT funcname, calls, total_time FROM pg_stat_user_functions ORDER BY total_time DESC")
        for name, calls, total in cur.fetchall():
            print(f"pay_import_check_seconds: {total / 1000:.2f} s {name} ({calls} statements)")


def one_by_one(user, count: int):
    """For comparison, in the same conditions: receipts posted the way they were before the bulk form, one
    ``receipt_post`` per receipt, each in its own transaction (committed with its deferred checks)."""
    from django.db import transaction

    from congdoan.finance.services import receipt_post
    from congdoan.payments.models import Allocation

    sample = list(Allocation.objects.select_related("unit").order_by("pk")[:count])
    if not sample:
        return
    started = time.perf_counter()
    for i, allocation in enumerate(sample):
        with transaction.atomic():
            receipt_post(actor=user, unit=allocation.unit, source=allocation.source, payer_reference=ledger_reference(allocation),
                         amount=allocation.amount, paid_on=allocation.paid_on, external_id=f"bench:one:{i}", period=allocation.period)
    each = (time.perf_counter() - started) / len(sample)
    print(f"pay_one_by_one_ms: {each * 1000:.1f} ms per receipt ({len(sample)} receipts through receipt_post, one transaction "
          f"each; 900,042 would take {each * 900_042 / 3600:.1f} h)")


def ledger_reference(allocation) -> str:
    from congdoan.payments import ledger

    return ledger.reference_for(allocation.payer_kind, allocation.member_id or allocation.unit_id)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
