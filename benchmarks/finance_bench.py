"""The ledger at national scale (issue 5): balances at any date and a province's arrears report.

In a fresh PostgreSQL database ``congdoan_bench_fin`` (created and dropped here):
  - a national tree: one province ("P00") with 5,000 employers (grassroots unions under 250
    upper-grassroots unions), and 62 other provinces sharing as many more employers as it takes to
    reach BENCH_LEDGER_LINES ledger lines (default 10,000,000);
  - 24 months (01/2024–12/2025) of salary fund declarations for every employer, and a union fee
    receipt for 9 employer-months out of 10, each posted as receipt_post posts it: 9 lines, split
    between the union and its three upper levels (7,500 / 1,000 / 1,000 / 500 basis points);
  - every month up to 11/2025 closed for every unit, with each account's monthly closing balance
    (12/2025 stays open), all written with INSERT … SELECT from generate_series, the indexes built
    afterwards (set-up, not measured);
  - BENCH_PROVINCE_MEMBERS members in P00 (default 100,000: 20 per employer), one in ten joined
    during 2025, one in fifty no longer active, one in twenty with a salary recorded, one in a
    hundred exempt from dues for six months.
Then, through the selectors the pages use (median of repeated calls, in-process, warm):
  - the balance of an account at a date: random accounts and dates; the national federation's
    receivable account (one line per receipt in the country) in the open month and inside a closed one;
  - a unit's trial balance (every account);
  - the arrears report of province P00 (5,000 employers × 24 months);
  - the collection dashboard page of P00 for 2025 (finance_reports: union fee and dues owed and
    paid, arrears by age, 250 branches), through Django's test client: server time, median of 10;
    then once more with a salary recorded for every member (median of 3): its lines are
    `finance_reports_dashboard_*`;
and, once each: closing 12/2025 for the national federation (period_close), posting a receipt
(receipt_post), and, for comparison, the plain SUM over all lines that the snapshots replace.
Prints `name: value unit` lines.
"""

import datetime
import os
import random
import statistics
import sys
import time

from benchmarks.bench_db import Timer, pg_available, pg_database, run_worker, setup_django

PG_NAME = "congdoan_bench_fin"
MONTHS = 24
FIRST_MONTH = datetime.date(2024, 1, 1)
LINES_PER_RECEIPT = 9
PROVINCE_EMPLOYERS = 5_000
PER_UPPER = 20


def sizes() -> tuple[int, int]:
    lines = int(os.environ.get("BENCH_LEDGER_LINES", "10000000"))
    employers = max(PROVINCE_EMPLOYERS + PER_UPPER, round(lines / LINES_PER_RECEIPT / MONTHS / 0.9))
    return lines, employers


def main():
    lines, employers = sizes()
    if not pg_available():
        print("finance: skipped (no PostgreSQL server)")
        return
    with pg_database(PG_NAME) as url:
        env = {"DATABASE_URL": url, "DEBUG": "0", "HUEY_IMMEDIATE": "1", "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost"}
        for line in run_worker("benchmarks.finance_bench", [str(employers)], env):
            print(line, flush=True)


run = main


def province_members() -> int:
    return int(os.environ.get("BENCH_PROVINCE_MEMBERS", str(20 * PROVINCE_EMPLOYERS)))


