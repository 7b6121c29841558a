"""Reading members: scoped search and filters, and the audited read of a full record."""

import datetime

from django.utils import timezone

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.core.text import normalize_search
from congdoan.members.choices import AGE_BAND_LIMITS
from congdoan.members.models import Member

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


def member_search(*, user, q: str = "", unit=None, gender: str = "", age_band: str = "", status: str = "",
                  employer_type: str = "", action: str = Action.VIEW):
    """Members in ``user``'s scope matching the search text and filters.

    Digits search the citizen ID, phone or code exactly; other text searches the stored
    accent-free name (a trigram index backs it on PostgreSQL).
    """
    qs = Member.objects.restrict(user, action).select_related("unit")
    if unit is not None:
        qs = qs.filter(tree.subtree_q("unit__path", unit.path))
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
    return qs


def member_get(*, user, pk, action: str = Action.VIEW) -> Member:
    """One member in ``user``'s scope, or NotFoundInScope."""
    member = Member.objects.restrict(user, action).select_related("unit", "user").filter(pk=pk).first()
    if member is None:
        raise NotFoundInScope()
    return member


def member_read_full(*, user, pk) -> tuple[Member, bool]:
    """The full record for an official; (member, shows_sensitive). A read that shows
    sensitive fields is written to the audit log."""
    member = member_get(user=user, pk=pk)
    sensitive = scoping.can(user, Action.VIEW_SENSITIVE, member.unit.path)
    if sensitive:
        audit_record(actor=user, action="member.viewed", obj=member, unit_path=member.unit.path)
    return member, sensitive
