from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from congdoan.core.scoping import ScopedQuerySet
from congdoan.imports.choices import RUNNING_STATUSES, ExportStatus, ImportStatus, Phase

#: how many row errors a job keeps (the total is counted apart)
MAX_STORED_ERRORS = 1000


class ImportJobQuerySet(ScopedQuerySet):
    scope_field = "scope_unit__path"


class ImportJob(models.Model):
    """One uploaded member file (.xlsx or .csv): checked in the background (preview), then
    imported all-or-nothing when the importer confirms. Progress and results live here; the
    job page polls them.

    ``scope_unit`` is the unit under which every row must lie; ``errors`` keeps the first
    MAX_STORED_ERRORS row errors (``error_count`` counts them all).
    """

    file = models.FileField(upload_to="imports/%Y/%m/", max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    file_size = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64)
    importer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    scope_unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+")
    language = models.CharField(max_length=8, default="vi")
    status = models.CharField(_("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.WAITING)
    phase = models.CharField(max_length=12, choices=Phase.choices, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    moved_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("member import")
        verbose_name_plural = _("member imports")

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 0
        return min(100, int(100 * self.rows_done / self.rows_total))


class ExportJobQuerySet(ScopedQuerySet):
    scope_field = "scope_path"


class ExportJob(models.Model):
    """One member export to .xlsx: the filters of the member list, run under the requester's
    scope; large ones run in the background and leave a file to download."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    unit = models.ForeignKey("organizations.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    #: the root of the subtree the export covers (the unit filter, or the requester's top unit)
    scope_path = models.CharField(max_length=64)
    filters = models.JSONField(default=dict, blank=True)
    include_sensitive = models.BooleanField(default=False)
    language = models.CharField(max_length=8, default="vi")
    status = models.CharField(_("status"), max_length=10, choices=ExportStatus.choices, default=ExportStatus.WAITING)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/%Y/%m/", max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("member export")
        verbose_name_plural = _("member exports")

    def __str__(self):
        return f"export {self.pk} ({self.get_status_display()})"

    @property
    def is_running(self) -> bool:
        return self.status in (ExportStatus.WAITING, ExportStatus.RUNNING)

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 0
        return min(100, int(100 * self.rows_done / self.rows_total))

    @property
    def filename(self) -> str:
        return f"doan-vien-{self.created_at:%Y%m%d-%H%M}.xlsx"
