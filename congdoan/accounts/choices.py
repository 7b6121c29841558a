from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CHAIR = "chair", _("Chair")
    VICE_CHAIR = "vice_chair", _("Vice chair")
    COMMITTEE_MEMBER = "committee_member", _("Committee member")
    STAFF = "staff", _("Staff")
    ACCOUNTANT = "accountant", _("Accountant")


class Action(models.TextChoices):
    """What a role on a unit allows within that unit's subtree."""

    VIEW = "view", _("View units and members")
    CHANGE = "change", _("Change units and members")
    VIEW_SENSITIVE = "view_sensitive", _("See citizen ID, ethnicity and religion")
    MANAGE_ROLES = "manage_roles", _("Grant and revoke roles")
    VIEW_AUDIT = "view_audit", _("Read the audit log")
    FINANCE = "finance", _("Record finance")


ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.CHAIR: frozenset({Action.VIEW, Action.CHANGE, Action.VIEW_SENSITIVE, Action.MANAGE_ROLES, Action.VIEW_AUDIT, Action.FINANCE}),
    Role.VICE_CHAIR: frozenset({Action.VIEW, Action.CHANGE, Action.VIEW_SENSITIVE, Action.MANAGE_ROLES, Action.VIEW_AUDIT}),
    Role.STAFF: frozenset({Action.VIEW, Action.CHANGE, Action.VIEW_SENSITIVE, Action.VIEW_AUDIT}),
    Role.COMMITTEE_MEMBER: frozenset({Action.VIEW}),
    Role.ACCOUNTANT: frozenset({Action.VIEW, Action.FINANCE}),
}


def roles_allowing(action: str) -> list[str]:
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]
