"""Posting many receipts at once: a bank statement's receipts, in a few set-based statements.

Payments posts every matched line of a bank statement, up to a million at a time; ``receipt_post`` costs
about 9 ms a receipt and writes 9 entries for each. ``receipts_post_bulk`` takes the receipts as Python rows
(``ReceiptIn``) or as a SQL query, stages them in a temporary table and:

1. settles per unit what ``receipt_post`` checks per receipt (whose books, active or not, in the actor's
   scope, which levels sit above the union), and per date what the rules say (the shares in force, the
   unions' own dues rates): a few thousand small rows, computed in Python with the ledger's own functions
   (``split_weights``, ``merge_missing_levels``, ``RuleBook``);
2. decides every receipt in one ``CREATE TABLE … AS SELECT`` (already posted, or refused and why, in the
   order ``receipt_post`` checks) and splits it between the levels by the largest remainder, in integer
   SQL arithmetic;
3. writes the accounts used for the first time, then **one summary transaction per province, day, source
   and money account** (bank or cash) with the sums of its receipts' lines per book and account, then
   the receipts, each with its own split (docs/finance.md, "A bank statement's receipts").

The result is the one of ``receipt_post`` called for each row in the order of ``key`` as far as the books
say: the same receipts with the same splits, the same balance of every account on every day, the same
refusals with the same codes and messages, nothing posted twice (idempotent by external id); only the
transactions that carry the lines differ (property-tested in ``tests/test_bulk.py``). The database guards
(balance per unit, references checked per statement, rows never changed) apply to these rows as to any.
The same SQL runs on PostgreSQL and SQLite; only the loading (COPY / executemany), month arithmetic and
transaction ids differ.
"""

import datetime
import math
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.finance import ledger, selectors
from congdoan.finance.choices import SHARE_LEVELS, AccountCode, RuleKind, Source, TransactionKind
from congdoan.finance.errors import FinanceError
from congdoan.finance.models import UnitDuesRate
from congdoan.finance.money import month_start
from congdoan.finance.references import parse_reference, payment_reference_for, reference_sql
from congdoan.finance.rules import RuleBook, unit_rate_on, unit_rates
from congdoan.organizations.choices import Level, UnitStatus
from congdoan.organizations.models import Unit

#: columns a ``query`` must return, in this order (payer: a payer kind and id, from which the payment
#: reference is computed; a row holds a payer_reference instead when it comes from ``ReceiptIn``)
QUERY_COLUMNS = ("key", "external_id", "unit_id", "source", "amount", "paid_on", "period", "payer_kind", "payer_id")

_STAGE = [("key", "bigint"), ("external_id", "varchar(200)"), ("unit_id", "bigint"), ("source", "varchar(100)"),
          ("amount", "bigint"), ("paid_on", "date"), ("period", "date"), ("p_kind", "varchar(10)"), ("p_id", "bigint"),
          ("payer_reference", "varchar(200)")]
_BIGGEST = 2**63 - 1
#: a decided receipt (``p``) and its summary transaction (``g``): the same province, day, source and account
_SAME_GROUP = "g.top = p.top AND g.paid_on = p.paid_on AND g.source = p.source AND g.cash = p.cash"
_CHUNK = 5_000
#: receipts staged from which the temporary tables are analysed before the decisions (PostgreSQL)
_ANALYZE_FROM = 10_000


@dataclass(frozen=True)
class ReceiptIn:
    """One receipt to post: the arguments of ``receipt_post``. ``key`` names the row in the result
    (default: its position); rows are posted in the order of their keys."""

    unit_id: int
    source: str
    amount: int
    paid_on: datetime.date
    external_id: str
    period: datetime.date | None = None
    payer_reference: str = ""
    key: int | None = None


@dataclass
class BulkResult:
    """What a bulk posting did: ``posted`` receipts written, ``existing`` ones that were posted before
    with the same figures (nothing written), ``refused`` {key: FinanceError} as ``receipt_post`` would
    have raised it. ``timings`` in seconds, per stage."""

    posted: int = 0
    existing: int = 0
    refused: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def receipts_post_bulk(*, actor, receipts: Iterable[ReceiptIn] | None = None, query: str | None = None, params=(),
                       refuse_out_of_scope: bool = False) -> BulkResult:
    """Post many receipts at once, with the result of ``receipt_post`` called for each in the order of key.

    Give either ``receipts`` (``ReceiptIn`` rows) or ``query`` (SQL with ``params``) returning the columns
    ``QUERY_COLUMNS`` in that order; keys must be unique. The payer of a query row is (payer_kind, payer_id),
    whose payment reference is what ``receipt_post`` would have been given. A receipt refused by a rule
    (closed month, dissolved union, external id posted with other figures…) is reported in ``refused`` and
    the others are posted; a receipt in a union outside the actor's scope raises ``NotFoundInScope`` (404)
    like ``receipt_post``, or is refused with the code ``out_of_scope`` when ``refuse_out_of_scope``.
    ``actor`` None is the system (no scope). Runs in one database transaction (a savepoint inside the
    caller's): what is posted is posted together.
    """
    if (receipts is None) == (query is None):
        raise ValueError("give receipts or query")
    rounds = _rounds(list(receipts)) if receipts is not None else None
    result = BulkResult()
    with transaction.atomic():
        run = _Run(actor, refuse_out_of_scope, result, from_query=query is not None)
        run.create_tables()
        if query is not None:
            run.load_query(query, list(params))
            while run.defer_repeated_ids():  # a repeated external id is posted (or found posted) after the first
                run.post_stage()
                run.take_deferred()
            run.post_stage()
        else:
            for batch in rounds:
                run.load_rows(batch)
                run.post_stage()
        run.drop_tables()
    return result


