"""Reading members: scoped search and filters, and the audited read of a full record."""

import datetime

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.utils import timezone

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.core.text import normalize_search
from congdoan.members.choices import AGE_BAND_LIMITS, EventKind
from congdoan.members.models import Member, MembershipEvent

LIST_FIELDS = ["id", "code", "full_name", "date_of_birth", "gender", "phone", "status", "joined_on",
               "unit__id", "unit__name", "unit__code", "unit__employer_type"]


def _years_before(today: datetime.date, years: int) -> datetime.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def age_band_q(band: str, today: datetime.date | None = None) -> dict:
    """Filter kwargs on date_of_birth for an age band (ages in whole years today)."""
    today = today or timezone.localdate()
    low, high = AGE_BAND_LIMITS[band]
    kwargs = {}
    if low is not None:  # at least `low` years old: born on or before today - low years
        kwargs["date_of_birth__lte"] = _years_before(today, low)
    if high is not None:  # at most `high` years old: born after today - (high+1) years
        kwargs["date_of_birth__gt"] = _years_before(today, high + 1)
    return kwargs


def parse_year(value) -> int | None:
    """A year from a query string (``admitted_year=2026``), None when it is not a plausible one."""
    value = str(value or "").strip()
    if value.isdigit() and 1900 <= int(value) <= 2999:
        return int(value)
    return None


def member_search(*, user, q: str = "", unit=None, direct: bool = False, gender: str = "", age_band: str = "",
                  status: str = "", employer_type: str = "", admitted_year: int | None = None, action: str = Action.VIEW):
    """Members in ``user``'s scope matching the search text and filters.

    ``unit`` narrows to its branch, or with ``direct`` to the members registered in the unit
    itself. ``admitted_year`` keeps members with an admission event in that year.
    Digits search the citizen ID, phone or code exactly; other text searches the stored
    accent-free name (a trigram index backs it on PostgreSQL).
    """
    qs = Member.objects.restrict(user, action).select_related("unit")
    if unit is not None:
        qs = qs.filter(unit=unit) if direct else qs.filter(tree.subtree_q("unit__path", unit.path))
    q = (q or "").strip()
    if q:
        compact = q.replace(" ", "").replace(".", "")
        if compact.isdigit() and len(compact) == 12:
            qs = qs.filter(citizen_id=compact)
        elif compact.isdigit() or compact.startswith("+84"):
            phone = "0" + compact[3:] if compact.startswith("+84") else compact
            qs = qs.filter(phone=phone)
        elif compact.upper().startswith("DV") and compact[2:].isdigit():
            qs = qs.filter(code=compact.upper())
        else:
            qs = qs.filter(name_normalized__contains=normalize_search(q))
    if gender:
        qs = qs.filter(gender=gender)
    if age_band in AGE_BAND_LIMITS:
        qs = qs.filter(**age_band_q(age_band))
    if status:
        qs = qs.filter(status=status)
    if employer_type:
        qs = qs.filter(unit__employer_type=employer_type)
    if admitted_year:
        qs = qs.filter(Exists(MembershipEvent.objects.filter(
            member=OuterRef("pk"), kind=EventKind.ADMISSION,
            occurred_on__gte=datetime.date(admitted_year, 1, 1), occurred_on__lt=datetime.date(admitted_year + 1, 1, 1))))
    return qs


#: the member list counts matching rows up to this many; past it, see member_list_page
COUNT_CAP = 10_000
#: below this many matches the member list sorts them instead of walking the name index
SORT_BELOW = 2_500


def _aggregates_know(*, q: str = "", admitted_year: int | None = None, gender: str = "", age_band: str = "", **_) -> bool:
    """Whether the dashboard's aggregates can count this list: no search text, and an admission
    year only the current one without gender or age (the aggregates hold no finer cells)."""
    if (q or "").strip():
        return False
    return not admitted_year or (admitted_year == timezone.localdate().year and not gender and not age_band)


