"""Maintained aggregates for the dashboard: member counts per unit, summed over a subtree by path.

National figures cannot come from a GROUP BY over a million member rows on every page view
(PERFORMANCE.md); they come from one small row per (unit, member status) instead. The rows are
keyed by unit id, not by path, so moving or merging a branch needs no rewrite: the dashboard joins
each row to its unit and sums the rows whose unit path lies in the subtree.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from congdoan.core.scoping import ScopedQuerySet
from congdoan.members.choices import AgeBand, Gender, MemberStatus


def cell_field(gender: str, age_band: str) -> str:
    """Name of the column that counts members of ``gender`` in ``age_band``, e.g. ``female_30_39``."""
    return f"{gender}_{age_band}"


#: (gender, age band, column) for every cell of the gender × age band table
CELLS = [(g, b, cell_field(g, b)) for g in Gender.values for b in AgeBand.values]


class UnitStatQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class UnitStat(models.Model):
    """How many members are registered directly in ``unit`` with ``status``: in total, by gender ×
    age band (ages as of ``as_of``), and how many of them have an admission event in the year of
    ``as_of``. Kept exact by dashboard.services (the member services recount the units they touch,
    a nightly task recounts everything because ages move with the calendar)."""

    unit = models.ForeignKey("organizations.Unit", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=MemberStatus.choices)
    members = models.PositiveIntegerField(default=0)
    male_lt30 = models.PositiveIntegerField(default=0)
    male_30_39 = models.PositiveIntegerField(default=0)
    male_40_49 = models.PositiveIntegerField(default=0)
    male_gte50 = models.PositiveIntegerField(default=0)
    female_lt30 = models.PositiveIntegerField(default=0)
    female_30_39 = models.PositiveIntegerField(default=0)
    female_40_49 = models.PositiveIntegerField(default=0)
    female_gte50 = models.PositiveIntegerField(default=0)
    admitted = models.PositiveIntegerField(default=0, help_text="members admitted in the year of as_of")
    as_of = models.DateField(help_text="the day the age bands and the admission year were computed for")

    objects = UnitStatQuerySet.as_manager()

    class Meta:
        verbose_name = _("unit member statistics")
        constraints = [models.UniqueConstraint(fields=["unit", "status"], name="dashboard_unitstat_unit_status")]

    def __str__(self):
        return f"{self.unit_id}/{self.status}: {self.members}"
