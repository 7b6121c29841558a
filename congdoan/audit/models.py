from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from congdoan.core.scoping import scoped_queryset


class AuditEntry(models.Model):
    """Who did what to which object, when, and which fields changed from what to what.

    ``unit_path`` places the entry in the tree so officials see the entries of their
    subtree only. Sensitive fields are masked before they get here.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=255, blank=True)
    unit_path = models.CharField(max_length=64, db_index=True)
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = scoped_queryset("unit_path").as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self):
        return f"{self.action} {self.object_type}:{self.object_id}"