def _count(*, user, members, unit=None, direct=False, gender="", age_band="", status="", employer_type="",
           admitted_year=None, **_) -> int:
    """One query: the aggregates' count when the scope holds more than COUNT_CAP members (the
    same number the dashboard shows), else the rows counted."""
    from congdoan.dashboard.selectors import member_count_subqueries  # the dashboard's aggregates

    total, matched = member_count_subqueries(user=user, unit=unit, direct=direct, gender=gender, age_band=age_band,
                                             status=status, employer_type=employer_type, admitted_year=admitted_year)
    total_sql, total_params = total.query.sql_with_params()
    matched_sql, matched_params = matched.query.sql_with_params()
    rows_sql, rows_params = members.order_by().values("pk").query.sql_with_params()
    # CASE evaluates only the branch it needs: a large scope never counts its member rows
    sql = (f"SELECT CASE WHEN COALESCE(({total_sql}), 0) > %s THEN ({matched_sql}) "
           f"ELSE (SELECT COUNT(*) FROM ({rows_sql}) counted) END")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*total_params, COUNT_CAP, *matched_params, *rows_params])
        return cursor.fetchone()[0] or 0


def member_list_page(*, user, members, page_number=None, per_page: int = 50, **criteria) -> tuple[Page, bool]:
    """One page of the member list ``members`` (what member_search returned for ``criteria``) and
    whether its count is exact. Two queries, whatever the size of the scope.

    At 1 M members neither a COUNT(*) over a province nor walking the name index for rare matches
    is affordable, so:
    - filters the aggregates know: the count comes from _count; fewer than SORT_BELOW matches
      are sorted (the name-index walk would read ~50 × table / matches rows), more walk the index;
    - a text search (or an admission year the aggregates lack, or a few admissions): the matches' ids and names are
      read once, up to COUNT_CAP, sorted here, and the page's rows fetched by id. A surname never
      walks the name index (its matches cluster: every "nguyen" after the names from a to n).
      Past COUNT_CAP the count says "more than" (exact is False) and the page comes in record
      order, which fills it at once; the page asks to narrow the search.
    """
    if members.query.is_empty():  # no grant
        return Paginator([], per_page).get_page(1), True
    if _aggregates_know(**criteria):
        count = _count(user=user, members=members, **criteria)
        if count < SORT_BELOW and criteria.get("admitted_year"):
            # few admissions: their ids and names come from two indexes alone (the members of the
            # subtree by unit, each one's admission by member, kind and date), sorted here
            return _sorted_page(members, page_number, per_page)
        if count < SORT_BELOW:
            # lower() of an already lower-case column: the same order, but no index the planner can walk
            members = members.order_by(Lower("name_normalized"), "pk")
        paginator = Paginator(members, per_page)
        paginator.count = count
        return paginator.get_page(page_number), True
    found = list(members.order_by().values_list("pk", "name_normalized")[:COUNT_CAP + 1])
    if len(found) > COUNT_CAP:
        paginator = Paginator(members.order_by("pk"), per_page)
        paginator.count = COUNT_CAP
        return paginator.get_page(page_number), False
    return _sorted_page(members, page_number, per_page, found=found)


def _sorted_page(members, page_number, per_page: int, found=None) -> tuple[Page, bool]:
    """The page of ``members`` (at most COUNT_CAP) from their ids and names sorted here, its rows fetched by id."""
    if found is None:
        found = list(members.order_by().values_list("pk", "name_normalized")[:COUNT_CAP])
    found.sort(key=lambda row: (row[1], row[0]))
    page = Paginator([pk for pk, _ in found], per_page).get_page(page_number)
    rows = {m.pk: m for m in members.order_by().filter(pk__in=list(page.object_list))}
    page.object_list = [rows[pk] for pk in page.object_list if pk in rows]
    return page, True


def member_get(*, user, pk, action: str = Action.VIEW) -> Member:
    """One member in ``user``'s scope, or NotFoundInScope."""
    member = Member.objects.restrict(user, action).select_related("unit", "user").filter(pk=pk).first()
    if member is None:
        raise NotFoundInScope()
    return member


def member_read_full(*, user, pk, action: str = Action.VIEW) -> tuple[Member, bool]:
    """The full record for an official; (member, shows_sensitive). A read that shows
    sensitive fields is written to the audit log. ``action`` is what the caller needs (VIEW, or
    CHANGE for the edit form)."""
    member = member_get(user=user, pk=pk, action=action)
    sensitive = scoping.can(user, Action.VIEW_SENSITIVE, member.unit.path)
    if sensitive:
        audit_record(actor=user, action="member.viewed", obj=member, unit_path=member.unit.path)
    return member, sensitive
