"""State changes of members: admission, edits, transfers, suspension, leaving."""

import datetime
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record, diff, snapshot
from congdoan.core import scoping
from congdoan.core.errors import DomainError, NotFoundInScope
from congdoan.core.text import clean_name, normalize_search
from congdoan.dashboard.services import refresh_unit_stats  # dashboard hook: recounts the units a change touched
from congdoan.members.choices import EventKind, MemberStatus, TransferStatus
from congdoan.members.citizen_id import check_citizen_id
from congdoan.members.models import Member, MembershipEvent, TransferRequest
from congdoan.organizations.choices import MEMBER_LEVELS
from congdoan.organizations.models import Unit

EDITABLE_FIELDS = [
    "full_name", "date_of_birth", "gender", "citizen_id", "ethnicity", "religion", "education_level",
    "qualification", "phone", "email", "occupation", "union_position", "joined_on",
]
MIN_AGE = 15


class MemberError(DomainError):
    pass


def _require(actor, action, path):
    if actor is not None and not scoping.can(actor, action, path):
        raise NotFoundInScope()


def _check_member_unit(unit: Unit, field="unit"):
    if not unit.is_active:
        raise MemberError(_("The unit %(unit)s is dissolved or merged; choose an active unit.") % {"unit": unit},
                          code="unit_inactive", field=field)
    if unit.level not in MEMBER_LEVELS:
        raise MemberError(_("Members are registered in a grassroots union, sub-union or union group, not in %(unit)s.") % {"unit": unit},
                          code="unit_level", field=field)


def generate_member_code() -> str:
    """A new nationwide-unique member code: 'DV' and 10 random digits."""
    while True:
        code = "DV" + "".join(secrets.choice("0123456789") for _ in range(10))
        if not Member.objects.filter(code=code).exists():
            return code


def validate_member(member: Member, *, today: datetime.date | None = None):
    """Check one member record; raise MemberError naming the field. Shared by forms, API and import."""
    today = today or timezone.localdate()
    member.full_name = clean_name(member.full_name)
    if not member.full_name:
        raise MemberError(_("The full name is required."), code="required", field="full_name")
    if member.date_of_birth and member.date_of_birth > today:
        raise MemberError(_("The date of birth cannot be in the future."), code="future_date", field="date_of_birth")
    if member.joined_on and member.joined_on > today:
        raise MemberError(_("The date of joining cannot be in the future."), code="future_date", field="joined_on")
    if member.date_of_birth and member.joined_on:
        at_joining = member.joined_on.year - member.date_of_birth.year - (
            (member.joined_on.month, member.joined_on.day) < (member.date_of_birth.month, member.date_of_birth.day))
        if at_joining < MIN_AGE:
            raise MemberError(_("A member must be at least %(age)s years old when joining.") % {"age": MIN_AGE},
                              code="too_young", field="joined_on")
    member.citizen_id = check_citizen_id(member.citizen_id, gender=member.gender, date_of_birth=member.date_of_birth)
    member.name_normalized = normalize_search(member.full_name)
    if Member.objects.filter(citizen_id=member.citizen_id).exclude(pk=member.pk).exists():
        raise MemberError(_("Another member already has the citizen ID %(cid)s.") % {"cid": member.citizen_id},
                          code="duplicate_citizen_id", field="citizen_id")
    if Member.objects.filter(code=member.code).exclude(pk=member.pk).exists():
        raise MemberError(_("The member code %(code)s is already used.") % {"code": member.code},
                          code="duplicate_code", field="code")
    try:
        member.full_clean(exclude=["unit", "user", "name_normalized", "citizen_id", "code"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise MemberError(messages[0], code="invalid", field=field) from exc


def _event(member, kind, *, actor, on, from_unit=None, to_unit=None, reason=""):
    return MembershipEvent.objects.create(member=member, kind=kind, occurred_on=on, from_unit=from_unit,
                                          to_unit=to_unit, reason=reason, actor=actor if getattr(actor, "pk", None) else None)


@transaction.atomic
def member_admit(*, actor, unit: Unit, code: str = "", **fields) -> Member:
    """Admit a member into ``unit`` (kết nạp): the record and its admission event."""
    unit = Unit.objects.get(pk=unit.pk)
    _require(actor, Action.CHANGE, unit.path)
    _check_member_unit(unit)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise MemberError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}, code="invalid")
    member = Member(unit=unit, code=(code or "").strip().upper() or generate_member_code(), **fields)
    validate_member(member)
    member.save()
    _event(member, EventKind.ADMISSION, actor=actor, on=member.joined_on, to_unit=unit)
    refresh_unit_stats([unit.pk])  # dashboard hook
    audit_record(actor=actor, action="member.admitted", obj=member, unit_path=unit.path,
                 changes={f: [None, v] for f, v in snapshot(member, ["code", "full_name", "unit_id", "citizen_id"]).items()})
    return member


