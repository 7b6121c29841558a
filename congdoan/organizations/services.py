"""State changes of units. Pages, the API, commands and tasks all call these."""

import datetime

from django.db import transaction
from django.db.models import F, Max, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record, diff, snapshot
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.errors import DomainError, NotFoundInScope
from congdoan.core.text import clean_name, normalize_search
from congdoan.organizations.choices import ALLOWED_CHILDREN, Level, UnitStatus
from congdoan.organizations.models import Unit

EDITABLE_FIELDS = [
    "code", "name", "kind", "employer_type", "employer_name", "employer_tax_code",
    "worker_count", "address", "province", "founded_on",
]


class UnitError(DomainError):
    pass


def _require(actor, action, unit):
    """The actor may do ``action`` on ``unit``; otherwise the unit 'does not exist' for him."""
    if actor is not None and not scoping.can(actor, action, unit.path):
        raise NotFoundInScope()


def _check_child(parent: Unit | None, level: str):
    if parent is None:
        if level != Level.NATIONAL:
            raise UnitError(_("Only the national federation has no parent unit."), code="parent_required", field="parent")
        return
    if not parent.is_active:
        raise UnitError(_("The parent unit %(unit)s is no longer active.") % {"unit": parent}, code="parent_inactive", field="parent")
    if level not in ALLOWED_CHILDREN[parent.level]:
        raise UnitError(
            _("A %(level)s cannot be placed under a %(parent_level)s.")
            % {"level": Level(level).label, "parent_level": Level(parent.level).label},
            code="level_not_allowed", field="level",
        )


def _next_child_path(parent: Unit | None) -> str:
    prefix = parent.path if parent else ""
    depth = (parent.depth + 1) if parent else 1
    siblings = Unit.objects.filter(depth=depth).in_subtree(prefix) if prefix else Unit.objects.filter(depth=1)
    last = siblings.aggregate(m=Max("path"))["m"]
    number = tree.decode_segment(last[-tree.STEPLEN:]) + 1 if last else 0
    return prefix + tree.encode_segment(number)


def _clean_fields(data: dict) -> dict:
    data = dict(data)
    if "name" in data:
        data["name"] = clean_name(data["name"])
    if "code" in data and data["code"] is not None:
        data["code"] = str(data["code"]).strip().upper()
    return data


def _validate(unit: Unit, exclude=()):
    from django.core.exceptions import ValidationError

    if unit.level not in (Level.GRASSROOTS,) and unit.employer_type:
        # employer data belongs to grassroots units; keep other levels clean
        unit.employer_type = ""
    if unit.founded_on and unit.founded_on > timezone.localdate():
        raise UnitError(_("The founding date cannot be in the future."), code="future_date", field="founded_on")
    try:
        unit.full_clean(exclude=list(exclude) + ["path", "depth", "name_normalized"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        code = "duplicate_code" if field == "code" and Unit.objects.filter(code=unit.code).exclude(pk=unit.pk).exists() else "invalid"
        raise UnitError(messages[0], code=code, field=field) from exc


@transaction.atomic
def unit_create(*, actor, parent: Unit | None, level: str, **fields) -> Unit:
    """Create a unit under ``parent``; the actor must be allowed to change the parent's subtree."""
    if parent is not None:
        parent = Unit.objects.select_for_update().get(pk=parent.pk)
        _require(actor, Action.CHANGE, parent)
    elif actor is not None and not actor.is_superuser:
        raise UnitError(_("Only a system administrator can create the national federation."), code="forbidden", field="parent")
    _check_child(parent, level)
    unit = Unit(parent=parent, level=level, **_clean_fields(fields))
    unit.path = _next_child_path(parent)
    unit.depth = len(unit.path) // tree.STEPLEN
    unit.name_normalized = normalize_search(unit.name)
    _validate(unit)
    unit.save()
    audit_record(actor=actor, action="unit.created", obj=unit, unit_path=unit.path,
                 changes={f: [None, v] for f, v in snapshot(unit, ["code", "name", "level", "parent_id"]).items()})
    return unit


@transaction.atomic
def unit_update(*, actor, unit: Unit, **fields) -> Unit:
    """Change a unit's own fields (not its place in the tree: see unit_move)."""
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    _require(actor, Action.CHANGE, unit)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise UnitError(_("These fields cannot be changed here: %(fields)s") % {"fields": ", ".join(sorted(unknown))}, code="invalid")
    before = snapshot(unit, list(fields))
    for name, value in _clean_fields(fields).items():
        setattr(unit, name, value)
    unit.name_normalized = normalize_search(unit.name)
    _validate(unit)
    changes = diff(before, snapshot(unit, list(fields)))
    if changes:
        unit.save(update_fields=[*fields, "name_normalized", "updated_at"])
        audit_record(actor=actor, action="unit.updated", obj=unit, unit_path=unit.path, changes=changes)
    return unit


@transaction.atomic
def unit_move(*, actor, unit: Unit, new_parent: Unit) -> Unit:
    """Move a unit and its whole branch under ``new_parent``: one UPDATE rewrites the paths."""
    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    new_parent = Unit.objects.select_for_update().get(pk=new_parent.pk)
    _require(actor, Action.CHANGE, unit)
    _require(actor, Action.CHANGE, new_parent)
    if new_parent.path.startswith(unit.path):
        raise UnitError(_("A unit cannot be moved under itself or one of its own sub-units."), code="move_into_own_branch", field="parent")
    if unit.parent_id == new_parent.pk:
        return unit
    _check_child(new_parent, unit.level)
    if actor is not None and unit.parent_id and not scoping.can(actor, Action.CHANGE, unit.parent.path) and not actor.is_superuser:
        # taking a branch away from its parent needs authority over the parent too
        raise NotFoundInScope()
    old_path, old_parent_id = unit.path, unit.parent_id
    new_path = _next_child_path(new_parent)
    depth_delta = new_parent.depth + 1 - unit.depth
    Unit.objects.in_subtree(old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1, Length("path"))),
        depth=F("depth") + depth_delta,
    )
    Unit.objects.filter(pk=unit.pk).update(parent=new_parent)
    unit.refresh_from_db()
    from congdoan.audit.models import AuditEntry

    # audit entries follow their objects so the new subtree's officials see the history
    AuditEntry.objects.in_subtree(old_path).update(
        unit_path=Concat(Value(new_path), Substr("unit_path", len(old_path) + 1, Length("unit_path")))
    )
    audit_record(actor=actor, action="unit.moved", obj=unit, unit_path=unit.path,
                 changes={"parent_id": [old_parent_id, new_parent.pk]})
    return unit


