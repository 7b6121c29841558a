"""The staging table: checked rows are loaded into a temporary table, then the database-side
checks, the counts and the write run set-wise in SQL.

Each chunk is loaded (PostgreSQL: psycopg 3 binary ``COPY``; SQLite: ``executemany``), then matched once
against the member table by CCCD (``classify``: one index lookup per row, which records the
member's id, unit, code, whether it lies in the importer's subtree and whether the row changes
it). The checks and the counts then read the staging table alone, and the write is two plain
statements: an ``INSERT … SELECT`` of the new members (with their admission events in the same
statement on PostgreSQL) and an ``UPDATE … FROM`` of the changed ones. Unchanged rows are not
touched at all, so importing the same file twice changes nothing and writes nothing.
"""

import datetime
from contextlib import contextmanager

from django.db import DatabaseError, IntegrityError, transaction
from django.utils.translation import gettext as _

from congdoan.core.db import local_settings
from congdoan.imports.validation import RECORD_FIELDS

STAGE = "import_stage"
#: the members there before an initial load, by CCCD and code (Staging.bulk_begin)
KNOWN = "import_known"
#: member columns the import writes (besides code, status and the timestamps)
DATA_FIELDS = ["full_name", "name_normalized", "date_of_birth", "gender", "citizen_id", "ethnicity", "religion",
               "education_level", "qualification", "phone", "email", "occupation", "union_position", "joined_on", "unit_id"]
#: fields compared to tell an update from an unchanged row
COMPARED_FIELDS = [f for f in DATA_FIELDS if f != "citizen_id"]
_TYPES = {"row_no": "integer", "date_of_birth": "date", "joined_on": "date", "unit_id": "bigint"}
#: what classify() learns about the member a row's CCCD belongs to (all NULL for a new member)
MATCH_COLUMNS = {"member_id": "bigint", "old_unit_id": "bigint", "old_code": "text", "in_scope": "integer",
                 "changed": "integer"}
_DATE_POSITIONS = [RECORD_FIELDS.index("date_of_birth"), RECORD_FIELDS.index("joined_on")]
#: PostgreSQL types of the staging records in binary COPY (see Staging.load)
_COPY_TYPES = [{"text": "text", "integer": "int4", "date": "date", "bigint": "int8"}[_TYPES.get(f, "text")] for f in RECORD_FIELDS]
#: PostgreSQL planner settings while chunks are matched and written, see Staging.index_lookups()
_LOOKUP_SETTINGS = ["enable_hashjoin", "enable_mergejoin", "enable_seqscan", "enable_material", "jit"]
#: memory of a chunk's statements (PostgreSQL), see Staging.index_lookups(): a 50,000-row chunk's new member rows
#: are about 15 MB
WORK_MEM = "64MB"


class ImportConflict(Exception):
    """The database changed under the import (rows counted differ from rows written)."""