def _lock(actor, member, action=Action.CHANGE) -> Member:
    member = Member.objects.select_for_update().select_related("unit").get(pk=member.pk)
    _require(actor, action, member.unit.path)
    return member


@transaction.atomic
def member_update(*, actor, member: Member, **fields) -> Member:
    """Change a member's own data; sensitive values are masked in the audit log."""
    member = _lock(actor, member)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise MemberError(_("These fields cannot be changed here: %(fields)s") % {"fields": ", ".join(sorted(unknown))}, code="invalid")
    before = snapshot(member, list(fields))
    for name, value in fields.items():
        setattr(member, name, value)
    validate_member(member)
    changes = diff(before, snapshot(member, list(fields)))
    if changes:
        member.save(update_fields=[*fields, "name_normalized", "updated_at"])
        refresh_unit_stats([member.unit_id])  # dashboard hook (gender, date of birth)
        audit_record(actor=actor, action="member.updated", obj=member, unit_path=member.unit.path, changes=changes)
    return member


@transaction.atomic
def member_transfer_request(*, actor, member: Member, to_unit: Unit, reason: str = "") -> TransferRequest:
    """The sending unit asks to transfer a member; the receiving unit then accepts or rejects."""
    member = _lock(actor, member)
    to_unit = Unit.objects.get(pk=to_unit.pk)
    if member.status != MemberStatus.ACTIVE:
        raise MemberError(_("Only an active member can be transferred."), code="member_inactive")
    _check_member_unit(to_unit, field="to_unit")
    if to_unit.pk == member.unit_id:
        raise MemberError(_("The member is already in %(unit)s.") % {"unit": to_unit}, code="same_unit", field="to_unit")
    if TransferRequest.objects.filter(member=member, status=TransferStatus.PENDING).exists():
        raise MemberError(_("This member already has a transfer waiting."), code="transfer_pending")
    transfer = TransferRequest.objects.create(member=member, from_unit=member.unit, to_unit=to_unit, reason=reason, requested_by=actor)
    audit_record(actor=actor, action="member.transfer_requested", obj=member, unit_path=member.unit.path,
                 changes={"to_unit_id": [None, to_unit.pk]})
    return transfer


def _lock_transfer(transfer) -> TransferRequest:
    transfer = TransferRequest.objects.select_for_update().select_related("to_unit", "from_unit").get(pk=transfer.pk)
    if transfer.status != TransferStatus.PENDING:
        raise MemberError(_("This transfer has already been decided."), code="transfer_decided")
    return transfer


@transaction.atomic
def member_transfer_accept(*, actor, transfer: TransferRequest, on_date: datetime.date | None = None) -> TransferRequest:
    """The receiving unit accepts: the member moves, with a transfer event."""
    transfer = _lock_transfer(transfer)
    _require(actor, Action.CHANGE, transfer.to_unit.path)
    _check_member_unit(transfer.to_unit, field="to_unit")
    member = Member.objects.select_for_update().get(pk=transfer.member_id)
    if member.status != MemberStatus.ACTIVE or member.unit_id != transfer.from_unit_id:
        raise MemberError(_("The member is no longer active in the sending unit."), code="member_changed")
    on_date = on_date or timezone.localdate()
    member.unit = transfer.to_unit
    member.save(update_fields=["unit", "updated_at"])
    transfer.status, transfer.decided_by, transfer.decided_at = TransferStatus.ACCEPTED, actor, timezone.now()
    transfer.save(update_fields=["status", "decided_by", "decided_at"])
    _event(member, EventKind.TRANSFER, actor=actor, on=on_date, from_unit=transfer.from_unit, to_unit=transfer.to_unit, reason=transfer.reason)
    refresh_unit_stats([transfer.from_unit_id, transfer.to_unit_id])  # dashboard hook
    for path in {transfer.from_unit.path, transfer.to_unit.path}:
        audit_record(actor=actor, action="member.transferred", obj=member, unit_path=path,
                     changes={"unit_id": [transfer.from_unit_id, transfer.to_unit_id]})
    return transfer


@transaction.atomic
def member_transfer_reject(*, actor, transfer: TransferRequest, note: str = "") -> TransferRequest:
    transfer = _lock_transfer(transfer)
    _require(actor, Action.CHANGE, transfer.to_unit.path)
    transfer.status, transfer.decided_by, transfer.decided_at, transfer.decision_note = TransferStatus.REJECTED, actor, timezone.now(), note
    transfer.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(actor=actor, action="member.transfer_rejected", obj=transfer.member, unit_path=transfer.from_unit.path,
                 changes={"to_unit_id": [transfer.to_unit_id, None]})
    return transfer


@transaction.atomic
def member_transfer_cancel(*, actor, transfer: TransferRequest) -> TransferRequest:
    transfer = _lock_transfer(transfer)
    _require(actor, Action.CHANGE, transfer.from_unit.path)
    transfer.status, transfer.decided_by, transfer.decided_at = TransferStatus.CANCELLED, actor, timezone.now()
    transfer.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(actor=actor, action="member.transfer_cancelled", obj=transfer.member, unit_path=transfer.from_unit.path)
    return transfer


