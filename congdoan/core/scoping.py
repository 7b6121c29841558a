"""Access scoping: the one mechanism every page, API endpoint, export and command uses.

A grant is a role on a unit and means "this unit and everything below it". A user's
grants are loaded once per request (one query) and turned into path ranges; every
scoped queryset filters by them through ``restrict(user, action)``. No grant: nothing.
"""

from django.db import models

from congdoan.accounts.choices import ROLE_ACTIONS, Action
from congdoan.core import paths as tree

_CACHE_ATTR = "_congdoan_grants"


def grants_of(user) -> list[tuple[str, str, int]]:
    """(role, unit path, unit id) for each active grant of ``user``; cached on the user object."""
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        if not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
            cached = []
        else:
            from congdoan.accounts.models import RoleAssignment

            cached = list(
                RoleAssignment.objects.filter(user_id=user.pk, revoked_at__isnull=True, unit__status="active")
                .values_list("role", "unit__path", "unit_id")
            )
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_grants(user) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def granted_paths(user, action: str = Action.VIEW) -> list[str]:
    """Root paths of the subtrees in which ``user`` may do ``action``."""
    return tree.collapse(path for role, path, _ in grants_of(user) if action in ROLE_ACTIONS.get(role, ()))


def can(user, action: str, path: str) -> bool:
    """May ``user`` do ``action`` on the unit at ``path`` (or anything stored under it)?"""
    return any(path.startswith(p) for p in granted_paths(user, action))


def is_official(user) -> bool:
    return bool(grants_of(user))


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows which path field places its rows in the tree."""

    #: lookup of the materialized path that places a row, e.g. "path" or "unit__path"
    scope_field = "path"

    def restrict(self, user, action: str = Action.VIEW):
        paths = granted_paths(user, action)
        if not paths:
            return self.none()
        return self.filter(tree.subtrees_q(self.scope_field, paths))

    def in_subtree(self, path: str):
        return self.filter(tree.subtree_q(self.scope_field, path))


def scoped_queryset(field: str):
    """A ScopedQuerySet subclass whose rows are placed by ``field``."""
    return type(f"ScopedQuerySet_{field.replace('__', '_')}", (ScopedQuerySet,), {"scope_field": field})
