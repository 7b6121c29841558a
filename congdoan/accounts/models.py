import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
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


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, now=None):
        """Tokens that still open the API: not revoked and not expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApiToken(models.Model):
    """A personal key for the JSON API: programs act with the rights of the user who made it.

    Only the SHA-256 hash of the key is stored (the key is shown once, when it is made); a
    short ``prefix`` stays readable so the user can tell his keys apart. A key has ~240 random
    bits, so a fast hash is enough and the lookup is one indexed equality.
    """

    #: every key starts with this, so a leaked key is recognisable in logs and scanners
    KEY_PREFIX = "cdt_"
    #: how many characters of the key stay visible
    PREFIX_LENGTH = 12

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=64)
    prefix = models.CharField(_("key starts with"), max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
