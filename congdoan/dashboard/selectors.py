"""Figures for the dashboard, always inside the user's scope, from the maintained aggregates.

Member figures sum UnitStat rows (one per unit and member status) whose unit lies in the scope;
unit figures count Unit rows. Both are grouped by branch (a child of the scope's root, or each
root when the user holds several grants) in the same query that gives the totals, so the page
costs a fixed handful of queries however large the subtree is.

Every figure carries the URL of the member or unit list filtered the same way: the list then
shows exactly the figure's count (tests check it).
"""

import datetime
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Case, CharField, Count, F, Func, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Substr
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from congdoan.accounts.choices import Action
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.dashboard.models import CELLS, UnitStat, cell_field
from congdoan.members.choices import AgeBand, Gender, MemberStatus
from congdoan.organizations.choices import LEVEL_ORDER, EmployerType, Level, UnitStatus
from congdoan.organizations.models import Unit


@dataclass
class Figure:
    """One number on the dashboard, the list that shows the same rows, and its share for a bar."""

    label: str
    value: int
    url: str
    share: float = 0.0  # percent of the reference total, for CSS bars


@dataclass
class AgeRow:
    band: Figure
    by_gender: list[Figure]


@dataclass
class Branch:
    unit: Unit
    members: Figure
    grassroots: int = 0
    dashboard_url: str = ""


@dataclass
class Dashboard:
    roots: list[Unit]
    unit: Unit | None  # the unit chosen with ?unit=, None for the whole scope
    ancestors: list[Unit]  # breadcrumb of ``unit`` inside the scope
    year: int
    as_of: datetime.date | None
    headline: list[Figure] = field(default_factory=list)
    by_gender: list[Figure] = field(default_factory=list)
    by_age: list[AgeRow] = field(default_factory=list)
    by_employer: list[Figure] = field(default_factory=list)
    without_employer_type: int = 0
    units_by_level: list[Figure] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    direct_members: Figure | None = None  # members registered in the root unit itself
    summary: dict = field(default_factory=dict)

    @property
    def figures(self) -> list[Figure]:
        """Every linked figure on the page (the tests follow each link)."""
        found = [*self.headline, *self.by_gender, *self.by_employer, *self.units_by_level]
        for row in self.by_age:
            found += [row.band, *row.by_gender]
        found += [b.members for b in self.branches]
        if self.direct_members:
            found.append(self.direct_members)
        return found


def _url(name: str, unit: Unit | None, **params) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if unit is not None:
        query["unit"] = unit.pk
    return f"{reverse(name)}?{urlencode(query)}"


def members_url(unit: Unit | None, **params) -> str:
    """The member list filtered like a figure (filters of members.forms.MemberFilterForm)."""
    return _url("members:member_list", unit, **params)


def units_url(unit: Unit | None, **params) -> str:
    return _url("organizations:unit_list", unit, **params)


def _share(value: int, total: int) -> float:
    return round(100 * value / total, 1) if total else 0.0


def _branch_key(field_name: str, roots: list[Unit]):
    """SQL expression naming the branch a row belongs to: the root's child on its path (or the
    root itself for rows of the root unit) with one root; each root with several."""
    if len(roots) == 1:
        return Substr(field_name, 1, len(roots[0].path) + tree.STEPLEN)
    return Case(*[When(tree.subtree_q(field_name, r.path), then=Value(r.path)) for r in roots], output_field=CharField())


def _stats_by_branch(user, unit: Unit | None, roots: list[Unit], today: datetime.date) -> dict[str, dict]:
    active = Q(status=MemberStatus.ACTIVE)
    sums = {column: Sum(column, filter=active) for _, _, column in CELLS}
    sums["active"] = Sum("members", filter=active)
    sums["admitted"] = Sum("admitted", filter=Q(as_of__year=today.year))
    for employer_type in EmployerType.values:
        sums[f"employer_{employer_type}"] = Sum("members", filter=active & Q(unit__employer_type=employer_type))
    sums["as_of"] = Min("as_of")
    qs = UnitStat.objects.restrict(user, Action.VIEW)
    if unit is not None:
        qs = qs.in_subtree(unit.path)
    rows = qs.annotate(branch=_branch_key("unit__path", roots)).values("branch").annotate(**sums).order_by()
    return {row.pop("branch"): row for row in rows}


def _units_by_branch(user, unit: Unit | None, roots: list[Unit]) -> dict[str, dict]:
    counts = {level: Count("pk", filter=Q(level=level)) for level in Level.values}
    qs = Unit.objects.restrict(user, Action.VIEW).active()
    if unit is not None:
        qs = qs.in_subtree(unit.path)
    rows = qs.annotate(branch=_branch_key("path", roots)).values("branch").annotate(**counts).order_by()
    return {row.pop("branch"): row for row in rows}


def _total(rows: dict[str, dict], key: str) -> int:
    return sum(row.get(key) or 0 for row in rows.values())


