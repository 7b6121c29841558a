"""Keeping the dashboard's per-unit counts (UnitStat) exact.

Two ways in, one counting query:
- ``refresh_unit_stats(unit_ids)``: the member services call it, inside their own transaction,
  for the units whose members they changed (admission, edit, transfer, status change, a unit's
  dissolution or merger). The counts commit or roll back with the change itself, so there is no
  moment where they disagree with the member table.
- ``rebuild_unit_stats()``: recounts every unit (command ``rebuild_stats``, the nightly task, after
  bulk loads). Needed every day anyway because ages, and so age bands, move with the calendar.

Moving a unit changes paths, not unit ids: rows are keyed by unit id and joined to the unit's
current path when summed, so moves need no refresh.

Concurrency (PostgreSQL): a refresh takes a transaction-scoped advisory lock per unit (in id
order) under a shared "stats" lock; a full rebuild takes the "stats" lock exclusively. Each
recount starts after its locks are granted, so under READ COMMITTED it sees every change
committed by the transactions it waited for. SQLite runs one writer at a time and needs none.
"""

import datetime

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.utils import timezone

from congdoan.core.db import local_settings
from congdoan.dashboard.models import CELLS, UnitStat
from congdoan.members.choices import EventKind
from congdoan.members.models import Member, MembershipEvent
from congdoan.members.selectors import age_band_q

#: first key of our PostgreSQL advisory locks (two-int form); second key 0 = all stats, else a unit id
LOCK_CLASS = 0x5D45  # arbitrary, documented in docs/dashboard.md
COLUMNS = ["unit_id", "status", "members", *[column for _, _, column in CELLS], "admitted"]


def _year_range(year: int) -> tuple[datetime.date, datetime.date]:
    return datetime.date(year, 1, 1), datetime.date(year + 1, 1, 1)


def _counts(members, today: datetime.date, *, everyone: bool):
    """One row per (unit, status) of ``members``: the values of UnitStat's columns but as_of.

    ``everyone``: all members are counted (full rebuild), so this year's admission events are
    best read once into a hash; for a few units each member's events are probed by index instead
    (a scalar subquery with LIMIT, which PostgreSQL cannot turn into that hash).
    """
    start, end = _year_range(today.year)
    events = MembershipEvent.objects.filter(member=OuterRef("pk"), kind=EventKind.ADMISSION,
                                            occurred_on__gte=start, occurred_on__lt=end).order_by()
    if everyone:
        members, admitted = members, Q(Exists(events))
    else:
        members, admitted = members.annotate(admission=Subquery(events.values("pk")[:1])), Q(admission__isnull=False)
    cells = {column: Count("pk", filter=Q(gender=gender, **age_band_q(band, today))) for gender, band, column in CELLS}
    return (members.order_by().values("unit_id", "status")
            .annotate(members=Count("pk"), **cells, admitted=Count("pk", filter=admitted)))


def _insert_counts(members, today: datetime.date, *, everyone: bool = False) -> int:
    """INSERT … SELECT the counts of ``members`` into UnitStat: the rows never pass through Python."""
    sql, params = _counts(members, today, everyone=everyone).query.sql_with_params()
    table = connection.ops.quote_name(UnitStat._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in [*COLUMNS, "as_of"])
    # PostgreSQL costs the many filtered counts high enough to compile them (JIT): 0.29 s of a national recount's
    # 0.62 s at a million members went to compiling. Off for this statement, then as it was.
    with local_settings(connection, {"jit": "off"}), connection.cursor() as cursor:
        # the as_of placeholder comes first in the text, so its value comes first too
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT counts.*, %s FROM ({sql}) counts",
                       [connection.ops.adapt_datefield_value(today), *params])
        return cursor.rowcount


def _lock(unit_ids: list[int] | None):
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if unit_ids is None:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [LOCK_CLASS])
            return
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, 0)", [LOCK_CLASS])
        # volatile functions run after the ORDER BY: the locks are taken in id order (no deadlock)
        cursor.execute("SELECT count(pg_advisory_xact_lock(%s, ids.id)) FROM "
                       "(SELECT unnest(%s::int[]) AS id ORDER BY 1) ids", [LOCK_CLASS, unit_ids])


#: recounting more units than this at once is a full rebuild (fewer locks, no huge IN list)
MANY_UNITS = 1_000


def refresh_unit_stats(unit_ids, *, today: datetime.date | None = None) -> int:
    """Recount the members registered directly in these units. Runs in the caller's transaction."""
    ids = sorted({int(pk) for pk in unit_ids if pk})
    if not ids:
        return 0
    if len(ids) > MANY_UNITS:
        return rebuild_unit_stats(today=today)
    today = today or timezone.localdate()
    with transaction.atomic():
        _lock(ids)
        UnitStat.objects.filter(unit_id__in=ids).delete()
        return _insert_counts(Member.objects.filter(unit_id__in=ids), today)


def rebuild_unit_stats(*, today: datetime.date | None = None) -> int:
    """Recount every unit; returns the number of rows written. Member writes wait meanwhile."""
    today = today or timezone.localdate()
    with transaction.atomic():
        _lock(None)
        UnitStat.objects.all().delete()
        return _insert_counts(Member.objects.all(), today, everyone=True)


def stats_are_stale(today: datetime.date | None = None) -> bool:
    """True when some counts were computed before today (ages moved) or were never computed."""
    from django.db.models import Min

    today = today or timezone.localdate()
    oldest = UnitStat.objects.aggregate(oldest=Min("as_of"))["oldest"]
    if oldest is None:
        return Member.objects.exists()
    return oldest < today
