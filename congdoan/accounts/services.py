"""Accounts and role grants."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action, Role
from congdoan.accounts.models import RoleAssignment
from congdoan.audit.services import audit_record
from congdoan.core import scoping
from congdoan.core.errors import DomainError, NotFoundInScope

User = get_user_model()


class AccountError(DomainError):
    pass


def _check_password(password, user=None):
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise AccountError(exc.messages[0], code="weak_password", field="password") from exc


@transaction.atomic
def user_create(*, actor, username: str, password: str, full_name: str = "", email: str = "") -> User:
    """Create a login. Officials get power only through role_grant."""
    username = (username or "").strip()
    if not username:
        raise AccountError(_("A username is required."), code="invalid", field="username")
    if User.objects.filter(username__iexact=username).exists():
        raise AccountError(_("The username “%(username)s” is taken.") % {"username": username}, code="duplicate_username", field="username")
    user = User(username=username, full_name=full_name, email=email)
    _check_password(password, user)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def role_grant(*, actor, user, unit, role: str) -> RoleAssignment:
    """Grant ``role`` on ``unit``: only inside a subtree where the actor may manage roles."""
    if not scoping.can(actor, Action.MANAGE_ROLES, unit.path):
        raise NotFoundInScope(_("You cannot grant roles on this unit: it lies outside your units."))
    if role not in Role.values:
        raise AccountError(_("Unknown role “%(role)s”.") % {"role": role}, code="invalid_role", field="role")
    if not unit.is_active:
        raise AccountError(_("Roles cannot be granted on a closed unit."), code="unit_inactive", field="unit")
    try:
        with transaction.atomic():
            grant = RoleAssignment.objects.create(user=user, unit=unit, role=role, granted_by=actor)
    except IntegrityError as exc:
        raise AccountError(_("%(user)s already holds this role on this unit.") % {"user": user}, code="duplicate_grant", field="role") from exc
    scoping.forget_grants(user)
    audit_record(actor=actor, action="role.granted", obj=grant, unit_path=unit.path,
                 changes={"user_id": [None, user.pk], "role": [None, role], "unit_id": [None, unit.pk]})
    return grant


@transaction.atomic
def role_revoke(*, actor, grant: RoleAssignment) -> RoleAssignment:
    grant = RoleAssignment.objects.select_for_update().select_related("unit").get(pk=grant.pk)
    if not scoping.can(actor, Action.MANAGE_ROLES, grant.unit.path):
        raise NotFoundInScope()
    if grant.revoked_at is not None:
        return grant
    grant.revoked_at, grant.revoked_by = timezone.now(), actor
    grant.save(update_fields=["revoked_at", "revoked_by"])
    scoping.forget_grants(grant.user)
    audit_record(actor=actor, action="role.revoked", obj=grant, unit_path=grant.unit.path,
                 changes={"user_id": [grant.user_id, grant.user_id], "role": [grant.role, None]})
    return grant