def _median_ms(fn, repeat: int = 10) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def build_tree(employers: int) -> dict:
    """National → 63 provinces → upper-grassroots unions of 20 → grassroots unions (employers)."""
    from congdoan.core import paths as tree
    from congdoan.core.text import normalize_search
    from congdoan.organizations.models import Unit

    def unit(code, name, level, parent, number, **extra):
        path = (parent.path if parent else "") + tree.encode_segment(number)
        return Unit(code=code, name=name, name_normalized=normalize_search(name), level=level, path=path,
                    depth=len(path) // tree.STEPLEN, parent=parent, **extra)

    national = unit("TLD", "Tổng Liên đoàn Lao động Việt Nam", "national", None, 0)
    national.save()
    provinces = [unit(f"P{i:02d}", f"Liên đoàn Lao động tỉnh {i:02d}", "province", national, i) for i in range(63)]
    Unit.objects.bulk_create(provinces)
    provinces = list(Unit.objects.filter(level="province").order_by("code"))
    # P00 holds PROVINCE_EMPLOYERS; the others share the rest
    counts = [PROVINCE_EMPLOYERS] + [0] * 62
    for i in range(employers - PROVINCE_EMPLOYERS):
        counts[1 + i % 62] += 1
    uppers, plan = [], []
    for p_index, province in enumerate(provinces):
        n_uppers = -(-counts[p_index] // PER_UPPER)
        for u in range(n_uppers):
            uppers.append(unit(f"U{p_index:02d}{u:04d}", f"Công đoàn cấp trên {p_index}-{u}", "upper_grassroots", province, u))
            plan.append(min(PER_UPPER, counts[p_index] - u * PER_UPPER))
    Unit.objects.bulk_create(uppers, batch_size=5000)
    uppers = {u.code: u for u in Unit.objects.filter(level="upper_grassroots")}
    grassroots = []
    serial = 0
    for upper_code, n in zip(sorted(uppers), [plan[i] for i in range(len(plan))]):
        upper = uppers[upper_code]
        for g in range(n):
            grassroots.append(unit(f"G{serial:06d}", f"Công đoàn cơ sở {serial}", "grassroots", upper, g, employer_type="domestic_private",
                                   employer_name=f"Công ty {serial}", employer_tax_code=f"{1_000_000_000 + serial:010d}"))
            serial += 1
    Unit.objects.bulk_create(grassroots, batch_size=5000)
    return {"national": national, "province": provinces[0], "units": Unit.objects.count()}


def _bulk(cursor, table: str, statement: str, params=()) -> float:
    """Run an INSERT … SELECT into ``table`` with its secondary indexes dropped and its triggers off,
    then build the indexes again; returns the seconds taken."""
    start = time.perf_counter()
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE %s",
                   [table, "%_pkey"])
    indexes = cursor.fetchall()
    constraint_backed = set()
    cursor.execute("SELECT conindid::regclass::text FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('u', 'p')", [table])
    constraint_backed = {row[0] for row in cursor.fetchall()}
    dropped = [(name, sql) for name, sql in indexes if name not in constraint_backed]
    for name, _sql in dropped:
        cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    if params:
        cursor.execute(statement, params)
    else:
        cursor.execute(statement)  # no parameters: "%" in the SQL is the modulo operator
    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
    for _name, sql in dropped:
        cursor.execute(sql)
    return time.perf_counter() - start


def load_ledger(cursor) -> dict:
    """Accounts, declarations, receipts (transactions, entries, receipt rows), closed months and snapshots."""
    months_sql = f"SELECT (DATE '{FIRST_MONTH.isoformat()}' + make_interval(months => m))::date AS month, m FROM generate_series(0, {MONTHS - 1}) m"
    timings = {}
    cursor.execute("""
        INSERT INTO finance_account (unit_id, code)
        SELECT u.id, c.code FROM organizations_unit u
        JOIN (VALUES ('grassroots', '112'), ('grassroots', '5111'), ('grassroots', '336'),
                     ('upper_grassroots', '136'), ('upper_grassroots', '5111'), ('province', '136'), ('province', '5111'),
                     ('national', '136'), ('national', '5111')) AS c(level, code) ON c.level = u.level""")
    cursor.execute("""
        CREATE TEMP TABLE bench_g AS
        SELECT g.id AS g, up.id AS up, pr.id AS pr, na.id AS na, row_number() OVER (ORDER BY g.id) AS n,
               (SELECT id FROM finance_account WHERE unit_id = g.id AND code = '112') AS g_bank,
               (SELECT id FROM finance_account WHERE unit_id = g.id AND code = '5111') AS g_rev,
               (SELECT id FROM finance_account WHERE unit_id = g.id AND code = '336') AS g_pay,
               (SELECT id FROM finance_account WHERE unit_id = up.id AND code = '136') AS up_rec,
               (SELECT id FROM finance_account WHERE unit_id = up.id AND code = '5111') AS up_rev,
               (SELECT id FROM finance_account WHERE unit_id = pr.id AND code = '136') AS pr_rec,
               (SELECT id FROM finance_account WHERE unit_id = pr.id AND code = '5111') AS pr_rev,
               (SELECT id FROM finance_account WHERE unit_id = na.id AND code = '136') AS na_rec,
               (SELECT id FROM finance_account WHERE unit_id = na.id AND code = '5111') AS na_rev
        FROM organizations_unit g JOIN organizations_unit up ON up.id = g.parent_id
        JOIN organizations_unit pr ON pr.id = up.parent_id JOIN organizations_unit na ON na.id = pr.parent_id
        WHERE g.level = 'grassroots'""")
    cursor.execute("ANALYZE bench_g")
    # what each employer owes a month: 2 % of a fund of 100 M đồng + 50 k per employer number (fee 2,000,000 + 1,000 n)
    timings["declarations"] = _bulk(cursor, "finance_salaryfunddeclaration", f"""
        INSERT INTO finance_salaryfunddeclaration (unit_id, month, si_salary_fund, workers, source, declared_at, updated_at)
        SELECT b.g, ms.month, 100000000 + 50000 * (b.n % 1000), 50, 'xlsx', now(), now() FROM bench_g b CROSS JOIN ({months_sql}) ms""")
    # receipts: 9 employer-months out of 10 are paid in full, in the month after (the last ones in the open months)
    cursor.execute(f"""
        CREATE TEMP TABLE bench_t AS
        SELECT row_number() OVER (ORDER BY x.day, x.g) AS id, x.* FROM (
            SELECT b.*, ms.month, (ms.month + interval '1 month' + make_interval(days => (b.n % 25)::int))::date AS day,
                   (2000000 + 1000 * (b.n % 1000))::bigint AS amount
            FROM bench_g b CROSS JOIN ({months_sql}) ms WHERE (b.n + ms.m) % 10 <> 0) x""")
    cursor.execute("ANALYZE bench_t")
    timings["transactions"] = _bulk(cursor, "finance_transaction", """
        INSERT INTO finance_transaction (id, unit_id, date, kind, memo, external_id, amount, created_at)
        OVERRIDING SYSTEM VALUE
        SELECT id, g, day, 'receipt', 'Kinh phí công đoàn', 'bench:' || id, amount * 125 / 100, now() FROM bench_t""")
    cursor.execute("SELECT setval(pg_get_serial_sequence('finance_transaction', 'id'), (SELECT max(id) FROM finance_transaction))")
    timings["entries"] = _bulk(cursor, "finance_entry", """
        INSERT INTO finance_entry (transaction_id, account_id, unit_id, date, debit, credit)
        SELECT t.id, l.account, l.unit, t.day, l.debit, l.credit FROM bench_t t CROSS JOIN LATERAL (VALUES
            (t.g_bank, t.g, t.amount, 0::bigint), (t.g_rev, t.g, 0, t.amount * 3 / 4), (t.g_pay, t.g, 0, t.amount / 4),
            (t.up_rec, t.up, t.amount / 10, 0), (t.up_rev, t.up, 0, t.amount / 10),
            (t.pr_rec, t.pr, t.amount / 10, 0), (t.pr_rev, t.pr, 0, t.amount / 10),
            (t.na_rec, t.na, t.amount / 20, 0), (t.na_rev, t.na, 0, t.amount / 20)) AS l(account, unit, debit, credit)""")
    timings["receipts"] = _bulk(cursor, "finance_receipt", """
        INSERT INTO finance_receipt (external_id, transaction_id, unit_id, payer_kind, source, amount, paid_on, period)
        SELECT 'bench:' || id, id, g, 'employer', 'union_fee', amount, day, month FROM bench_t""")
    # months 01/2024–11/2025 closed for every unit, with every account's cumulative balance at each month's end
    closed_months = f"SELECT month FROM ({months_sql}) ms WHERE m < {MONTHS - 1}"
    first_open = datetime.date(FIRST_MONTH.year + (FIRST_MONTH.month - 1 + MONTHS - 1) // 12, (FIRST_MONTH.month - 1 + MONTHS - 1) % 12 + 1, 1)
    timings["periods"] = _bulk(cursor, "finance_period", f"""
        INSERT INTO finance_period (unit_id, month, closed_at) SELECT u.id, c.month, now()
        FROM organizations_unit u CROSS JOIN ({closed_months}) c WHERE u.level <> 'sub_union'""")
    timings["snapshots"] = _bulk(cursor, "finance_accountbalance", f"""
        INSERT INTO finance_accountbalance (account_id, month, debit, credit)
        SELECT a.id, c.month,
               sum(coalesce(s.d, 0)) OVER (PARTITION BY a.id ORDER BY c.month),
               sum(coalesce(s.c, 0)) OVER (PARTITION BY a.id ORDER BY c.month)
        FROM finance_account a CROSS JOIN ({closed_months}) c
        LEFT JOIN (SELECT account_id, date_trunc('month', date)::date AS m, sum(debit) AS d, sum(credit) AS c
                   FROM finance_entry WHERE date < DATE '{first_open.isoformat()}'
                   GROUP BY 1, 2) s ON s.account_id = a.id AND s.m = c.month""")
    start = time.perf_counter()
    cursor.execute("VACUUM ANALYZE finance_entry")
    cursor.execute("VACUUM ANALYZE finance_accountbalance")
    cursor.execute("VACUUM ANALYZE finance_receipt")
    cursor.execute("VACUUM ANALYZE finance_salaryfunddeclaration")
    cursor.execute("VACUUM ANALYZE finance_period")
    timings["vacuum"] = time.perf_counter() - start
    cursor.execute("SELECT count(*) FROM finance_entry")
    entries = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM finance_transaction")
    receipts = cursor.fetchone()[0]
    return {"entries": entries, "receipts": receipts, "timings": timings}


def load_members(cursor, province_path: str, members: int) -> dict:
    """``members`` members in the grassroots unions of the province, spread evenly; one in ten joined
    during 2025, one in fifty is no longer active; a salary for one in twenty, a dues exemption
    (03–08/2025) for one in a hundred."""
    start = time.perf_counter()
    cursor.execute("SELECT id FROM organizations_unit WHERE level = 'grassroots' AND path LIKE %s ORDER BY path", [province_path + "%"])
    employers = len(cursor.fetchall())
    _bulk(cursor, "members_member", """
        INSERT INTO members_member (code, full_name, name_normalized, date_of_birth, gender, citizen_id, ethnicity, religion,
                                    education_level, qualification, phone, email, occupation, union_position, joined_on, status,
                                    created_at, updated_at, unit_id)
        SELECT 'B' || lpad(x.n::text, 9, '0'), 'Nguyễn Văn ' || x.n, 'nguyen van ' || x.n, DATE '1970-01-01' + (x.n * 37 %% 12000)::int,
               CASE WHEN x.n %% 2 = 0 THEN 'male' ELSE 'female' END, lpad(x.n::text, 12, '0'), '', '', '', '', '', '', '', '',
               CASE WHEN x.n %% 10 = 0 THEN DATE '2025-01-01' + (x.n * 7 %% 330)::int ELSE DATE '2010-01-01' + (x.n * 13 %% 5000)::int END,
               CASE WHEN x.n %% 50 = 7 THEN 'left' ELSE 'active' END, now(), now(), g.id
        FROM (SELECT n, n %% %s AS slot FROM generate_series(0, %s - 1) n) x
        JOIN (SELECT id, row_number() OVER (ORDER BY path) - 1 AS slot FROM organizations_unit
              WHERE level = 'grassroots' AND path LIKE %s) g ON g.slot = x.slot""", [employers, members, province_path + "%"])
    cursor.execute("""
        INSERT INTO finance_membersalary (valid_from, salary, created_at, member_id)
        SELECT DATE '2024-07-01', 5000000 + (id % 97) * 150000, now(), id FROM members_member WHERE id % 20 = 3""")
    cursor.execute("""
        INSERT INTO finance_duesexemption (first_month, last_month, reason, created_at, member_id)
        SELECT DATE '2025-03-01', DATE '2025-08-01', 'Nghỉ ốm dài ngày', now(), id FROM members_member WHERE id % 100 = 11""")
    for table in ("members_member", "finance_membersalary", "finance_duesexemption", "organizations_unit"):
        cursor.execute(f"VACUUM ANALYZE {table}")
    cursor.execute("SELECT count(*), count(*) FILTER (WHERE status = 'active') FROM members_member")
    total, active = cursor.fetchone()
    return {"members": total, "active": active, "seconds": time.perf_counter() - start}


def measure_dashboard(say, user, province):
    """The collection dashboard page of the province for 2025, through the test client (middleware,
    queries, template: the server's time), median of 10 after a warm-up request; then again with a
    salary recorded for every member before the period (dues.py's "steady" members, median of 3)."""
    from django.db import connection
    from django.test import Client

    from congdoan.finance_reports import selectors as reports
    from congdoan.finance_reports.periods import make_period

    client = Client()
    client.force_login(user)
    url = f"/finance-reports/?unit={province.pk}&period=2025"

    def page():
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        return response

    year = make_period("year", 2025)
    report = reports.collection_report(user=user, root=province, roots=[province], period=year, today=datetime.date(2026, 1, 15))
    say("reports_dashboard_province_ms", f"{_median_ms(page):.0f}",
        f"ms (target < 500; {report.total.grassroots.value:,} employers, {len(report.branches)} branches; "
        f"load average {os.getloadavg()[0]:.1f})")
    t = report.total
    say("reports_dashboard_figures", f"fee owed {t.fee_owed.value:,} đ, paid {t.fee_paid.value:,} đ; dues owed {t.dues_owed.value:,} đ; "
                                      f"{t.in_arrears.value:,} employers in arrears, {t.arrears.value:,} đ")
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO finance_membersalary (valid_from, salary, created_at, member_id)
            SELECT DATE '2024-10-01', 4500000 + (id % 89) * 120000, now(), id FROM members_member
            WHERE NOT EXISTS (SELECT 1 FROM finance_membersalary s WHERE s.member_id = members_member.id)""")
        cursor.execute("VACUUM ANALYZE finance_membersalary")
    say("reports_dashboard_province_all_salaried_ms", f"{_median_ms(page, 3):.0f}",
        "ms (a salary recorded for every member, from 10/2024)")


def worker(employers: int):
    def say(name, value, unit=""):
        print(f"finance_{name}: {value}{(' ' + unit) if unit else ''}", flush=True)

    timer = Timer()
    setup_django()
    from django.db import connection
    from django.db.models import Sum

    from congdoan.accounts.models import RoleAssignment, User
    from congdoan.finance import selectors, services
    from congdoan.finance.models import Account, Entry
    from congdoan.finance.references import payment_reference_for
    from congdoan.organizations.models import Unit

    facts = build_tree(employers)
    say("tree_seconds", f"{timer.seconds:.1f}", "s")
    with connection.cursor() as cursor:
        loaded = load_ledger(cursor)
        members = load_members(cursor, facts["province"].path, province_members())
    say("load_seconds", f"{timer.seconds:.1f}", "s")
    say("load_breakdown", ", ".join(f"{k} {v:.1f} s" for k, v in loaded["timings"].items()))
    say("data", f"{loaded['entries']:,} ledger lines, {loaded['receipts']:,} receipts, {facts['units']:,} units, "
                f"{employers:,} employers × {MONTHS} months declared; province P00: {PROVINCE_EMPLOYERS:,} employers, "
                f"{members['members']:,} members ({members['active']:,} active; loaded in {members['seconds']:.1f} s)")
    national, province = facts["national"], facts["province"]
    user = User.objects.create_user(username="ke_toan_tw", password="x-Bench-2026", full_name="Kế toán")
    RoleAssignment.objects.create(user=user, unit=national, role="accountant")

    rng = random.Random(5)
    accounts = list(Account.objects.order_by("?").values_list("pk", "code")[:2000])
    pairs = [(Account(pk=pk, code=code), FIRST_MONTH + datetime.timedelta(days=rng.randrange(0, 1060))) for pk, code in accounts[:200]]

    def random_balances():
        for account, day in pairs:
            selectors.account_balance(account, day)

    start = time.perf_counter()
    random_balances()
    say("balance_random_account_date_ms", f"{(time.perf_counter() - start) * 1000 / len(pairs):.2f}", "ms (mean of 200, cold)")
    say("balance_random_account_date_warm_ms", f"{_median_ms(random_balances, 3) / len(pairs):.2f}", "ms (mean of 200)")
    national_rec = Account.objects.get(unit=national, code="136")
    lines_national = Entry.objects.filter(account=national_rec).count()
    say("national_receivable_lines", f"{lines_national:,}")
    say("balance_national_open_month_ms", f"{_median_ms(lambda: selectors.account_balance(national_rec, datetime.date(2025, 12, 31))):.2f}",
        "ms (snapshot 11/2025 + the open month's lines)")
    say("balance_national_closed_month_ms", f"{_median_ms(lambda: selectors.account_balance(national_rec, datetime.date(2025, 6, 15))):.2f}",
        "ms (snapshot 05/2025 + half of June)")
    grassroots = Unit.objects.filter(level="grassroots").order_by("path").first()
    say("trial_balance_grassroots_ms", f"{_median_ms(lambda: selectors.unit_balances(grassroots, datetime.date(2025, 12, 20))):.2f}", "ms")
    say("trial_balance_national_ms", f"{_median_ms(lambda: selectors.unit_balances(national, datetime.date(2025, 12, 20))):.2f}", "ms")

    def plain_sum():
        Entry.objects.filter(account=national_rec, date__lte=datetime.date(2025, 12, 31)).aggregate(d=Sum("debit"), c=Sum("credit"))
    say("balance_national_without_snapshots_ms", f"{_median_ms(plain_sum, 3):.1f}", "ms (plain SUM over every line, for comparison)")
    expected = Entry.objects.filter(account=national_rec, date__lte=datetime.date(2025, 6, 15)).aggregate(d=Sum("debit"))["d"]
    assert selectors.account_balance(national_rec, datetime.date(2025, 6, 15))["debit"] == expected, "snapshot and plain sum disagree"

    report = {}

    def arrears():
        report["r"] = selectors.arrears_report(user=user, root=province, as_of=datetime.date(2026, 1, 1))
    say("arrears_province_ms", f"{_median_ms(arrears, 5):.0f}", f"ms ({PROVINCE_EMPLOYERS:,} employers × {MONTHS} months)")
    totals = report["r"]["totals"]
    say("arrears_province_figures", f"{totals['employers']:,} employers, {totals['in_arrears']:,} in arrears, "
                                    f"owed {totals['owed']:,} đ, paid {totals['paid']:,} đ")
    measure_dashboard(say, user, province)

    timer = Timer()
    services.period_close(actor=user, unit=national, month=datetime.date(2025, 12, 1))
    say("period_close_national_ms", f"{timer.seconds * 1000:.0f}", "ms (12/2025, every account)")
    assert selectors.account_balance(national_rec, datetime.date(2026, 1, 5))["debit"] == Entry.objects.filter(
        account=national_rec, date__lte=datetime.date(2026, 1, 5)).aggregate(d=Sum("debit"))["d"], "snapshot 12/2025 is wrong"

    employer_ids = list(Unit.objects.filter(level="grassroots").values_list("pk", flat=True)[:200])
    today = datetime.date.today()
    times = []
    for i, unit_id in enumerate(employer_ids):
        unit = Unit(pk=unit_id)
        start = time.perf_counter()
        services.receipt_post(actor=user, unit=unit, source="union_fee", payer_reference=payment_reference_for(kind="employer", payer_id=unit_id),
                              amount=2_000_000 + i, paid_on=today, external_id=f"bench-post:{i}")
        times.append((time.perf_counter() - start) * 1000)
    say("receipt_post_ms", f"{statistics.median(times):.1f}", "ms (median of 200; one transaction each)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]))
    else:
        main()
