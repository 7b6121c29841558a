"""Leaders' dashboard and member list at national scale (issue 3, part 2).

In a fresh PostgreSQL database (created and dropped here): loads BENCH_ROWS members (default
1,000,000) in BENCH_ROWS/50 units with benchmarks/data.py (COPY), rebuilds the dashboard's
aggregates, then measures with Django's test Client, in-process (server time: middleware, queries,
templates; median of 10 after one warm-up request):
  - the dashboard of the nation, of the largest and of the median-sized province;
  - the member list of a province subtree and of the nation, with filters, with the admission year;
  - accent-insensitive name searches (a full name, a bare surname);
  - the list and search figures again with random_page_cost = 1.1 (the usual SSD setting), `ssd_*`;
  - the recount a member change adds to its transaction (median and largest unit);
and, for comparison, the GROUP BY over the member table the aggregates replace.
Prints `name: value unit` lines.
"""

import os
import statistics
import sys
import time

from benchmarks.bench_db import Timer, pg_available, pg_database, run_worker, setup_django

PG_NAME = "congdoan_bench_dash"
REPEAT = 10


def sizes() -> tuple[int, int]:
    rows = int(os.environ.get("BENCH_ROWS", "1000000"))
    return rows, max(100, rows // 50)


def main():
    rows, units = sizes()
    if not pg_available():
        print("dashboard: skipped (no PostgreSQL server)")
        return
    with pg_database(PG_NAME) as url:
        env = {"DATABASE_URL": url, "DEBUG": "0", "HUEY_IMMEDIATE": "1", "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost"}
        for line in run_worker("benchmarks.dashboard_bench", [str(rows), str(units)], env):
            print(line, flush=True)


def _median_ms(fn, repeat: int = REPEAT) -> float:
    fn()  # warm-up: caches, plans, the user's grants
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def worker(rows: int, units: int):
    def say(name, value, unit=""):
        print(f"dash_{name}: {value}{(' ' + unit) if unit else ''}", flush=True)

    timer = Timer()
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from benchmarks.data import load_nation
    from congdoan.accounts.models import RoleAssignment, User
    from congdoan.dashboard.selectors import dashboard_get
    from congdoan.dashboard.services import rebuild_unit_stats, refresh_unit_stats
    from congdoan.members.choices import AgeBand, MemberStatus
    from congdoan.members.models import Member
    from congdoan.members.selectors import age_band_q
    from congdoan.organizations.models import Unit

    facts = load_nation(members=rows, units=units)
    say("load_seconds", f"{timer.seconds:.1f}", "s")
    say("data", f"{facts['members']} members, {facts['units']} units; largest province {facts['largest_province_members']} "
                f"members, median province {facts['median_province_members']}, median unit {facts['typical_unit_members']}, "
                f"largest unit {facts['biggest_unit_members']}")

    timer = Timer()
    stat_rows = rebuild_unit_stats()
    say("stats_rebuild_seconds", f"{timer.seconds:.1f}", "s")
    say("stats_rows", stat_rows)

    national = Unit.objects.get(pk=facts["national_id"])
    province = Unit.objects.get(pk=facts["largest_province_id"])
    median = Unit.objects.get(pk=facts["median_province_id"])

    def official(username, unit):
        user = User.objects.create(username=username)
        RoleAssignment.objects.create(user=user, unit=unit, role="chair")
        client = Client()
        client.force_login(user)
        return user, client

    national_chair, national_client = official("bench_national", national)
    _, province_client = official("bench_province", province)
    _, median_client = official("bench_median_province", median)

    # the figures are right at scale (a spot check against the member table)
    d = dashboard_get(user=national_chair)
    actual = Member.objects.filter(status=MemberStatus.ACTIVE).count()
    young = Member.objects.filter(status=MemberStatus.ACTIVE, **age_band_q(AgeBand.UNDER_30)).count()
    ok = d.summary["members"]["total"] == actual and d.by_age[0].band.value == young
    say("figures_match_member_table", "yes" if ok else f"NO ({d.summary['members']['total']} vs {actual})")

    def get(client, url):
        def fetch():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        return fetch

    year = timezone.localdate().year
    pages = [
        # name, client, url; "largest" = the largest province, "median" = the median-sized one
        ("dashboard_national_ms", national_client, "/"),
        ("dashboard_largest_province_ms", province_client, "/"),
        ("dashboard_median_province_ms", median_client, "/"),
        ("member_list_largest_province_ms", national_client, f"/members/?unit={province.pk}"),
        ("member_list_median_province_ms", median_client, "/members/"),
        ("member_list_national_ms", national_client, "/members/"),
        ("member_list_largest_province_filtered_ms", province_client, "/members/?gender=female&age_band=30_39&status=active"),
        ("member_list_admitted_this_year_median_province_ms", median_client, f"/members/?admitted_year={year}"),
        ("member_search_full_name_national_ms", national_client, "/members/?q=nguyen+van+an"),
        ("member_search_full_name_largest_province_ms", province_client, "/members/?q=tran+thi+thu"),
        ("member_search_surname_national_ms", national_client, "/members/?q=nguyen"),
        ("member_search_surname_median_province_ms", median_client, "/members/?q=nguyen"),
    ]
    for name, client, url in pages:
        say(name, f"{_median_ms(get(client, url)):.0f}", "ms")
    # the same with the planner told that random reads are cheap (SSD, data in RAM): see docs/dashboard.md
    with connection.cursor() as cursor:
        cursor.execute("SET random_page_cost = 1.1")
    for name, client, url in pages:
        if name.startswith("member_"):
            say(f"ssd_{name}", f"{_median_ms(get(client, url)):.0f}", "ms")
    with connection.cursor() as cursor:
        cursor.execute("RESET random_page_cost")

    from django.db import transaction

    def refresh(unit_id):
        def run():
            with transaction.atomic():
                refresh_unit_stats([unit_id])
        return run

    say("refresh_typical_unit_ms", f"{_median_ms(refresh(facts['typical_unit_id'])):.1f}", "ms")
    say("refresh_largest_unit_ms", f"{_median_ms(refresh(facts['biggest_unit_id'])):.1f}", "ms")

    def naive():
        # what a GROUP BY over the member table costs for the national gender × age figures
        with connection.cursor() as cursor:
            cursor.execute("SELECT gender, width_bucket(extract(year FROM age(date_of_birth)), ARRAY[30, 40, 50]), count(*) "
                           "FROM members_member WHERE status = 'active' GROUP BY 1, 2")
            cursor.fetchall()
    say("naive_group_by_national_ms", f"{_median_ms(naive, 3):.0f}", "ms")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