def _rounds(rows: list[ReceiptIn]) -> list[list[tuple]]:
    """Rows as staged tuples, in rounds whose external ids do not repeat (a repeat goes to the next round,
    so it meets the receipt the first one posted, as it would one call after the other)."""
    keys = [row.key if row.key is not None else index for index, row in enumerate(rows)]
    if len(set(keys)) != len(keys):
        raise ValueError("receipt keys repeat")
    order = sorted(range(len(rows)), key=keys.__getitem__)
    rounds: list[list[tuple]] = []
    seen_in: dict[str, int] = {}
    for index in order:
        row = rows[index]
        external_id = row.external_id if isinstance(row.external_id, str) else None
        number = seen_in.get(external_id, -1) + 1 if external_id else 0
        if external_id:
            seen_in[external_id] = number
        while len(rounds) <= number:
            rounds.append([])
        rounds[number].append(_staged(keys[index], row, external_id))
    return rounds


def _staged(key: int, row: ReceiptIn, external_id: str | None) -> tuple:
    """A ``ReceiptIn`` as a stage row; what is not of the right type becomes NULL, which the SQL refuses
    with the code ``receipt_post`` gives it (a datetime as the date: date_required)."""
    amount = row.amount if isinstance(row.amount, int) and not isinstance(row.amount, bool) else None
    paid_on = row.paid_on if isinstance(row.paid_on, datetime.date) and not isinstance(row.paid_on, datetime.datetime) else None
    period = row.period.date() if isinstance(row.period, datetime.datetime) else row.period
    if not isinstance(period, datetime.date):
        period = None
    source = row.source if isinstance(row.source, str) else None
    reference = row.payer_reference if isinstance(row.payer_reference, str) else ""
    parsed = parse_reference(reference)
    unit_id = getattr(row.unit_id, "pk", row.unit_id)
    return (key, external_id, unit_id, source, amount, paid_on, period, parsed[0] if parsed else None,
            parsed[1] if parsed else None, reference)


