"""The staging table: checked rows are loaded into a temporary table, then the database-side
checks, the counts and the write run set-wise in SQL.

PostgreSQL: psycopg 3 ``COPY`` into the temporary table, then ``INSERT … ON CONFLICT
(citizen_id) DO UPDATE`` with the admission events written by the same statement.
SQLite: ``executemany`` into the temporary table, then the same upsert (SQLite ≥ 3.24).
Unchanged rows are not rewritten, so importing the same file twice changes nothing.
"""

from django.utils.translation import gettext as _

from congdoan.imports.validation import RECORD_FIELDS

STAGE = "import_stage"
#: member columns the import writes (besides code, status and the timestamps)
DATA_FIELDS = ["full_name", "name_normalized", "date_of_birth", "gender", "citizen_id", "ethnicity", "religion",
               "education_level", "qualification", "phone", "email", "occupation", "union_position", "joined_on", "unit_id"]
#: fields compared to tell an update from an unchanged row
COMPARED_FIELDS = [f for f in DATA_FIELDS if f != "citizen_id"]
_TYPES = {"row_no": "integer", "date_of_birth": "date", "joined_on": "date", "unit_id": "bigint"}
_DATE_POSITIONS = [RECORD_FIELDS.index("date_of_birth"), RECORD_FIELDS.index("joined_on")]


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

    # -- table ---------------------------------------------------------------------------------
    def create(self):
        text_type = "text" if self.pg else "TEXT"
        columns = ", ".join(f"{f} {_TYPES.get(f, text_type)}" for f in RECORD_FIELDS)
        with self.connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {STAGE}")
            cur.execute(f"CREATE TEMP TABLE {STAGE} ({columns}, is_new integer DEFAULT 0)")

    def drop(self):
        with self.connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {STAGE}")

    def prefer_index_lookups(self):
        """Inside the current transaction, join the staged chunk to the member table by index lookups.

        During a large import the planner's row estimate for members_member lags behind (its
        statistics predate the rows this import wrote), and it then prefers hashing the whole table
        on every chunk: minutes at a million rows. A chunk of staged rows against a unique index
        is a nested loop of index lookups in every case that matters here.
        """
        if self.pg:
            with self.connection.cursor() as cur:
                cur.execute("SET LOCAL enable_hashjoin = off")
                cur.execute("SET LOCAL enable_mergejoin = off")

    def clear(self):
        with self.connection.cursor() as cur:
            cur.execute(f"TRUNCATE {STAGE}" if self.pg else f"DELETE FROM {STAGE}")

    def load(self, records: list):
        columns = ", ".join(RECORD_FIELDS)
        with self.connection.cursor() as cur:
            if self.pg:
                with cur.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
                    for record in records:
                        copy.write_row(record)
            else:
                first, second = _DATE_POSITIONS

                def adapted():
                    for r in records:
                        r = list(r)
                        if r[first] is not None:
                            r[first] = r[first].isoformat()
                        if r[second] is not None:
                            r[second] = r[second].isoformat()
                        yield r

                marks = ", ".join(["?"] * len(RECORD_FIELDS))
                cur.cursor.executemany(f"INSERT INTO {STAGE} ({columns}) VALUES ({marks})", adapted())

    # -- checks --------------------------------------------------------------------------------
    def _in_scope(self, column: str) -> tuple[str, list]:
        start, end = self.scope
        if end is None:
            return f"{column} >= %s", [start]
        return f"({column} >= %s AND {column} < %s)", [start, end]

    def check(self, report):
        """Database-side errors, each given to ``report(row, key, code, message, value)``."""
        in_scope, params = self._in_scope("u.path")
        with self.connection.cursor() as cur:
            # a CCCD held by a member outside the importer's subtree: say no more than that
            cur.execute(
                f"SELECT s.row_no, s.citizen_id FROM {STAGE} s JOIN members_member m ON m.citizen_id = s.citizen_id "
                f"JOIN organizations_unit u ON u.id = m.unit_id WHERE NOT {in_scope}", params)
            for row_no, cid in cur.fetchall():
                report(row_no, "citizen_id", "citizen_id_elsewhere",
                       _("The citizen ID %(cid)s is already registered for a member of another unit, outside the units "
                         "you manage.") % {"cid": cid}, cid)
            # a member code given in the file that another member holds
            cur.execute(
                f"SELECT s.row_no, s.code FROM {STAGE} s JOIN members_member m ON m.code = s.code "
                f"WHERE s.code <> '' AND m.citizen_id <> s.citizen_id")
            for row_no, code in cur.fetchall():
                report(row_no, "code", "duplicate_code", _("The member code %(code)s is already used.") % {"code": code}, code)
            # a member (in scope) whose code differs from the one in the file: codes are not changed by import
            cur.execute(
                f"SELECT s.row_no, s.code, m.code FROM {STAGE} s JOIN members_member m ON m.citizen_id = s.citizen_id "
                f"JOIN organizations_unit u ON u.id = m.unit_id WHERE s.code <> '' AND m.code <> s.code AND {in_scope}", params)
            for row_no, code, existing in cur.fetchall():
                report(row_no, "code", "code_mismatch",
                       _("The member with this citizen ID has the member code %(existing)s, not %(code)s; leave the "
                         "code empty or correct it.") % {"existing": existing, "code": code}, code)

    def counts(self) -> dict:
        changed = " OR ".join(f"m.{f} {self.ne} s.{f}" for f in COMPARED_FIELDS)
        with self.connection.cursor() as cur:
            cur.execute(
                f"SELECT COUNT(*), "
                f"COALESCE(SUM(CASE WHEN m.id IS NULL THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN m.id IS NOT NULL AND ({changed}) THEN 1 ELSE 0 END), 0), "
                f"COALESCE(SUM(CASE WHEN m.id IS NOT NULL AND m.unit_id <> s.unit_id THEN 1 ELSE 0 END), 0) "
                f"FROM {STAGE} s LEFT JOIN members_member m ON m.citizen_id = s.citizen_id")
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
                    f"EXISTS (SELECT 1 FROM members_member m WHERE m.code = s.new_code) "
                    f"OR s.new_code IN (SELECT t.code FROM {STAGE} t WHERE t.code <> ''))")
                rows = [r[0] for r in cur.fetchall()]
                if not rows:
                    return fixed
                cur.executemany(f"UPDATE {STAGE} SET new_code = %s WHERE row_no = %s", [(new_code(), r) for r in rows])
                fixed += len(rows)
        raise ImportConflict("could not find free member codes")

    def write(self, expected: dict, reason: str) -> set[int]:
        """Transfer events for members moved between units, the upsert, admission events; returns the
        units members moved out of.

        ``expected`` are the counts taken just before; a difference means the data changed
        under the import (e.g. a member moved out of scope meanwhile) and raises ImportConflict.
        """
        in_scope, scope_params = self._in_scope("path")
        changed = " OR ".join(f"{'members_member'}.{f} {self.ne} {'EXCLUDED' if self.pg else 'excluded'}.{f}"
                              for f in COMPARED_FIELDS)
        update_set = ", ".join(f"{f} = excluded.{f}" for f in DATA_FIELDS if f != "citizen_id")
        insert_columns = ", ".join(["code", *DATA_FIELDS, "status", "created_at", "updated_at"])
        select_columns = ", ".join(["CASE WHEN s.code <> '' THEN s.code ELSE s.new_code END",
                                    *(f"s.{f}" for f in DATA_FIELDS), "'active'", "%s", "%s"])
        upsert = (
            # rows ordered by unit: index pages of the unit indexes (and the heap) are filled in order
            f"INSERT INTO members_member ({insert_columns}) SELECT {select_columns} FROM {STAGE} s WHERE 1 = 1 "
            f"ORDER BY s.unit_id "
            f"ON CONFLICT (citizen_id) DO UPDATE SET {update_set}, updated_at = excluded.updated_at "
            f"WHERE ({changed}) AND members_member.unit_id IN (SELECT id FROM organizations_unit WHERE {in_scope})"
        )
        event_columns = "member_id, kind, occurred_on, from_unit_id, to_unit_id, reason, actor_id, created_at"
        moved_from: set[int] = set()
        with self.connection.cursor() as cur:
            if expected["moved"]:
                cur.execute(f"SELECT DISTINCT m.unit_id FROM {STAGE} s JOIN members_member m ON m.citizen_id = s.citizen_id "
                            f"WHERE m.unit_id <> s.unit_id")
                moved_from = {row[0] for row in cur.fetchall()}
                cur.execute(
                    f"INSERT INTO members_membershipevent ({event_columns}) "
                    f"SELECT m.id, 'transfer', %s, m.unit_id, s.unit_id, %s, %s, %s FROM {STAGE} s "
                    f"JOIN members_member m ON m.citizen_id = s.citizen_id WHERE m.unit_id <> s.unit_id",
                    [self.today, reason, self.actor_id, self.now])
            if self.pg:
                cur.execute(
                    f"WITH up AS ({upsert} RETURNING id, unit_id, joined_on, (xmax = 0) AS inserted), "
                    f"ev AS (INSERT INTO members_membershipevent ({event_columns}) "
                    f"SELECT id, 'admission', joined_on, NULL, unit_id, '', %s, %s FROM up WHERE inserted RETURNING 1) "
                    f"SELECT (SELECT COUNT(*) FROM up WHERE inserted), (SELECT COUNT(*) FROM up WHERE NOT inserted), "
                    f"(SELECT COUNT(*) FROM ev)",
                    [self.now, self.now, *scope_params, self.actor_id, self.now])
                inserted, updated, events = cur.fetchone()
            else:
                cur.execute(f"UPDATE {STAGE} SET is_new = 1 WHERE NOT EXISTS "
                            f"(SELECT 1 FROM members_member m WHERE m.citizen_id = {STAGE}.citizen_id)")
                inserted = cur.rowcount
                cur.execute(upsert, [self.now, self.now, *scope_params])
                updated = cur.rowcount - inserted
                cur.execute(
                    f"INSERT INTO members_membershipevent ({event_columns}) "
                    f"SELECT m.id, 'admission', m.joined_on, NULL, m.unit_id, '', %s, %s FROM {STAGE} s "
                    f"JOIN members_member m ON m.citizen_id = s.citizen_id WHERE s.is_new = 1",
                    [self.actor_id, self.now])
                events = cur.rowcount
        if (inserted, updated, events) != (expected["created"], expected["updated"], expected["created"]):
            raise ImportConflict(f"expected {expected}, wrote {inserted} new, {updated} updated, {events} events")
        return moved_from
