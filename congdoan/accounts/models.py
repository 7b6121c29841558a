from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from congdoan.accounts.choices import Role
from congdoan.core.scoping import ScopedQuerySet


class User(AbstractUser):
    """A login: an official (with role grants) or a member (linked through Member.user)."""

    full_name = models.CharField(_("full name"), max_length=128, blank=True)

    def __str__(self):
        return self.full_name or self.username


class RoleAssignmentQuerySet(ScopedQuerySet):
    scope_field = "unit__path"

    def active(self):
        return self.filter(revoked_at__isnull=True)


class RoleAssignment(models.Model):
    """A role held by a user on a unit; it reaches the unit's whole subtree."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments")
    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="role_assignments")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = RoleAssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["unit__path", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], condition=models.Q(revoked_at__isnull=True), name="one_active_grant"),
        ]
        verbose_name = _("role assignment")

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} – {self.unit}"