class Staging:
    def __init__(self, connection, *, scope_path: str, scope_end: str | None, actor_id, today, now):
        self.connection = connection
        self.pg = connection.vendor == "postgresql"
        self.ops = connection.ops
        self.scope = (scope_path, scope_end)
        self.actor_id = actor_id
        self.today = self.ops.adapt_datefield_value(today)
        self.now = self.ops.adapt_datetimefield_value(now)
        self.ne = "IS DISTINCT FROM" if self.pg else "IS NOT"
        #: where members are looked up by CCCD and code: the member table, or during an initial load the
        #: snapshot of the members there before it (bulk_begin)
        self.known = "members_member"
        self._dropped_indexes: list = []
        self._dropped_constraints: list = []

    # -- table ---------------------------------------------------------------------------------
    def create(self):
        """The staging table: a temporary table (PostgreSQL writes no WAL for it)."""
        text_type = "text" if self.pg else "TEXT"
        columns = ", ".join(f"{f} {_TYPES.get(f, text_type)}" for f in RECORD_FIELDS)
        matched = ", ".join(f"{f} {t}" for f, t in MATCH_COLUMNS.items())
        with self.connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {STAGE}")
            cur.execute(f"CREATE TEMP TABLE {STAGE} ({columns}, {matched})")

    def drop(self):
        with self.connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {STAGE}")

    @contextmanager
    def index_lookups(self):
        """Inside the current transaction, join the staged chunk to the member table by index lookups.

        A chunk of staged rows against a unique index is a nested loop of index lookups in every
        case that matters here, but during a large import the planner's view of members_member
        lags behind: its statistics predate the rows this import wrote, and an ANALYZE that runs
        meanwhile (autovacuum) sees those uncommitted rows as dead and records a table of 0 rows.
        The planner then hashes or scans the whole table once per chunk: minutes at a million
        rows. So hash and merge joins, sequential scans (the staging table has no index and is
        still read sequentially) and materialized inner scans are ruled out while a chunk is
        matched and written; JIT is off because those penalties make every query look expensive
        enough to compile. ``work_mem`` is raised so that the rows a chunk writes to the member
        table, which PostgreSQL keeps for the statement-level reference check (members migration
        0006), stay in memory (the default 4 MB spilled each chunk to a temporary file: 1.2 s of a
        million-member load). The settings go back to what they were afterwards (the dashboard's
        recount at the end of an import needs the usual plans).
        """
        with local_settings(self.connection, {**dict.fromkeys(_LOOKUP_SETTINGS, "off"), "work_mem": WORK_MEM}):
            yield

    # -- initial load (PostgreSQL, opt-in) ------------------------------------------------------
    #: the tables whose secondary indexes an initial load drops and builds again afterwards
    BULK_TABLES = ("members_member", "members_membershipevent")

    def bulk_begin(self, lock_timeout_ms: int = 5000) -> bool:
        """Take the member tables for this transaction alone and drop the member table's secondary
        indexes and unique constraints.

        For an import that at least doubles the member table (a first national load), building
        an index once after the rows are in costs a fraction of maintaining it row by row (see
        docs/import.md): the unique index of the CCCD alone, filled in random order, costs 3–4 s of a
        million-row load and 0.25 s to build. Dropping an index needs an ACCESS EXCLUSIVE lock, held
        until the import commits: until then every other reader and writer of members waits, so no
        one else can register a CCCD or a code meanwhile. The rows are matched against a snapshot of
        the members already there (``import_known``: id, CCCD and code, indexed), which is all they
        can match: the file's own rows are told apart in Python (a CCCD or code repeated in the
        file is an error). The events table's secondary indexes go too (maintained, they cost a million
        admissions 2.3 s; built, 0.85 s). Returns False, changing nothing, when the lock is not granted
        within ``lock_timeout_ms``. Transactional: a rolled-back import restores everything.
        """
        if not self.pg:
            return False
        tables = ", ".join(self.BULK_TABLES)
        try:
            with transaction.atomic(using=self.connection.alias):  # a savepoint: a refused lock changes nothing
                with self.connection.cursor() as cur:
                    cur.execute("SET LOCAL lock_timeout = %s", [f"{int(lock_timeout_ms)}ms"])
                    cur.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
        except DatabaseError:
            return False
        with self.connection.cursor() as cur:
            cur.execute("SET LOCAL lock_timeout TO DEFAULT")
            cur.execute(f"DROP TABLE IF EXISTS {KNOWN}")
            cur.execute(f"CREATE TEMP TABLE {KNOWN} AS SELECT id, citizen_id, code FROM members_member")
            cur.execute(f"CREATE UNIQUE INDEX ON {KNOWN} (citizen_id)")
            cur.execute(f"CREATE INDEX ON {KNOWN} (code)")
            cur.execute(f"ANALYZE {KNOWN}")
            cur.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'members_member'::regclass AND contype = 'u' ORDER BY 1")
            self._dropped_constraints = cur.fetchall()
            for name, _definition in self._dropped_constraints:
                cur.execute(f"ALTER TABLE members_member DROP CONSTRAINT {name}")
            cur.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = indexrelid) ORDER BY 1",
                [list(self.BULK_TABLES)])
            self._dropped_indexes = cur.fetchall()
            for name, _definition in self._dropped_indexes:
                cur.execute(f"DROP INDEX {name}")
        self.known = KNOWN
        return True

    def bulk_end(self):
        """Build the dropped indexes and unique constraints again (same names and definitions) and
        refresh the planner's statistics of the member tables. A CCCD or code that the load wrote
        twice (which the checks rule out) fails the unique constraint: ImportConflict, nothing written."""
        with self.connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # PostgreSQL builds no index on a table with pending checks
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            try:
                with transaction.atomic(using=self.connection.alias):
                    for name, definition in self._dropped_constraints:
                        cur.execute(f"ALTER TABLE members_member ADD CONSTRAINT {name} {definition}")
                    for _name, definition in self._dropped_indexes:  # a unique index that is not a constraint, too
                        cur.execute(definition)
            except IntegrityError as exc:
                raise ImportConflict(f"initial load: {exc}") from exc
            cur.execute("SET LOCAL maintenance_work_mem TO DEFAULT")
            for table in self.BULK_TABLES:
                cur.execute(f"ANALYZE {table}")
            cur.execute(f"DROP TABLE IF EXISTS {KNOWN}")
        self._dropped_indexes, self._dropped_constraints = [], []
        self.known = "members_member"

    def clear(self):
        with self.connection.cursor() as cur:
            cur.execute(f"TRUNCATE {STAGE}" if self.pg else f"DELETE FROM {STAGE}")

    def load(self, records: list):
        """Load checked records: on PostgreSQL by a binary COPY, each record written by psycopg's C code
        (1 s of CPU per million rows, against 2 s for building COPY's text in Python, and no escaping); on
        SQLite by executemany."""
        if self.pg:
            columns = ", ".join(RECORD_FIELDS)
            with self.connection.cursor() as cur:
                with cur.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(_COPY_TYPES)
                    write_row = copy.write_row
                    for record in records:
                        write_row(record)
            return
        first, second = _DATE_POSITIONS

        def adapted():
            for r in records:
                r = list(r)
                if r[first] is not None:
                    r[first] = r[first].isoformat()
                if r[second] is not None:
                    r[second] = r[second].isoformat()
                yield r

        columns = ", ".join(RECORD_FIELDS)
        marks = ", ".join(["?"] * len(RECORD_FIELDS))
        with self.connection.cursor() as cur:
            cur.cursor.executemany(f"INSERT INTO {STAGE} ({columns}) VALUES ({marks})", adapted())

    # -- matching the member table ---------------------------------------------------------------
    def _in_scope(self, column: str) -> tuple[str, list]:
        start, end = self.scope
        if end is None:
            return f"{column} >= %s", [start]
        return f"({column} >= %s AND {column} < %s)", [start, end]

    def _by_citizen_id(self, staged: str) -> str:
        """FROM … WHERE of the member (m) and his unit (u) that hold the CCCD ``staged``."""
        if self.known == "members_member":
            return f"members_member m JOIN organizations_unit u ON u.id = m.unit_id WHERE m.citizen_id = {staged}"
        return (f"{self.known} k JOIN members_member m ON m.id = k.id JOIN organizations_unit u ON u.id = m.unit_id "
                f"WHERE k.citizen_id = {staged}")

    def classify(self):
        """Find each staged row's member by CCCD, once: the checks, the counts and the write read it."""
        in_scope, params = self._in_scope("u.path")
        changed = " OR ".join(f"m.{f} {self.ne} s.{f}" for f in COMPARED_FIELDS)
        with self.connection.cursor() as cur:
            if self.pg:
                cur.execute(
                    f"UPDATE {STAGE} s SET member_id = m.id, old_unit_id = m.unit_id, old_code = m.code, "
                    f"in_scope = CASE WHEN {in_scope} THEN 1 ELSE 0 END, changed = CASE WHEN {changed} THEN 1 ELSE 0 END "
                    f"FROM {self._by_citizen_id('s.citizen_id')}", params)
            else:
                # a row-value subquery rather than UPDATE … FROM, which needs SQLite 3.33
                changed = changed.replace(" s.", f" {STAGE}.")
                cur.execute(
                    f"UPDATE {STAGE} SET (member_id, old_unit_id, old_code, in_scope, changed) = ("
                    f"SELECT m.id, m.unit_id, m.code, CASE WHEN {in_scope} THEN 1 ELSE 0 END, CASE WHEN {changed} THEN 1 ELSE 0 END "
                    f"FROM members_member m JOIN organizations_unit u ON u.id = m.unit_id WHERE m.citizen_id = {STAGE}.citizen_id) "
                    f"WHERE citizen_id IN (SELECT citizen_id FROM members_member)", params)

    # -- checks --------------------------------------------------------------------------------
    def check(self, report):
        """Database-side errors, each given to ``report(row, key, code, message, value)``."""
        with self.connection.cursor() as cur:
            # a CCCD held by a member outside the importer's subtree: say no more than that
            cur.execute(f"SELECT row_no, citizen_id FROM {STAGE} WHERE member_id IS NOT NULL AND in_scope = 0")
            for row_no, cid in cur.fetchall():
                report(row_no, "citizen_id", "citizen_id_elsewhere",
                       _("The citizen ID %(cid)s is already registered for a member of another unit, outside the units "
                         "you manage.") % {"cid": cid}, cid)
            # a member code given in the file that another member holds
            cur.execute(
                f"SELECT s.row_no, s.code FROM {STAGE} s JOIN {self.known} m ON m.code = s.code "
                f"WHERE s.code <> '' AND m.citizen_id <> s.citizen_id")
            for row_no, code in cur.fetchall():
                report(row_no, "code", "duplicate_code", _("The member code %(code)s is already used.") % {"code": code}, code)
            # a member (in scope) whose code differs from the one in the file: codes are not changed by import
            cur.execute(f"SELECT row_no, code, old_code FROM {STAGE} "
                        f"WHERE member_id IS NOT NULL AND in_scope = 1 AND code <> '' AND old_code <> code")
            for row_no, code, existing in cur.fetchall():
                report(row_no, "code", "code_mismatch",
                       _("The member with this citizen ID has the member code %(existing)s, not %(code)s; leave the "
                         "code empty or correct it.") % {"existing": existing, "code": code}, code)

    def counts(self) -> dict:
        with self.connection.cursor() as cur:
            cur.execute(
                f"SELECT COUNT(*), "
                f"COALESCE(SUM(CASE WHEN member_id IS NULL THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN member_id IS NOT NULL AND changed = 1 THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN member_id IS NOT NULL AND old_unit_id <> unit_id THEN 1 ELSE 0 END), 0) "
                f"FROM {STAGE}")
            total, new, updated, moved = (int(v or 0) for v in cur.fetchone())
        return {"created": new, "updated": updated, "unchanged": total - new - updated, "moved": moved}

    # -- writing -------------------------------------------------------------------------------
    def fix_generated_codes(self, new_code) -> int:
        """Draw another code for rows whose generated code a member already holds, or that a later row
        of the same chunk gives explicitly."""
        fixed = 0
        with self.connection.cursor() as cur:
            for _attempt in range(20):
                cur.execute(
                    f"SELECT s.row_no FROM {STAGE} s WHERE s.new_code <> '' AND ("
                    f"EXISTS (SELECT 1 FROM {self.known} m WHERE m.code = s.new_code) "
                    f"OR s.new_code IN (SELECT t.code FROM {STAGE} t WHERE t.code <> ''))")
                rows = [r[0] for r in cur.fetchall()]
                if not rows:
                    return fixed
                cur.executemany(f"UPDATE {STAGE} SET new_code = %s WHERE row_no = %s", [(new_code(), r) for r in rows])
                fixed += len(rows)
        raise ImportConflict("could not find free member codes")

    def write(self, expected: dict, reason: str) -> set[int]:
        """Transfer events for members moved between units, the new members with their admission
        events, the updates; returns the units members moved out of.

        ``expected`` are the counts taken just before; a difference means the data changed
        under the import (e.g. a member moved out of scope, or the same CCCD registered
        meanwhile) and raises ImportConflict.
        """
        moved_from: set[int] = set()
        try:
            with self.connection.cursor() as cur:
                if expected["moved"]:
                    moved_from = self._transfer_events(cur, reason)
                inserted, events = self._insert_new(cur) if expected["created"] else (0, 0)
                updated = self._update_changed(cur) if expected["updated"] else 0
        except IntegrityError as exc:  # a CCCD or member code taken by another transaction meanwhile, or (PostgreSQL's
            # reference check, members 0006) a unit that went away since the checks
            raise ImportConflict(f"integrity: {exc}") from exc
        if (inserted, updated, events) != (expected["created"], expected["updated"], expected["created"]):
            raise ImportConflict(f"expected {expected}, wrote {inserted} new, {updated} updated, {events} events")
        return moved_from

    _EVENT_COLUMNS = "member_id, kind, occurred_on, from_unit_id, to_unit_id, reason, actor_id, created_at"

    def _transfer_events(self, cur, reason: str) -> set[int]:
        moved = f"FROM {STAGE} WHERE member_id IS NOT NULL AND old_unit_id <> unit_id"
        cur.execute(f"SELECT DISTINCT old_unit_id {moved}")
        moved_from = {row[0] for row in cur.fetchall()}
        cur.execute(f"INSERT INTO members_membershipevent ({self._EVENT_COLUMNS}) "
                    f"SELECT member_id, 'transfer', %s, old_unit_id, unit_id, %s, %s, %s {moved}",
                    [self.today, reason, self.actor_id, self.now])
        return moved_from

    def _insert_new(self, cur) -> tuple[int, int]:
        """New members (no ON CONFLICT: classify() found no member with their CCCD; one registered
        since then violates the unique constraint), each with an admission event."""
        insert_columns = ", ".join(["code", *DATA_FIELDS, "status", "created_at", "updated_at"])
        select_columns = ", ".join(["CASE WHEN s.code <> '' THEN s.code ELSE s.new_code END",
                                    *(f"s.{f}" for f in DATA_FIELDS), "'active'", "%s", "%s"])
        # rows ordered by unit: the pages of the (unit, …) indexes and of the heap are filled in order
        insert = (f"INSERT INTO members_member ({insert_columns}) SELECT {select_columns} FROM {STAGE} s "
                  f"WHERE s.member_id IS NULL ORDER BY s.unit_id, s.row_no")
        if self.pg:
            cur.execute(
                f"WITH new AS ({insert} RETURNING id, unit_id, joined_on), "
                f"ev AS (INSERT INTO members_membershipevent ({self._EVENT_COLUMNS}) "
                f"SELECT id, 'admission', joined_on, NULL, unit_id, '', %s, %s FROM new RETURNING 1) "
                f"SELECT (SELECT COUNT(*) FROM new), (SELECT COUNT(*) FROM ev)",
                [self.now, self.now, self.actor_id, self.now])
            inserted, events = cur.fetchone()
            return inserted, events
        cur.execute(insert, [self.now, self.now])
        inserted = cur.rowcount
        cur.execute(
            f"INSERT INTO members_membershipevent ({self._EVENT_COLUMNS}) "
            f"SELECT m.id, 'admission', m.joined_on, NULL, m.unit_id, '', %s, %s FROM {STAGE} s "
            f"JOIN members_member m ON m.citizen_id = s.citizen_id WHERE s.member_id IS NULL",
            [self.actor_id, self.now])
        return inserted, cur.rowcount

    def _update_changed(self, cur) -> int:
        """Members whose row differs, inside the importer's subtree (both checked again on the
        member's current row: a member changed or moved out of scope meanwhile is not written,
        and the count then differs)."""
        in_scope, scope_params = self._in_scope("path")
        fields = [f for f in DATA_FIELDS if f != "citizen_id"]
        if self.pg:
            changed = " OR ".join(f"m.{f} IS DISTINCT FROM s.{f}" for f in COMPARED_FIELDS)
            cur.execute(
                f"UPDATE members_member m SET {', '.join(f'{f} = s.{f}' for f in fields)}, updated_at = %s "
                f"FROM {STAGE} s WHERE s.member_id = m.id AND s.changed = 1 AND m.citizen_id = s.citizen_id "
                f"AND ({changed}) AND m.unit_id IN (SELECT id FROM organizations_unit WHERE {in_scope})",
                [self.now, *scope_params])
            return cur.rowcount
        changed = " OR ".join(f"members_member.{f} IS NOT s.{f}" for f in COMPARED_FIELDS)
        staged = f"FROM {STAGE} s WHERE s.member_id = members_member.id AND s.changed = 1 AND s.citizen_id = members_member.citizen_id"
        cur.execute(
            f"UPDATE members_member SET ({', '.join(fields)}, updated_at) = (SELECT {', '.join(f's.{f}' for f in fields)}, %s "
            f"{staged}) WHERE EXISTS (SELECT 1 {staged} AND ({changed})) "
            f"AND unit_id IN (SELECT id FROM organizations_unit WHERE {in_scope})",
            [self.now, *scope_params])
        return cur.rowcount
