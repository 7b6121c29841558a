"""National-scale data for benchmarks, loaded straight into PostgreSQL with COPY (psycopg 3).

``load_nation(members=1_000_000, units=20_000)`` builds a realistic tree (the national federation,
63 provinces of uneven size, upper-grassroots unions, grassroots unions with lognormal sizes, a few
sub-unions) and its members with the demo generators of congdoan.core.demo_data, plus one
admission event per member. Members are written in random unit order, the unfavourable case for
subtree reads. Indexes and constraints of the big tables are dropped during the COPY and rebuilt
after it (PERFORMANCE.md: ~3× faster than COPY into an indexed table).

Needs Django set up and migrated on a PostgreSQL database that the caller owns: it writes ids
itself and is meant for empty, throw-away benchmark databases.
"""

import datetime
import math
import random
from contextlib import contextmanager

from congdoan.core import demo_data
from congdoan.core import paths as tree
from congdoan.core.text import normalize_search

PROVINCES = 63
CHUNK = 20_000  # rows per COPY write
STATUSES = ["active"] * 940 + ["left"] * 30 + ["suspended"] * 15 + ["transferred_out"] * 10 + ["deceased"] * 5
DISTRICT_KINDS = ["district"] * 6 + ["industrial_zone", "local_sector"]


def _text(value) -> str:
    """One field in COPY's text format (our generated values hold no tab, newline or backslash)."""
    if value is None:
        return r"\N"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    count = 0
    buffer = []
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            buffer.append("\t".join(_text(v) for v in row))
            count += 1
            if len(buffer) >= CHUNK:
                copy.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            copy.write("\n".join(buffer) + "\n")
    return count


@contextmanager
def _bare(cursor, tables: list[str]):
    """Drop the secondary indexes, unique and foreign-key constraints of ``tables``; restore them after."""
    saved = []
    for table in tables:
        cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE conrelid = %s::regclass AND contype IN ('u', 'f')", [table])
        constraints = cursor.fetchall()
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                       "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)", [table, table])
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        saved.append((table, constraints, indexes))
    yield
    cursor.execute("SET maintenance_work_mem = '512MB'")
    for table, constraints, indexes in saved:
        for _, definition in indexes:
            cursor.execute(definition)
        # unique constraints before foreign keys (a foreign key may point at one of them)
        for name, definition in sorted(constraints, key=lambda c: "FOREIGN KEY" in c[1]):
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def _units(rng: random.Random, total: int, today: datetime.date) -> list[dict]:
    """The tree as rows, parents before children; ids 1…n."""
    rows: list[dict] = []
    children: dict[int, int] = {}

    def add(parent, level, code, name, kind="general", **extra):
        number = children.get(parent["id"] if parent else 0, 0)
        children[parent["id"] if parent else 0] = number + 1
        path = (parent["path"] if parent else "") + tree.encode_segment(number)
        row = {"id": len(rows) + 1, "code": code, "name": name, "level": level, "kind": kind,
               "parent_id": parent["id"] if parent else None, "path": path, "depth": len(path) // tree.STEPLEN,
               "employer_type": "", "employer_name": "", "employer_tax_code": "", "worker_count": 0,
               "province": parent["province"] if parent else "", "founded_on": None, **extra}
        rows.append(row)
        return row

    national = add(None, "national", "TLD", "Tổng Liên đoàn Lao động Việt Nam", province="Hà Nội")
    provinces = [add(national, "province", f"P{i + 1:02d}", f"Liên đoàn Lao động tỉnh {i + 1:02d}", province=f"Tỉnh {i + 1:02d}")
                 for i in range(PROVINCES)]
    # uneven provinces: a few large cities, many small provinces
    province_weight = [rng.lognormvariate(0, 0.8) for _ in provinces]
    uppers_per_province = max(1, round((total - 1 - PROVINCES) * 0.035 / PROVINCES))
    uppers = {p["id"]: [add(p, "upper_grassroots", f"{p['code']}-U{j + 1:02d}", f"Liên đoàn Lao động huyện {j + 1:02d} {p['province']}",
                            kind=rng.choice(DISTRICT_KINDS)) for j in range(uppers_per_province)] for p in provinces}
    serial = 0
    while len(rows) < total:
        province = rng.choices(provinces, province_weight)[0]
        parent = province if rng.random() < 0.05 else rng.choice(uppers[province["id"]])
        serial += 1
        employer, employer_type = demo_data.employer(rng)
        grassroots = add(parent, "grassroots", f"G{serial:06d}", f"Công đoàn cơ sở {employer}", employer_type=employer_type,
                         employer_name=employer, employer_tax_code=demo_data.tax_code(rng),
                         worker_count=rng.randint(10, 3000), founded_on=today.replace(year=today.year - rng.randint(1, 30), day=1))
        if rng.random() < 0.02 and len(rows) + 2 <= total:  # large unions have department unions
            for k in (1, 2):
                add(grassroots, "sub_union", f"{grassroots['code']}-BP{k}", f"Công đoàn bộ phận Phân xưởng {k}")
    return rows