@transaction.atomic
def unit_dissolve(*, actor, unit: Unit, on_date: datetime.date | None = None, reason: str = "") -> Unit:
    """Dissolve a unit with no active sub-units; its members leave the union with history."""
    from congdoan.members.services import members_close_for_unit

    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    _require(actor, Action.CHANGE, unit)
    if not unit.is_active:
        raise UnitError(_("The unit %(unit)s is already closed.") % {"unit": unit}, code="unit_inactive")
    if unit.parent_id is None:
        raise UnitError(_("The national federation cannot be dissolved."), code="root")
    if Unit.objects.active().descendants_of(unit, include_self=False).exists():
        raise UnitError(_("Move, merge or dissolve its sub-units first."), code="has_active_children")
    on_date = on_date or timezone.localdate()
    if on_date > timezone.localdate():
        raise UnitError(_("The date cannot be in the future."), code="future_date", field="on_date")
    closed = members_close_for_unit(actor=actor, unit=unit, on_date=on_date,
                                    reason=reason or _("Unit dissolved"))
    unit.status, unit.closed_on = UnitStatus.DISSOLVED, on_date
    unit.save(update_fields=["status", "closed_on", "updated_at"])
    audit_record(actor=actor, action="unit.dissolved", obj=unit, unit_path=unit.path,
                 changes={"status": [UnitStatus.ACTIVE, UnitStatus.DISSOLVED], "members_closed": [0, closed]})
    return unit


@transaction.atomic
def unit_merge(*, actor, unit: Unit, into: Unit, on_date: datetime.date | None = None) -> Unit:
    """Merge ``unit`` into ``into`` (same level): its sub-units and members move, it closes."""
    from congdoan.members.services import members_move_for_merge

    unit = Unit.objects.select_for_update().get(pk=unit.pk)
    into = Unit.objects.select_for_update().get(pk=into.pk)
    _require(actor, Action.CHANGE, unit)
    _require(actor, Action.CHANGE, into)
    if unit.pk == into.pk or into.path.startswith(unit.path):
        raise UnitError(_("A unit cannot be merged into itself or one of its own sub-units."), code="merge_into_own_branch", field="into")
    if unit.level != into.level:
        raise UnitError(_("Only units of the same level can be merged."), code="level_mismatch", field="into")
    if not unit.is_active or not into.is_active:
        raise UnitError(_("Both units must be active to merge."), code="unit_inactive", field="into")
    on_date = on_date or timezone.localdate()
    for child in list(Unit.objects.filter(parent=unit, status=UnitStatus.ACTIVE)):
        unit_move(actor=actor, unit=child, new_parent=into)
    moved = members_move_for_merge(actor=actor, unit=unit, into=into, on_date=on_date)
    unit.refresh_from_db()
    unit.status, unit.closed_on, unit.merged_into = UnitStatus.MERGED, on_date, into
    unit.save(update_fields=["status", "closed_on", "merged_into", "updated_at"])
    audit_record(actor=actor, action="unit.merged", obj=unit, unit_path=unit.path,
                 changes={"status": [UnitStatus.ACTIVE, UnitStatus.MERGED], "merged_into_id": [None, into.pk], "members_moved": [0, moved]})
    return unit
