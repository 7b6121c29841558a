"""Reading units: scoped lists, a unit's children with branch figures."""

from django.db.models import Count, Q
from django.db.models.functions import Substr

from congdoan.accounts.choices import Action
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.core.text import normalize_search
from congdoan.members.choices import MemberStatus
from congdoan.members.models import Member
from congdoan.organizations.models import Unit


def unit_get(*, user, pk, action=Action.VIEW) -> Unit:
    unit = Unit.objects.restrict(user, action).select_related("parent").filter(pk=pk).first()
    if unit is None:
        raise NotFoundInScope()
    return unit


def scope_roots(user):
    """The top units of the user's scope (the units his grants are on)."""
    return Unit.objects.filter(path__in=scoping.granted_paths(user, Action.VIEW)).order_by("path")


def unit_search(*, user, q="", level="", employer_type="", status="", within=None):
    qs = Unit.objects.restrict(user)
    if within is not None:
        qs = qs.in_subtree(within.path)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(code=q.upper()) | Q(name_normalized__contains=normalize_search(q)))
    if level:
        qs = qs.filter(level=level)
    if employer_type:
        qs = qs.filter(employer_type=employer_type)
    if status:
        qs = qs.filter(status=status)
    return qs


def branch_member_counts(unit: Unit) -> dict[str, int]:
    """Active members of each child branch of ``unit``, keyed by the child's path (one query)."""
    width = len(unit.path) + 4
    rows = (Member.objects.in_subtree(unit.path).filter(status=MemberStatus.ACTIVE)
            .annotate(branch=Substr("unit__path", 1, width)).values("branch").annotate(n=Count("id")))
    return {r["branch"]: r["n"] for r in rows}


def children_with_counts(unit: Unit):
    children = list(Unit.objects.filter(parent=unit).order_by("status", "name_normalized"))
    counts = branch_member_counts(unit)
    for child in children:
        child.member_count = counts.get(child.path, 0)
    direct = counts.get(unit.path, 0)
    return children, direct
