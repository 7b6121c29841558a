"""Accounts, role grants and API tokens."""

import datetime
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action, Role
from congdoan.accounts.models import ApiToken, RoleAssignment
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


#: active API tokens one user may hold at a time
MAX_API_TOKENS = 20
MAX_TOKEN_DAYS = 366


def _audit_account(actor, action, obj, changes=None):
    """Account-level changes sit in no unit: they are logged at each root of the actor's grants,
    so the officials above him see them (or at the empty path, outside every subtree, if he
    holds none)."""
    roots = scoping.granted_paths(actor, Action.VIEW) or [""]
    for path in roots:
        audit_record(actor=actor, action=action, obj=obj, unit_path=path, changes=changes)


@transaction.atomic
def api_token_create(*, actor, name: str, expires_at: datetime.datetime | None = None) -> tuple[ApiToken, str]:
    """Make a personal API key for ``actor``; returns (token, key). The key is never stored,
    only its hash: the caller shows it once."""
    name = (name or "").strip()
    if not name:
        raise AccountError(_("Give the key a name, e.g. the program that will use it."), code="required", field="name")
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise AccountError(_("The name is too long."), code="invalid", field="name")
    now = timezone.now()
    if expires_at is not None and not now < expires_at <= now + datetime.timedelta(days=MAX_TOKEN_DAYS):
        raise AccountError(_("A key expires between tomorrow and one year from now."), code="invalid_expiry", field="expires_at")
    # lock the user's row: two parallel requests cannot both pass the limit
    User.objects.select_for_update().filter(pk=actor.pk).first()
    if ApiToken.objects.filter(user=actor).usable(now).count() >= MAX_API_TOKENS:
        raise AccountError(_("You already have %(n)s active keys; revoke one first.") % {"n": MAX_API_TOKENS},
                           code="too_many_tokens", field="name")
    key = ApiToken.KEY_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(user=actor, name=name, prefix=key[:ApiToken.PREFIX_LENGTH],
                                    key_hash=ApiToken.hash_key(key), expires_at=expires_at)
    _audit_account(actor, "api_token.created", token,
                   {"name": [None, name], "expires_at": [None, expires_at.isoformat() if expires_at else None]})
    return token, key


@transaction.atomic
def api_token_revoke(*, actor, token: ApiToken) -> ApiToken:
    """Revoke one of the actor's own keys; programs using it get 401 from the next request on."""
    token = ApiToken.objects.select_for_update().filter(pk=token.pk, user_id=actor.pk).first()
    if token is None:
        raise NotFoundInScope()
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    _audit_account(actor, "api_token.revoked", token, {"revoked_at": [None, token.revoked_at.isoformat()]})
    return token


def api_token_authenticate(key: str) -> ApiToken | None:
    """The usable token whose key is ``key``, with its user; None for a wrong, revoked or expired
    key or an inactive user. Marks the token used (at most once a minute: no write per call)."""
    if not key or not key.startswith(ApiToken.KEY_PREFIX) or len(key) > 100:
        return None
    now = timezone.now()
    token = ApiToken.objects.usable(now).select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > datetime.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
