"""Who may approve budgets and expenses.

Approving is the chair's (chủ tài khoản) part, separate from recording, which needs the
``finance`` action (chairs and accountants). When ``Action.APPROVE_FINANCE`` exists (finance may
add it to accounts/choices.py), approval follows it like every other action, through the role
table; until then the *chair* role on a unit approves within that unit's subtree.
"""

from congdoan.accounts.choices import Action, Role
from congdoan.core import paths as tree
from congdoan.core import scoping


def approve_action() -> str | None:
    """The action that allows approving, when the role table has one."""
    return getattr(Action, "APPROVE_FINANCE", None)


def approver_paths(user) -> list[str]:
    """Root paths of the subtrees in which ``user`` may approve budgets and expenses."""
    action = approve_action()
    if action is not None:
        return scoping.granted_paths(user, action)
    return tree.collapse(path for role, path, _unit_id in scoping.grants_of(user) if role == Role.CHAIR)


def may_approve(user, path: str) -> bool:
    return any(path.startswith(root) for root in approver_paths(user))


def has_finance(user) -> bool:
    return bool(scoping.granted_paths(user, Action.FINANCE))