class _Run:
    """One bulk posting: its temporary tables and the statements over them."""

    def __init__(self, actor, refuse_out_of_scope: bool, result: BulkResult, *, from_query: bool):
        self.actor, self.refuse_out_of_scope, self.result, self.from_query = actor, refuse_out_of_scope, result, from_query
        self.pg = connection.vendor == "postgresql"
        prefix = f"fin_bulk_{uuid.uuid4().hex[:10]}"
        self.t = {name: f"{prefix}_{name}" for name in ("stage", "later", "unit", "book", "rate", "weight", "ref", "closed",
                                                         "post", "group")}
        self.granted = None if actor is None else scoping.granted_paths(actor, Action.FINANCE)
        self.created_by = actor.pk if getattr(actor, "pk", None) else None

    # -- helpers ---------------------------------------------------------------------------------------
    def _exec(self, sql: str, params=()) -> int:
        with connection.cursor() as cur:
            cur.execute(sql, list(params))
            return cur.rowcount

    def _rows(self, sql: str, params=()) -> list[tuple]:
        with connection.cursor() as cur:
            cur.execute(sql, list(params))
            return cur.fetchall()

    def _load(self, table: str, names: list[str], rows) -> None:
        with connection.cursor() as cur:
            if self.pg:
                with cur.cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(names))
                cur.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",
                                [tuple(v.isoformat() if isinstance(v, datetime.date) else v for v in row) for row in rows])

    def _date(self, value):
        return value if self.pg else (value.isoformat() if value else None)

    def _month(self, column: str) -> str:
        return f"CAST(date_trunc('month', {column}) AS date)" if self.pg else f"date({column}, 'start of month')"

    def _month_text(self, column: str) -> str:
        return f"to_char({column}, 'MM/YYYY')" if self.pg else f"strftime('%%m/%%Y', {column})"

    def _tick(self, name: str, started: float) -> float:
        now = time.monotonic()
        self.result.timings[name] = round(self.result.timings.get(name, 0) + now - started, 3)
        return now

    # -- tables ----------------------------------------------------------------------------------------
    def create_tables(self) -> None:
        t = self.t
        stage = ", ".join(f"{name} {kind}" for name, kind in _STAGE)
        for statement in [
            f"CREATE TEMPORARY TABLE {t['stage']} ({stage})",
            f"CREATE TEMPORARY TABLE {t['later']} ({stage})",
            f"CREATE TEMPORARY TABLE {t['unit']} (unit_id bigint, book_id bigint, verdict varchar(30))",
            f"CREATE TEMPORARY TABLE {t['book']} (book_id bigint, path varchar(64), pattern integer, top bigint, "
            "u1 bigint, u2 bigint, u3 bigint, a1 integer, a2 integer, a3 integer)",
            f"CREATE TEMPORARY TABLE {t['rate']} (book_id bigint, month date, own bigint)",
            f"CREATE TEMPORARY TABLE {t['weight']} (source varchar(10), paid_on date, own bigint, pattern integer, "
            "w0 bigint, w1 bigint, w2 bigint, w3 bigint, wsum bigint)",
            f"CREATE TEMPORARY TABLE {t['ref']} (kind varchar(10), payer_id bigint, reference varchar(20))",
            f"CREATE TEMPORARY TABLE {t['closed']} (unit_id bigint, month date)",
        ]:
            self._exec(statement)

    def drop_tables(self) -> None:
        for table in self.t.values():
            self._exec(f"DROP TABLE IF EXISTS {table}")

    def _clear(self, *names) -> None:
        for name in names:
            self._exec(f"DELETE FROM {self.t[name]}")

    # -- loading ---------------------------------------------------------------------------------------
    def load_rows(self, rows: list[tuple]) -> None:
        started = time.monotonic()
        self._clear("stage")
        self._load(self.t["stage"], [name for name, _kind in _STAGE], rows)
        self._tick("stage_seconds", started)

    def load_query(self, query: str, params: list) -> None:
        started = time.monotonic()
        names = "key, external_id, unit_id, source, amount, paid_on, period, p_kind, p_id"
        self._exec(f"INSERT INTO {self.t['stage']} ({names}) {query}", params)
        self._tick("stage_seconds", started)

    def defer_repeated_ids(self) -> bool:
        """Move every row whose external id appeared on a row of a smaller key to ``later``: True if any."""
        t = self.t
        repeats = (f"SELECT s.key FROM {t['stage']} s JOIN (SELECT external_id, MIN(key) AS first FROM {t['stage']} "
                   f"WHERE external_id <> '' GROUP BY external_id HAVING COUNT(*) > 1) d "
                   f"ON d.external_id = s.external_id AND s.key > d.first")
        moved = self._exec(f"INSERT INTO {t['later']} SELECT * FROM {t['stage']} WHERE key IN ({repeats})")
        if moved:
            self._exec(f"DELETE FROM {t['stage']} WHERE key IN (SELECT key FROM {t['later']})")
        return bool(moved)

    def take_deferred(self) -> None:
        self._clear("stage")
        self._exec(f"INSERT INTO {self.t['stage']} SELECT * FROM {self.t['later']}")
        self._clear("later")

    # -- posting one stage -------------------------------------------------------------------------------
    def post_stage(self) -> None:
        started = time.monotonic()
        staged = self._rows(f"SELECT COUNT(*) FROM {self.t['stage']}")[0][0]
        if not staged:
            return
        self._clear("unit", "book", "rate", "weight", "ref", "closed")
        self._units()
        step = self._tick("prepare_units_seconds", started)
        self._rates()
        max_weight = self._weights()
        step = self._tick("prepare_rules_seconds", step)
        self._references()
        step = self._tick("prepare_references_seconds", step)
        oversized = self._set_aside_oversized(max_weight)
        self._closed()
        if self.pg and staged >= _ANALYZE_FROM:
            # temporary tables are never analysed by autovacuum: the planner would take the stage for a tenth of its
            # size and sort it twice for merge joins (81 MB each, 450,000 receipts) instead of hashing the small tables
            self._exec(f"ANALYZE {self.t['stage']}, {self.t['unit']}, {self.t['book']}, {self.t['ref']}")
        self._tick("prepare_closed_seconds", step)
        self._tick("prepare_seconds", started)
        for attempt in range(_ATTEMPTS):
            try:
                with transaction.atomic():  # a savepoint: a receipt taken meanwhile undoes the attempt, which starts again
                    existing, refused, posted = self._post_decided()
            except _Taken:
                if attempt == _ATTEMPTS - 1:
                    raise FinanceError(_("Other postings of the same receipts ran at the same time; try again."),
                                       code="busy") from None
                continue
            break
        self.result.existing += existing
        self.result.posted += posted
        self.result.refused.update(refused)
        for row in oversized:
            self._post_one(row)

    def _post_decided(self) -> tuple[int, dict, int]:
        """Decide, then write the summary transactions, their entries and the receipts: (receipts found posted
        before, refusals, receipts posted)."""
        started = time.monotonic()
        self._decide()
        started = self._tick("decide_seconds", started)
        existing, refused = self._refusals()
        step = self._tick("prepare_refusals_seconds", started)
        self._accounts()
        self._tick("prepare_accounts_seconds", step)
        started = self._tick("prepare_seconds", started)
        self._groups()
        started = self._tick("groups_seconds", started)
        self._transactions()
        started = self._tick("transactions_seconds", started)
        self._entries()
        started = self._tick("entries_seconds", started)
        posted = self._receipts()
        self._tick("receipts_seconds", started)
        self._exec(f"DROP TABLE {self.t['post']}")
        self._exec(f"DROP TABLE {self.t['group']}")
        return existing, refused, posted

    def _units(self) -> None:
        """Whose books each unit's money goes to, what ``receipt_post`` says of the unit, and the levels above
        each union (locked, on PostgreSQL, as ``receipt_post`` locks them, so no month closes meanwhile)."""
        unit_ids = [pk for (pk,) in self._rows(f"SELECT DISTINCT unit_id FROM {self.t['stage']} WHERE unit_id IS NOT NULL")]
        books: dict[int, int] = {}
        for start in range(0, len(unit_ids), _CHUNK):
            books.update(selectors.book_units(unit_ids[start:start + _CHUNK]))
        book_paths = dict(_unit_values("pk", set(books.values()), "pk", "path"))
        wanted = {a for path in book_paths.values() for a in tree.ancestors_of(path)}
        upper_of_path = dict(_unit_values("path", wanted, "path", "pk"))
        uppers: dict[int, dict[str, int]] = {}
        for book_id, path in book_paths.items():
            found = {}
            for ancestor in tree.ancestors_of(path):
                if ancestor in upper_of_path:
                    found[ancestor] = upper_of_path[ancestor]
            uppers[book_id] = found
        touched = set(unit_ids) | set(books.values()) | {pk for found in uppers.values() for pk in found.values()}
        if self.pg:
            with connection.cursor() as cur:
                cur.execute("SELECT id FROM organizations_unit WHERE id = ANY(%s) ORDER BY id FOR SHARE", [sorted(touched)])
        facts = {pk: (level, path, status) for pk, level, path, status in
                 _unit_values("pk", touched, "pk", "level", "path", "status")}
        active = UnitStatus.ACTIVE.value
        unit_rows, book_rows, patterns = [], {}, {}
        for unit_id in unit_ids:
            if unit_id not in facts:
                unit_rows.append((unit_id, None, "unit_unknown"))
                continue
            book_id = books.get(unit_id, unit_id)
            level, book_path, book_status = facts[book_id]
            if level != Level.GRASSROOTS:
                verdict = "not_grassroots"
            elif facts[unit_id][2] != active or book_status != active:
                verdict = "unit_dissolved"
            elif self.granted is not None and not any(book_path.startswith(p) for p in self.granted):
                verdict = "out_of_scope"
            else:
                verdict = None
            unit_rows.append((unit_id, book_id, verdict))
            if verdict is None and book_id not in book_rows:
                above = {facts[pk][0]: pk for _path, pk in sorted(uppers.get(book_id, {}).items())}
                present = tuple(level for level in SHARE_LEVELS[1:] if level in above)
                pattern = patterns.setdefault((Level.GRASSROOTS.value, *present), len(patterns))
                ids = [above[level] for level in present] + [None] * (3 - len(present))
                flags = [int(facts[pk][2] == active) if pk else 1 for pk in ids]
                top_path = book_path[:2 * tree.STEPLEN]  # the level under the national one: a province, a central sector
                top = upper_of_path.get(top_path, book_id) if len(book_path) > len(top_path) else book_id
                book_rows[book_id] = (book_id, book_path, pattern, top, *ids, *flags)
        self.patterns = {pattern: levels for levels, pattern in patterns.items()}
        self._load(self.t["unit"], ["unit_id", "book_id", "verdict"], unit_rows)
        self._load(self.t["book"], ["book_id", "path", "pattern", "top", "u1", "u2", "u3", "a1", "a2", "a3"],
                   book_rows.values())

    def _rates(self) -> None:
        """The unions' own dues rates in force in the months of their dues receipts (only where one was voted)."""
        t = self.t
        book_ids = [pk for (pk,) in self._rows(f"SELECT book_id FROM {t['book']}")]
        voted = set()
        for start in range(0, len(book_ids), _CHUNK):
            chunk = book_ids[start:start + _CHUNK]
            voted.update(UnitDuesRate.objects.filter(unit_id__in=chunk).values_list("unit_id", flat=True))
        self.rates_used = False
        if not voted:
            return
        series = unit_rates(voted)
        pairs = self._rows(f"SELECT DISTINCT f.book_id, {self._month('s.paid_on')} FROM {t['stage']} s "
                           f"JOIN {t['unit']} f ON f.unit_id = s.unit_id WHERE s.source = %s AND s.paid_on IS NOT NULL "
                           f"AND f.verdict IS NULL", [Source.DUES.value])
        rows = []
        for book_id, month in pairs:
            month = _as_date(month)
            if book_id in voted:
                own = unit_rate_on(series, book_id, month)
                if own:
                    rows.append((book_id, month, own))
        if rows:
            self._load(t["rate"], ["book_id", "month", "own"], rows)
            self.rates_used = True

    def _weights(self) -> int:
        """The weights of each level by source, day, own dues rate and the levels present above the union
        (``split_weights`` then ``merge_missing_levels``), divided by their common divisor; returns the largest."""
        rules = RuleBook()
        owns = {0} | {own for (own,) in self._rows(f"SELECT DISTINCT own FROM {self.t['rate']}")}
        rows, biggest = [], 1
        for source, day in self._rows(f"SELECT DISTINCT source, paid_on FROM {self.t['stage']} WHERE paid_on IS NOT NULL "
                                      "AND source IN (%s, %s)", [Source.UNION_FEE.value, Source.DUES.value]):
            day = _as_date(day)
            shares = rules.shares(source, day)
            if not shares.get(Level.GRASSROOTS):
                continue  # no_share_rule
            general = rules.value(RuleKind.DUES_RATE, month_start(day), default=0) if source == Source.DUES else 0
            for own in (owns if source == Source.DUES else {0}):
                weights = ledger.split_weights(source=source, shares=shares, own_rate_bp=own, general_rate_bp=general)
                for pattern, levels in self.patterns.items():
                    merged = [w for _level, w in ledger.merge_missing_levels(weights, set(levels))]
                    divisor = math.gcd(*merged) or 1
                    merged = [w // divisor for w in merged] + [0] * (4 - len(merged))
                    biggest = max(biggest, *merged)
                    rows.append((source, day, own, pattern, *merged, sum(merged)))
        self._load(self.t["weight"], ["source", "paid_on", "own", "pattern", "w0", "w1", "w2", "w3", "wsum"], rows)
        return biggest

    def _references(self) -> None:
        """The payment reference of each payer of a query row, as payments would have passed it."""
        if not self.from_query:
            return
        reference = reference_sql("p.p_kind", "p.p_id", connection.vendor)  # computed where the payers are
        self._exec(f"INSERT INTO {self.t['ref']} (kind, payer_id, reference) SELECT p.p_kind, p.p_id, {reference} "
                   f"FROM (SELECT DISTINCT p_kind, p_id FROM {self.t['stage']} WHERE p_kind IS NOT NULL AND p_id IS NOT NULL) p")

    def _set_aside_oversized(self, max_weight: int) -> list[tuple]:
        """Rows whose amount × weight would not fit in 64 bits (never seen: thousands of billions of đồng)
        are posted one by one by ``receipt_post`` after the others."""
        limit = _BIGGEST // max_weight
        rows = self._rows(f"SELECT * FROM {self.t['stage']} WHERE amount > %s", [limit])
        if rows:
            self._exec(f"DELETE FROM {self.t['stage']} WHERE amount > %s", [limit])
        return rows

    def _closed(self) -> None:
        """The closed months of the units touched, in the months of the receipts (usually none)."""
        t = self.t
        span = self._rows(f"SELECT MIN(paid_on), MAX(paid_on) FROM {t['stage']}")[0]
        self.closed_used = False
        if span[0] is None:
            return
        units = (f"SELECT book_id FROM {t['book']} UNION SELECT u1 FROM {t['book']} UNION SELECT u2 FROM {t['book']} "
                 f"UNION SELECT u3 FROM {t['book']}")
        found = self._exec(f"INSERT INTO {t['closed']} (unit_id, month) SELECT unit_id, month FROM finance_period "
                           f"WHERE month >= %s AND month <= %s AND unit_id IN ({units})",
                           [self._date(month_start(_as_date(span[0]))), self._date(_as_date(span[1]))])
        self.closed_used = found > 0

    def _decide(self) -> None:
        """One row per receipt in ``post``: its decision ``code`` (NULL: to post; "existing"; or the refusal
        ``receipt_post`` would raise first), its books, the levels' parts p0..p3 and its transaction id."""
        t = self.t
        month = self._month("s.paid_on")
        own = (f"CASE WHEN s.source = 'dues' THEN COALESCE(rt.own, 0) ELSE 0 END" if self.rates_used else "0")
        rate_join = (f"LEFT JOIN {t['rate']} rt ON rt.book_id = f.book_id AND rt.month = {month}" if self.rates_used else "")
        if self.from_query:
            valid, reference = "(rf.reference IS NOT NULL AND rf.reference <> '')", "COALESCE(rf.reference, '')"
            ref_join = f"LEFT JOIN {t['ref']} rf ON rf.kind = s.p_kind AND rf.payer_id = s.p_id"
        else:
            valid, reference, ref_join = "(s.p_kind IS NOT NULL)", "COALESCE(s.payer_reference, '')", ""
        closed_joins, closed_cols = "", "0 AS c0, 0 AS c1, 0 AS c2, 0 AS c3"
        if self.closed_used:
            cols = []
            for i, unit in enumerate(("f.book_id", "b.u1", "b.u2", "b.u3")):
                closed_joins += f" LEFT JOIN {t['closed']} cl{i} ON cl{i}.unit_id = {unit} AND cl{i}.month = {month}"
                cols.append(f"CASE WHEN cl{i}.unit_id IS NULL THEN 0 ELSE 1 END AS c{i}")
            closed_cols = ", ".join(cols)
        quotas = ", ".join(f"s.amount * w.w{i} / w.wsum AS q{i}, s.amount * w.w{i} %% w.wsum AS r{i}" for i in range(4))
        inner = f"""
            SELECT s.key, s.external_id, s.unit_id, s.source, s.amount, s.paid_on, {month} AS month,
                   {self._month('COALESCE(s.period, s.paid_on)')} AS period,
                   r.id AS r_id, r.amount AS r_amount, r.source AS r_source,
                   f.book_id, f.verdict AS unit_verdict, b.top, b.u1, b.u2, b.u3, b.a1, b.a2, b.a3,
                   {reference} AS ref_text,
                   CASE WHEN {valid} THEN s.p_kind WHEN s.source = 'union_fee' THEN 'employer' ELSE 'member' END AS payer_kind,
                   CASE WHEN {valid} AND s.p_kind = 'member' THEN s.p_id END AS member_id,
                   CASE WHEN NOT {valid} THEN NULL
                        WHEN s.p_kind = 'employer' THEN CASE WHEN s.p_id <> f.book_id THEN 'payer_mismatch_employer' END
                        WHEN m.id IS NULL OR substr(mu.path, 1, length(b.path)) <> b.path THEN 'payer_mismatch_member'
                   END AS payer_verdict,
                   w.wsum, {quotas}, {closed_cols}
            FROM {t['stage']} s
            LEFT JOIN finance_receipt r ON r.external_id = s.external_id AND s.external_id <> ''
            LEFT JOIN {t['unit']} f ON f.unit_id = s.unit_id
            LEFT JOIN {t['book']} b ON b.book_id = f.book_id AND f.verdict IS NULL
            {rate_join}
            LEFT JOIN {t['weight']} w ON w.source = s.source AND w.paid_on = s.paid_on AND w.own = {own} AND w.pattern = b.pattern
            {ref_join}
            LEFT JOIN members_member m ON s.p_kind = 'member' AND m.id = s.p_id
            LEFT JOIN organizations_unit mu ON mu.id = m.unit_id
            {closed_joins}"""

        def rank(i: int) -> str:  # how many parts come before part i: larger remainder, or equal and listed first
            return " + ".join(f"CASE WHEN x.r{j} {'>=' if j < i else '>'} x.r{i} THEN 1 ELSE 0 END" for j in range(4) if j != i)

        parts = ", ".join(f"x.q{i} + CASE WHEN {rank(i)} < x.amount - (x.q0 + x.q1 + x.q2 + x.q3) THEN 1 ELSE 0 END AS p{i}"
                          for i in range(4))
        split = f"SELECT x.*, {parts} FROM ({inner}) x"
        decided = f"""
            SELECT y.key, y.external_id, CASE WHEN substr(y.external_id, 1, 5) = 'cash:' THEN 1 ELSE 0 END AS cash,
                   y.unit_id, y.source, y.amount, y.paid_on, y.month, y.period, y.book_id, y.top,
                   y.u1, y.u2, y.u3, y.a1, y.a2, y.a3, y.c0, y.c1, y.c2, y.c3, y.p0, y.p1, y.p2, y.p3, y.ref_text,
                   y.payer_kind, y.member_id,
                   CASE
                     WHEN y.r_id IS NOT NULL AND y.r_amount = y.amount AND y.r_source = y.source THEN 'existing'
                     WHEN y.r_id IS NOT NULL THEN 'external_id_conflict'
                     WHEN y.external_id IS NULL OR y.external_id = '' THEN 'external_id_required'
                     WHEN y.amount IS NULL OR y.amount <= 0 THEN 'amount_not_positive'
                     WHEN y.source IS NULL OR y.source NOT IN ('union_fee', 'dues') THEN 'source_unknown'
                     WHEN y.paid_on IS NULL THEN 'date_required'
                     WHEN y.unit_verdict IS NOT NULL THEN y.unit_verdict
                     WHEN y.payer_verdict IS NOT NULL THEN y.payer_verdict
                     WHEN y.wsum IS NULL THEN 'no_share_rule'
                     WHEN y.paid_on > %s THEN 'future_date'
                     WHEN (y.p1 > 0 AND y.a1 = 0) OR (y.p2 > 0 AND y.a2 = 0) OR (y.p3 > 0 AND y.a3 = 0) THEN 'books_dissolved'
                     WHEN y.c0 = 1 OR (y.p1 > 0 AND y.c1 = 1) OR (y.p2 > 0 AND y.c2 = 1) OR (y.p3 > 0 AND y.c3 = 1)
                          THEN 'period_closed'
                   END AS code
            FROM ({split}) y"""
        params = [self._date(timezone.localdate())]
        self._exec(f"CREATE TEMPORARY TABLE {t['post']} AS SELECT z.* FROM ({decided}) z", params)

    def _groups(self) -> None:
        """The summary transactions: one per province (the level under the national one), day, source and money
        account (bank or cash) of the receipts to post, numbered in that order; and their lines' sums per union."""
        t = self.t
        grouped = (f"SELECT p.top, p.paid_on, p.source, p.cash, SUM(p.amount) AS amount, "
                   f"SUM(p.amount) - SUM(p.p0) AS passed FROM {t['post']} p WHERE p.code IS NULL "
                   f"GROUP BY p.top, p.paid_on, p.source, p.cash")
        order = "g.top, g.paid_on, g.source, g.cash"
        if self.pg:
            sequence = self._rows("SELECT pg_get_serial_sequence('finance_transaction', 'id')")[0][0]
            self._exec(f"CREATE TEMPORARY TABLE {t['group']} AS SELECT g.*, nextval('{sequence}') AS txn_id "
                       f"FROM ({grouped}) g ORDER BY {order}")
        else:
            base = self._rows("SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'finance_transaction'), 0), "
                              "COALESCE((SELECT MAX(id) FROM finance_transaction), 0))")[0][0]
            self._exec(f"CREATE TEMPORARY TABLE {t['group']} AS SELECT g.*, {int(base)} + ROW_NUMBER() OVER (ORDER BY {order}) "
                       f"AS txn_id FROM ({grouped}) g")
        self._exec(f"CREATE INDEX {t['group']}_key ON {t['group']} (top, paid_on, source, cash)")
        if self.pg:  # temporary tables are never analysed by autovacuum: without statistics the planner guesses
            self._exec(f"ANALYZE {t['post']}, {t['group']}")

    def _refusals(self) -> tuple[int, dict]:
        """(how many were posted before, {key: FinanceError} of the refused receipts (few), with the message
        ``receipt_post`` would give)."""
        t = self.t
        existing = self._rows(f"SELECT COUNT(*) FROM {t['post']} WHERE code = 'existing'")[0][0]
        rows = self._rows(f"SELECT key, code, external_id, unit_id, book_id, source, paid_on, month, ref_text, u1, u2, u3, "
                          f"p1, p2, p3, a1, a2, a3, c0, c1, c2, c3 FROM {t['post']} WHERE code IS NOT NULL AND code <> 'existing'")
        if not rows:
            return existing, {}
        if not self.refuse_out_of_scope and any(row[1] == "out_of_scope" for row in rows):
            raise NotFoundInScope()
        names = {u.pk: u for u in Unit.objects.filter(pk__in={pk for row in rows for pk in (row[3], row[4], *row[9:12]) if pk})}
        refused = {}
        for (key, code, external_id, unit_id, book_id, source, paid_on, month, ref_text, u1, u2, u3, p1, p2, p3, a1, a2, a3,
             c0, c1, c2, c3) in rows:
            paid_on, month = _as_date(paid_on), _as_date(month)
            uppers = [(u1, p1, a1, c1), (u2, p2, a2, c2), (u3, p3, a3, c3)]
            if code == "external_id_conflict":
                error = ledger.refusal(code, id=external_id)
            elif code == "unit_unknown":
                error = FinanceError(_("No unit has the number %(id)s.") % {"id": unit_id}, code="unit_unknown", field="unit")
            elif code == "not_grassroots":
                error = ledger.refusal(code, unit=names[book_id])
            elif code == "unit_dissolved":
                error = ledger.refusal(code, unit=names[unit_id])
            elif code == "out_of_scope":
                error = _out_of_scope(names[book_id])
            elif code in ("payer_mismatch_employer", "payer_mismatch_member"):
                error = ledger.refusal(code, ref=ref_text)
            elif code == "no_share_rule":
                error = ledger.refusal(code, source=source, date=paid_on)
            elif code == "books_dissolved":
                unit = next(pk for pk, part, is_active, _c in uppers if part > 0 and not is_active)
                error = ledger.refusal(code, unit=names[unit])
            elif code == "period_closed":
                unit = book_id if c0 else next(pk for pk, part, _a, closed in uppers if part > 0 and closed)
                error = ledger.refusal(code, month=month, unit=names[unit])
            else:
                error = ledger.refusal(code)
            refused[key] = error
        return existing, refused

    def _accounts(self) -> None:
        """Create the accounts used for the first time (an account exists once it has an entry), in one statement:
        the receipts' books and accounts summed up per union and source first (a few thousand rows), then each
        (unit, account) pair they use that has no account yet."""
        t = self.t
        money, revenue = _money_account_sql(""), _revenue_account_sql("")
        uppers = " ".join(
            f"UNION ALL SELECT u{i}, '{AccountCode.RECEIVABLE_LOWER.value}' FROM used WHERE h{i} = 1 "
            f"UNION ALL SELECT u{i}, {revenue} FROM used WHERE h{i} = 1" for i in (1, 2, 3))
        self._exec(f"""
            WITH used AS (
              SELECT book_id, u1, u2, u3, source, cash,
                     MAX(CASE WHEN p0 > 0 THEN 1 ELSE 0 END) AS kept, MAX(CASE WHEN amount > p0 THEN 1 ELSE 0 END) AS passed,
                     MAX(CASE WHEN p1 > 0 THEN 1 ELSE 0 END) AS h1, MAX(CASE WHEN p2 > 0 THEN 1 ELSE 0 END) AS h2,
                     MAX(CASE WHEN p3 > 0 THEN 1 ELSE 0 END) AS h3
              FROM {t['post']} WHERE code IS NULL GROUP BY book_id, u1, u2, u3, source, cash)
            INSERT INTO finance_account (unit_id, code)
            SELECT DISTINCT x.unit_id, x.code FROM (
              SELECT book_id AS unit_id, {money} AS code FROM used
              UNION ALL SELECT book_id, {revenue} FROM used WHERE kept = 1
              UNION ALL SELECT book_id, '{AccountCode.PAYABLE_UPPER.value}' FROM used WHERE passed = 1
              {uppers}
            ) x
            WHERE NOT EXISTS (SELECT 1 FROM finance_account a WHERE a.unit_id = x.unit_id AND a.code = x.code)
            ORDER BY x.unit_id, x.code
            ON CONFLICT (unit_id, code) DO NOTHING""")

    def _receipts(self) -> int:
        """Insert the receipts, each with its split and its summary transaction. A receipt whose external id
        another posting took after our decision (it waited for that posting to commit) raises ``_Taken``: the
        attempt is undone and decided again, finding that receipt posted (or refusing other figures), as
        ``receipt_post`` would."""
        t = self.t
        # a plain INSERT (no ON CONFLICT: its check per row costs 15 % of the statement at 900,000 receipts); the
        # unique index meets a receipt posted meanwhile, which undoes the attempt's savepoint
        try:
            with transaction.atomic():
                return self._exec(f"""
                    INSERT INTO finance_receipt (external_id, transaction_id, unit_id, payer_kind, member_id, source, amount,
                                                 paid_on, period, reversal_of_id, part_0, unit_1_id, part_1, unit_2_id, part_2,
                                                 unit_3_id, part_3)
                    SELECT p.external_id, g.txn_id, p.book_id, p.payer_kind, p.member_id, p.source, p.amount, p.paid_on,
                           p.period, NULL, p.p0, p.u1, p.p1, p.u2, p.p2, p.u3, p.p3
                    FROM {t['post']} p JOIN {t['group']} g ON {_SAME_GROUP}
                    WHERE p.code IS NULL ORDER BY p.key""")
        except IntegrityError as exc:
            if _external_id_taken(exc):
                raise _Taken() from exc
            raise

    def _transactions(self) -> None:
        """Insert the summary transactions: in the books of the province, dated the day paid, memo "<source>
        received on <day>", amount the sum of the debits."""
        t = self.t
        # no count and no province in the memo: a union's officials read it in their journal
        template = _("%(source)s received on %(date)s") % {"source": "{source}", "date": "{date}"}
        day = "to_char(g.paid_on, 'DD/MM/YYYY')" if self.pg else "strftime('%%d/%%m/%%Y', g.paid_on)"
        memo = (f"substr(replace(replace(%s, '{{source}}', CASE WHEN g.source = 'union_fee' THEN %s ELSE %s END), "
                f"'{{date}}', {day}), 1, 255)")
        now = timezone.now()
        self._exec(
            f"INSERT INTO finance_transaction (id, unit_id, date, kind, memo, external_id, reverses_id, amount, created_by_id, "
            f"created_at) SELECT g.txn_id, g.top, g.paid_on, %s, {memo}, 'receipts:' || CAST(g.txn_id AS varchar(20)), NULL, "
            f"g.amount + g.passed, %s, %s FROM {t['group']} g",
            [TransactionKind.RECEIPTS.value, template, str(Source.UNION_FEE.label), str(Source.DUES.label), self.created_by,
             now if self.pg else connection.ops.adapt_datetimefield_value(now)])

    def _entries(self) -> None:
        """The lines of every summary transaction in one INSERT: the receipts summed per union (with the levels
        above it); each union's bank (cash), revenue and "payable to upper levels" lines from its sums, and each
        upper level's "receivable from lower levels" and revenue lines summed over its unions of the transaction
        (one pair per position the level holds above them: a province is the first level above the unions
        directly under it and the second above the others)."""
        t = self.t
        money, revenue = _money_account_sql("u."), _revenue_account_sql("u.")
        upper = [f"""
              SELECT u.txn_id, u.paid_on, u.u{i} AS unit_id, '{AccountCode.RECEIVABLE_LOWER.value}' AS code, SUM(u.p{i}) AS debit,
                     0 AS credit FROM u WHERE u.p{i} > 0 GROUP BY u.txn_id, u.paid_on, u.u{i}
              UNION ALL
              SELECT u.txn_id, u.paid_on, u.u{i}, {revenue}, 0, SUM(u.p{i}) FROM u WHERE u.p{i} > 0
              GROUP BY u.txn_id, u.paid_on, u.u{i}, u.source""" for i in (1, 2, 3)]
        self._exec(f"""
            WITH u AS (
              SELECT g.txn_id, p.paid_on, p.source, p.cash, p.book_id, p.u1, p.u2, p.u3, SUM(p.amount) AS amount,
                     SUM(p.p0) AS p0, SUM(p.p1) AS p1, SUM(p.p2) AS p2, SUM(p.p3) AS p3
              FROM {t['post']} p JOIN {t['group']} g ON {_SAME_GROUP}
              WHERE p.code IS NULL GROUP BY g.txn_id, p.paid_on, p.source, p.cash, p.book_id, p.u1, p.u2, p.u3
            )
            INSERT INTO finance_entry (transaction_id, account_id, unit_id, date, debit, credit)
            SELECT l.txn_id, a.id, l.unit_id, l.paid_on, l.debit, l.credit
            FROM (
              SELECT u.txn_id, u.paid_on, u.book_id AS unit_id, {money} AS code, u.amount AS debit, 0 AS credit FROM u
              UNION ALL
              SELECT u.txn_id, u.paid_on, u.book_id, {revenue}, 0, u.p0 FROM u WHERE u.p0 > 0
              UNION ALL
              SELECT u.txn_id, u.paid_on, u.book_id, '{AccountCode.PAYABLE_UPPER.value}', 0, u.amount - u.p0 FROM u
              WHERE u.amount > u.p0
              UNION ALL {" UNION ALL ".join(upper)}
            ) l JOIN finance_account a ON a.unit_id = l.unit_id AND a.code = l.code
            ORDER BY l.txn_id, l.unit_id, a.id""")

    def _post_one(self, row: tuple) -> None:
        """A row too large for the set arithmetic, through ``receipt_post`` itself."""
        key, external_id, unit_id, source, amount, paid_on, period, p_kind, p_id, reference = row
        if reference is None:
            reference = payment_reference_for(kind=p_kind, payer_id=p_id) if p_kind and p_id else ""
        try:
            with transaction.atomic():
                txn = ledger.receipt_post(actor=self.actor, unit=Unit(pk=unit_id), source=source, payer_reference=reference,
                                          amount=amount, paid_on=_as_date(paid_on), external_id=external_id or "",
                                          period=_as_date(period) if period else None)
        except FinanceError as exc:
            self.result.refused[key] = exc
        except NotFoundInScope:
            if not self.refuse_out_of_scope:
                raise
            self.result.refused[key] = _out_of_scope(selectors.book_unit_of(Unit.objects.get(pk=unit_id)))
        else:
            if getattr(txn, "just_posted", False):
                self.result.posted += 1
            else:
                self.result.existing += 1


class _Taken(Exception):
    """A receipt to post was posted by another posting meanwhile."""


def _external_id_taken(exc: IntegrityError) -> bool:
    """Whether the INSERT of receipts met the unique index of their external ids."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is not None:
        return diag.constraint_name == "finance_receipt_external_id_unique"
    return "finance_receipt.external_id" in str(exc)  # SQLite: "UNIQUE constraint failed: finance_receipt.external_id"


#: attempts of a bulk posting that meets receipts posted meanwhile by others
_ATTEMPTS = 3


def _unit_values(key_field: str, keys, *fields) -> list[tuple]:
    """Units whose ``key_field`` is one of ``keys``, as value tuples; asked in chunks (SQLite limits parameters)."""
    keys, rows = sorted(keys), []
    for start in range(0, len(keys), _CHUNK):
        rows += Unit.objects.filter(**{f"{key_field}__in": keys[start:start + _CHUNK]}).order_by().values_list(*fields)
    return rows


def _out_of_scope(book: Unit) -> FinanceError:
    """The refusal, instead of a 404, of a receipt in books the actor does not keep (``refuse_out_of_scope``)."""
    return FinanceError(_("You do not keep the accounts of %(unit)s.") % {"unit": book}, code="out_of_scope", field="unit")


def _revenue_code(source: str) -> str:
    return AccountCode.REVENUE_UNION_FEE.value if source == Source.UNION_FEE else AccountCode.REVENUE_DUES.value


def _money_account_sql(prefix: str) -> str:
    """SQL: the account the money of a row (``<prefix>cash``) lands in, cash or bank."""
    return f"CASE WHEN {prefix}cash = 1 THEN '{AccountCode.CASH.value}' ELSE '{AccountCode.BANK.value}' END"


def _revenue_account_sql(prefix: str) -> str:
    """SQL: the revenue account of a row's source (``<prefix>source``), as ``_revenue_code``."""
    return (f"CASE WHEN {prefix}source = '{Source.UNION_FEE.value}' THEN '{_revenue_code(Source.UNION_FEE)}' "
            f"ELSE '{_revenue_code(Source.DUES)}' END")


def _as_date(value):
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    if isinstance(value, datetime.datetime):
        return value.date()
    return value