UNIT_COLUMNS = ["id", "code", "name", "name_normalized", "level", "kind", "parent_id", "path", "depth", "employer_type",
                "employer_name", "employer_tax_code", "worker_count", "address", "province", "founded_on", "status",
                "closed_on", "merged_into_id", "created_at", "updated_at"]
MEMBER_COLUMNS = ["id", "code", "full_name", "name_normalized", "date_of_birth", "gender", "citizen_id", "ethnicity", "religion",
                  "education_level", "qualification", "phone", "email", "occupation", "union_position", "joined_on", "unit_id",
                  "status", "user_id", "created_at", "updated_at"]
EVENT_COLUMNS = ["id", "member_id", "kind", "occurred_on", "from_unit_id", "to_unit_id", "reason", "actor_id", "created_at"]


def load_nation(*, members: int = 1_000_000, units: int = 20_000, seed: int = 2026, today: datetime.date | None = None) -> dict:
    """Load the tree and its members into the (empty, migrated) default database; returns facts
    about what was loaded (unit ids of the national federation and of the largest province…)."""
    from django.db import connection
    from django.utils import timezone

    today = today or timezone.localdate()
    now = timezone.now()
    rng = random.Random(seed)
    unit_rows = _units(rng, units, today)
    member_units = [u for u in unit_rows if u["level"] in ("grassroots", "sub_union")]
    # lognormal union sizes: median ~25, a long tail of large factories
    weights = [math.exp(rng.gauss(0, 1.2)) for _ in member_units]
    assigned = rng.choices(range(len(member_units)), weights, k=members)
    names: dict[str, str] = {}

    def unit_tuples():
        for u in unit_rows:
            yield (u["id"], u["code"], u["name"], normalize_search(u["name"]), u["level"], u["kind"], u["parent_id"], u["path"],
                   u["depth"], u["employer_type"], u["employer_name"], u["employer_tax_code"], u["worker_count"], "",
                   u["province"], u["founded_on"], "active", None, None, now, now)

    def member_tuples():
        member_rng = random.Random(seed + 1)
        for i in range(members):
            row = demo_data.member_row(member_rng, i, today)
            full_name = row["full_name"]
            normalized = names.get(full_name)
            if normalized is None:
                normalized = names[full_name] = normalize_search(full_name)
            unit = member_units[assigned[i]]
            yield (i + 1, f"DV{i + 1:010d}", full_name, normalized, row["date_of_birth"], row["gender"], row["citizen_id"],
                   row["ethnicity"], row["religion"], row["education_level"], row["qualification"], row["phone"], "",
                   row["occupation"], "", row["joined_on"], unit["id"], rng.choice(STATUSES), None, now, now)

    joined: list[tuple] = []

    def remember_joined(rows):
        for row in rows:
            joined.append((row[0], row[15], row[16]))
            yield row

    connection.ensure_connection()
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # the psycopg 3 cursor, for COPY
        with _bare(cursor, ["organizations_unit", "members_member", "members_membershipevent"]):
            _copy(cursor, "organizations_unit", UNIT_COLUMNS, unit_tuples())
            _copy(cursor, "members_member", MEMBER_COLUMNS, remember_joined(member_tuples()))
            _copy(cursor, "members_membershipevent", EVENT_COLUMNS,
                  ((pk, pk, "admission", joined_on, None, unit_id, "", None, now) for pk, joined_on, unit_id in joined))
        for table in ("organizations_unit", "members_member", "members_membershipevent"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        for table in ("organizations_unit", "members_member", "members_membershipevent"):
            cursor.execute(f"VACUUM ANALYZE {table}")

    per_province: dict[int, int] = {}
    province_of = {}
    by_path = {u["path"]: u for u in unit_rows}
    for u in unit_rows:
        if u["depth"] >= 2:
            province_of[u["id"]] = by_path[u["path"][: 2 * tree.STEPLEN]]["id"]
    for index in assigned:
        pid = province_of[member_units[index]["id"]]
        per_province[pid] = per_province.get(pid, 0) + 1
    largest = max(per_province, key=per_province.get)
    median_province = sorted(per_province, key=per_province.get)[len(per_province) // 2]
    sizes = [0] * len(member_units)
    for index in assigned:
        sizes[index] += 1
    biggest_unit = member_units[max(range(len(sizes)), key=sizes.__getitem__)]
    return {
        "national_id": unit_rows[0]["id"], "units": len(unit_rows), "members": members,
        "largest_province_id": largest, "largest_province_members": per_province[largest],
        "median_province_id": median_province, "median_province_members": per_province[median_province],
        "biggest_unit_id": biggest_unit["id"], "biggest_unit_members": max(sizes),
        "typical_unit_id": member_units[sorted(range(len(sizes)), key=sizes.__getitem__)[len(sizes) // 2]]["id"],
        "typical_unit_members": sorted(sizes)[len(sizes) // 2],
    }