_STATUS_CHANGES = {
    # event kind: (allowed current statuses, new status)
    EventKind.SUSPENSION: ({MemberStatus.ACTIVE}, MemberStatus.SUSPENDED),
    EventKind.REINSTATEMENT: ({MemberStatus.SUSPENDED}, MemberStatus.ACTIVE),
    EventKind.LEAVING: ({MemberStatus.ACTIVE, MemberStatus.SUSPENDED}, MemberStatus.LEFT),
    EventKind.DEATH: ({MemberStatus.ACTIVE, MemberStatus.SUSPENDED}, MemberStatus.DECEASED),
}


@transaction.atomic
def member_status_change(*, actor, member: Member, kind: str, reason: str = "", on_date: datetime.date | None = None) -> Member:
    """Suspend, reinstate, record leaving (with a reason) or death."""
    member = _lock(actor, member)
    if kind not in _STATUS_CHANGES:
        raise MemberError(_("Unknown change."), code="invalid", field="kind")
    allowed, new_status = _STATUS_CHANGES[kind]
    if member.status not in allowed:
        raise MemberError(_("This change is not possible for a member whose status is “%(status)s”.") % {"status": member.get_status_display()},
                          code="status_not_allowed", field="kind")
    if kind in (EventKind.SUSPENSION, EventKind.LEAVING) and not reason.strip():
        raise MemberError(_("Give a reason."), code="reason_required", field="reason")
    on_date = on_date or timezone.localdate()
    if on_date > timezone.localdate():
        raise MemberError(_("The date cannot be in the future."), code="future_date", field="on_date")
    old = member.status
    member.status = new_status
    member.save(update_fields=["status", "updated_at"])
    TransferRequest.objects.filter(member=member, status=TransferStatus.PENDING).update(status=TransferStatus.CANCELLED, decided_at=timezone.now())
    _event(member, kind, actor=actor, on=on_date, from_unit=member.unit, reason=reason.strip())
    refresh_unit_stats([member.unit_id])  # dashboard hook
    audit_record(actor=actor, action=f"member.{kind}", obj=member, unit_path=member.unit.path, changes={"status": [old, new_status]})
    return member


def members_close_for_unit(*, actor, unit: Unit, on_date, reason) -> int:
    """Members of a dissolved unit leave, each with a leaving event. Runs inside unit_dissolve."""
    members = list(Member.objects.filter(unit=unit, status__in=[MemberStatus.ACTIVE, MemberStatus.SUSPENDED]).only("pk", "unit_id"))
    MembershipEvent.objects.bulk_create(
        [MembershipEvent(member=m, kind=EventKind.LEAVING, occurred_on=on_date, from_unit=unit, reason=reason,
                         actor=actor if getattr(actor, "pk", None) else None) for m in members],
        batch_size=1000,
    )
    TransferRequest.objects.filter(member__unit=unit, status=TransferStatus.PENDING).update(status=TransferStatus.CANCELLED, decided_at=timezone.now())
    Member.objects.filter(pk__in=[m.pk for m in members]).update(status=MemberStatus.LEFT, updated_at=timezone.now())
    refresh_unit_stats([unit.pk])  # dashboard hook
    return len(members)


def members_move_for_merge(*, actor, unit: Unit, into: Unit, on_date) -> int:
    """Members of a merged unit move to the unit it merged into, each with an event."""
    members = list(Member.objects.filter(unit=unit).exclude(status__in=[MemberStatus.LEFT, MemberStatus.DECEASED]).only("pk"))
    MembershipEvent.objects.bulk_create(
        [MembershipEvent(member=m, kind=EventKind.MERGE, occurred_on=on_date, from_unit=unit, to_unit=into,
                         actor=actor if getattr(actor, "pk", None) else None) for m in members],
        batch_size=1000,
    )
    TransferRequest.objects.filter(member__unit=unit, status=TransferStatus.PENDING).update(status=TransferStatus.CANCELLED, decided_at=timezone.now())
    Member.objects.filter(pk__in=[m.pk for m in members]).update(unit=into, updated_at=timezone.now())
    refresh_unit_stats([unit.pk, into.pk])  # dashboard hook
    return len(members)


@transaction.atomic
def member_account_issue(*, actor, member: Member, password: str):
    """Give a member his own login (digital identity): username = member code."""
    from congdoan.accounts.services import user_create

    member = _lock(actor, member)
    if member.user_id:
        raise MemberError(_("This member already has an account."), code="account_exists")
    user = user_create(actor=actor, username=member.code, password=password, full_name=member.full_name, email=member.email)
    member.user = user
    member.save(update_fields=["user", "updated_at"])
    audit_record(actor=actor, action="member.account_issued", obj=member, unit_path=member.unit.path, changes={"user_id": [None, user.pk]})
    return user
