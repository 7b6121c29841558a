from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from congdoan.core import paths as tree
from congdoan.core.scoping import ScopedQuerySet
from congdoan.organizations.choices import EmployerType, Kind, Level, UnitStatus


class UnitQuerySet(ScopedQuerySet):
    scope_field = "path"

    def active(self):
        return self.filter(status=UnitStatus.ACTIVE)

    def descendants_of(self, unit, include_self=True):
        qs = self.in_subtree(unit.path)
        return qs if include_self else qs.exclude(pk=unit.pk)

    def ancestors_of(self, unit):
        return self.filter(path__in=tree.ancestors_of(unit.path)).order_by("depth")


class Unit(models.Model):
    """A unit of the union tree: from the national federation down to a union group.

    ``path`` is the materialized path (see core.paths); ``depth`` is its number of segments.
    Members are registered at grassroots level and below.
    """

    code = models.CharField(
        _("code"), max_length=32, unique=True,
        validators=[RegexValidator(r"^[A-Z0-9][A-Z0-9._-]*$", _("Use capital letters, digits, dot, dash or underscore."))],
    )
    name = models.CharField(_("name"), max_length=255)
    name_normalized = models.CharField(max_length=255, db_index=True, editable=False)
    level = models.CharField(_("level"), max_length=20, choices=Level.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.GENERAL)
    parent = models.ForeignKey("self", verbose_name=_("parent unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=64, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(editable=False)
    employer_type = models.CharField(_("employer type"), max_length=20, choices=EmployerType.choices, blank=True)
    employer_name = models.CharField(_("employer name"), max_length=255, blank=True)
    employer_tax_code = models.CharField(
        _("employer tax code"), max_length=14, blank=True,
        validators=[RegexValidator(r"^\d{10}(-\d{3})?$", _("A tax code has 10 digits, or 10 digits, a dash and 3 digits."))],
    )
    worker_count = models.PositiveIntegerField(_("number of workers"), default=0)
    address = models.CharField(_("address"), max_length=255, blank=True)
    province = models.CharField(_("province / city"), max_length=64, blank=True)
    founded_on = models.DateField(_("founding date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=UnitStatus.choices, default=UnitStatus.ACTIVE)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from", verbose_name=_("merged into"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UnitQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        indexes = [models.Index(fields=["parent", "name_normalized"])]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def is_active(self):
        return self.status == UnitStatus.ACTIVE