def dashboard_get(*, user, unit: Unit | None = None) -> Dashboard:
    """The dashboard of ``user``'s scope (the union of his grants), or of ``unit`` inside it.

    ``unit`` must come from a scoped lookup (organizations.selectors.unit_get).
    """
    today = timezone.localdate()
    if unit is not None:
        roots = [unit]
        ancestors = list(Unit.objects.restrict(user, Action.VIEW).filter(path__in=tree.ancestors_of(unit.path)).order_by("path"))
    else:
        roots = list(Unit.objects.restrict(user, Action.VIEW).filter(path__in=scoping.granted_paths(user, Action.VIEW)).order_by("path"))
        ancestors = []
    stats = _stats_by_branch(user, unit, roots, today)
    units = _units_by_branch(user, unit, roots)
    as_of = min((row["as_of"] for row in stats.values() if row["as_of"]), default=None)
    d = Dashboard(roots=roots, unit=unit, ancestors=ancestors, year=today.year, as_of=as_of)

    active = _total(stats, "active")
    by_gender = {g: sum(_total(stats, cell_field(g, b)) for b in AgeBand.values) for g in Gender.values}
    units_total = sum(_total(units, level) for level in Level.values)
    d.headline = [
        Figure(_("active members"), active, members_url(unit, status=MemberStatus.ACTIVE)),
        Figure(_("women members"), by_gender[Gender.FEMALE], members_url(unit, gender=Gender.FEMALE, status=MemberStatus.ACTIVE)),
        Figure(_("admitted in %(year)s") % {"year": today.year}, _total(stats, "admitted"), members_url(unit, admitted_year=today.year)),
        Figure(_("active units"), units_total, units_url(unit, status=UnitStatus.ACTIVE)),
        Figure(_("grassroots unions"), _total(units, Level.GRASSROOTS), units_url(unit, level=Level.GRASSROOTS, status=UnitStatus.ACTIVE)),
    ]
    d.by_gender = [Figure(label, by_gender[g], members_url(unit, gender=g, status=MemberStatus.ACTIVE), _share(by_gender[g], active))
                   for g, label in Gender.choices]
    for band, label in AgeBand.choices:
        cells = {g: _total(stats, cell_field(g, band)) for g in Gender.values}
        band_total = sum(cells.values())
        d.by_age.append(AgeRow(
            band=Figure(label, band_total, members_url(unit, age_band=band, status=MemberStatus.ACTIVE), _share(band_total, active)),
            by_gender=[Figure(g_label, cells[g], members_url(unit, gender=g, age_band=band, status=MemberStatus.ACTIVE), _share(cells[g], band_total))
                       for g, g_label in Gender.choices],
        ))
    for employer_type, label in EmployerType.choices:
        value = _total(stats, f"employer_{employer_type}")
        if value:
            d.by_employer.append(Figure(label, value, members_url(unit, employer_type=employer_type, status=MemberStatus.ACTIVE), _share(value, active)))
    d.by_employer.sort(key=lambda f: -f.value)
    d.without_employer_type = active - sum(f.value for f in d.by_employer)
    top_rank = min((LEVEL_ORDER.index(r.level) for r in roots), default=0)
    for level in LEVEL_ORDER[top_rank:]:
        d.units_by_level.append(Figure(Level(level).label, _total(units, level), units_url(unit, level=level, status=UnitStatus.ACTIVE)))

    if len(roots) == 1:
        root = roots[0]
        branch_units = list(Unit.objects.restrict(user, Action.VIEW).active().filter(parent=root))
        direct = (stats.get(root.path) or {}).get("active") or 0
        if direct or root.level in (Level.GRASSROOTS, Level.SUB_UNION, Level.UNION_GROUP):
            d.direct_members = Figure(_("registered directly in %(unit)s") % {"unit": root.name}, direct,
                                      members_url(root, status=MemberStatus.ACTIVE, direct=1), _share(direct, active))
    else:
        branch_units = roots
    for b in branch_units:
        value = (stats.get(b.path) or {}).get("active") or 0
        d.branches.append(Branch(
            unit=b, members=Figure(b.name, value, members_url(b, status=MemberStatus.ACTIVE), _share(value, active)),
            grassroots=(units.get(b.path) or {}).get(Level.GRASSROOTS) or 0,
            dashboard_url=f"{reverse('core:home')}?{urlencode({'unit': b.pk})}",
        ))
    d.branches.sort(key=lambda b: (-b.members.value, b.unit.name_normalized))
    d.summary = {
        "units": {"total": units_total, "grassroots": _total(units, Level.GRASSROOTS)},
        "members": {"total": active, "female": by_gender[Gender.FEMALE]},
    }
    return d


def member_count_subqueries(*, user, unit: Unit | None = None, direct: bool = False, gender: str = "",
                            age_band: str = "", status: str = "", employer_type: str = "", admitted_year: int | None = None):
    """Two one-value querysets over the aggregates, for the member list to use as subqueries:
    how many members (any status) its scope holds, and how many match these filters (no search
    text; an admission year only the current one, without gender or age). The first tells whether
    counting member rows is cheap; the second is the count when not.
    """
    if admitted_year:
        columns = ["admitted"]
    elif gender and age_band:
        columns = [cell_field(gender, age_band)]
    elif gender:
        columns = [cell_field(gender, b) for b in AgeBand.values]
    elif age_band:
        columns = [cell_field(g, age_band) for g in Gender.values]
    else:
        columns = ["members"]
    scope = UnitStat.objects.restrict(user, Action.VIEW)
    if unit is not None:
        scope = scope.filter(unit_id=unit.pk) if direct else scope.in_subtree(unit.path)
    matching = scope
    if status:
        matching = matching.filter(status=status)
    if employer_type:
        matching = matching.filter(unit__employer_type=employer_type)
    if admitted_year:
        matching = matching.filter(as_of__year=admitted_year)
    # SUM as a plain function, not an aggregate: one row without a GROUP BY, usable as a subquery
    total = scope.order_by().annotate(n=Func(F("members"), function="SUM")).values("n")
    matched = sum((Coalesce(Func(F(c), function="SUM"), 0) for c in columns[1:]), start=Coalesce(Func(F(columns[0]), function="SUM"), 0))
    return total, matching.order_by().annotate(n=matched).values("n")
