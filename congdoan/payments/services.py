"""Payments: bank accounts and layouts, the reconciliation queue by hand, cash receipts.
The statement import pipeline is in importing.py (re-exported at the bottom of this module).

Every state change is one function (keyword-only, explicit ``actor``, atomic, audited); pages,
tasks, commands and tests call the same functions.
"""

import codecs
import datetime
import logging

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.core import scoping
from congdoan.core.errors import DomainError, NotFoundInScope
from congdoan.members.models import Member
from congdoan.organizations.models import Unit
from congdoan.payments import ledger
from congdoan.payments.choices import SOURCE_OF_PAYER, LineStatus, MatchedBy, PayerKind
from congdoan.payments.errors import PaymentError
from congdoan.payments.matching import Payer, Resolver, normalize_key
from congdoan.payments.models import Allocation, BankAccount, BankLayout, BankTransaction, CashReceipt, ReceiptSequence

log = logging.getLogger(__name__)

#: months ahead of the payment that an accountant may allocate it to (prepaid dues or fees)
MAX_MONTHS_AHEAD = 12


def _month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def _require(actor, path: str) -> None:
    if not scoping.can(actor, Action.FINANCE, path):
        raise NotFoundInScope()


# -- bank accounts and layouts ----------------------------------------------------------------
@transaction.atomic
def bank_account_create(*, actor, unit: Unit, bank_name: str, account_number: str, layout: BankLayout | None = None) -> BankAccount:
    """Register a unit's collection account; statements are imported into it."""
    unit = Unit.objects.get(pk=unit.pk)
    _require(actor, unit.path)
    if not unit.is_active:
        raise PaymentError(_("The unit %(unit)s is not active.") % {"unit": unit}, code="unit_dissolved", field="unit")
    account_number = "".join((account_number or "").split())
    bank_name = " ".join((bank_name or "").split())
    if not account_number or not bank_name:
        raise PaymentError(_("Give the bank and the account number."), code="required", field="account_number")
    if BankAccount.objects.filter(bank_name__iexact=bank_name, account_number=account_number).exists():
        raise PaymentError(_("This account is already registered."), code="duplicate_account", field="account_number")
    account = BankAccount.objects.create(unit=unit, bank_name=bank_name, account_number=account_number, layout=layout)
    audit_record(actor=actor, action="payments.account_created", obj=account, unit_path=unit.path,
                 changes={"bank_name": [None, bank_name], "account_number": [None, account_number]})
    return account


def may_edit_layouts(actor) -> bool:
    """Layouts serve the whole country: only the national level's finance officials edit them."""
    return any(len(p) == 4 for p in scoping.granted_paths(actor, Action.FINANCE))


@transaction.atomic
def bank_layout_save(*, actor, layout: BankLayout) -> BankLayout:
    """Create or change a bank's statement layout (national finance officials only)."""
    if not may_edit_layouts(actor):
        raise NotFoundInScope()
    created = layout.pk is None
    for name in ("date_column", "amount_column", "debit_column", "description_column", "transaction_id_column", "payer_column"):
        setattr(layout, name, " ".join((getattr(layout, name) or "").split()))
    try:
        codecs.lookup(layout.encoding or "utf-8")
    except LookupError as exc:
        raise PaymentError(_("Unknown encoding."), code="layout_encoding", field="encoding") from exc
    try:
        datetime.datetime.strptime(datetime.date(2025, 12, 31).strftime(layout.date_format), layout.date_format)
    except ValueError as exc:
        raise PaymentError(_("This date format cannot be read back."), code="layout_date_format", field="date_format") from exc
    layout.full_clean()
    layout.save()
    audit_record(actor=actor, action="payments.layout_created" if created else "payments.layout_changed", obj=layout,
                 unit_path="", changes={"name": [None, layout.name]})
    return layout


# -- finding a payer by hand --------------------------------------------------------------------
def payer_find(*, actor, key: str) -> Payer:
    """The one payer in the actor's finance scope whose payment reference, tax code or member code is ``key``."""
    normalized = normalize_key(key)
    if not normalized:
        raise PaymentError(_("Give a payment reference, a tax code or a member code."), code="required", field="payer")
    resolver = Resolver()
    resolver.resolve([normalized])
    payers = resolver.payers_of([normalized])
    paths = dict(Unit.objects.filter(pk__in={p.unit_id for p in payers}).values_list("pk", "path"))
    payers = {p for p in payers if scoping.can(actor, Action.FINANCE, paths.get(p.unit_id, "~"))}
    if not payers:
        raise PaymentError(_("No employer or member of your units has the reference, tax code or member code %(key)s.") % {
            "key": key}, code="payer_not_found", field="payer")
    if len(payers) > 1:
        raise PaymentError(_("%(key)s matches more than one payer: use the payment reference or the member code.") % {
            "key": key}, code="ambiguous", field="payer")
    return next(iter(payers))


def payer_label(kind: str, payer_id: int) -> str:
    if kind == PayerKind.MEMBER:
        member = Member.objects.filter(pk=payer_id).select_related("unit").first()
        return f"{member.full_name} ({member.code}) · {member.unit.name}" if member else "?"
    unit = Unit.objects.filter(pk=payer_id).first()
    return f"{unit.employer_name or unit.name} · {unit.employer_tax_code}" if unit else "?"


def payer_key(kind: str, payer_id: int) -> str:
    """What to type to find this payer again: the member code, or the employer's tax code."""
    if kind == PayerKind.MEMBER:
        return Member.objects.filter(pk=payer_id).values_list("code", flat=True).first() or ""
    return Unit.objects.filter(pk=payer_id).values_list("employer_tax_code", flat=True).first() or ""


def _check_payer(payer: Payer) -> Unit:
    unit = Unit.objects.get(pk=payer.unit_id)
    if not unit.is_active:
        merged = f" {_('It was merged into %(unit)s.') % {'unit': unit.merged_into}}" if unit.merged_into_id else ""
        raise PaymentError(_("The union %(unit)s is dissolved or merged: a payment to it cannot be recorded. Match it to "
                             "the union that took over, or mark it for return.") % {"unit": unit} + merged,
                           code="unit_dissolved", field="payer")
    return unit


def _check_parts(parts, total: int, paid_on: datetime.date) -> list[tuple[datetime.date, int]]:
    if not parts:
        raise PaymentError(_("Give at least one month and amount."), code="required", field="parts")
    months = set()
    checked = []
    latest = _add_months(_month(paid_on), MAX_MONTHS_AHEAD)
    for period, amount in parts:
        period = _month(period)
        if period in months:
            raise PaymentError(_("The month %(month)s appears twice.") % {"month": period.strftime("%m/%Y")},
                               code="duplicate_month", field="parts")
        if period > latest:
            raise PaymentError(_("A payment can be allocated at most %(n)s months ahead.") % {"n": MAX_MONTHS_AHEAD},
                               code="month_too_far", field="parts")
        if not isinstance(amount, int) or amount <= 0:
            raise PaymentError(_("Each part must be an amount greater than zero."), code="amount_zero", field="parts")
        months.add(period)
        checked.append((period, amount))
    allocated = sum(a for _, a in checked)
    if allocated != total:
        raise PaymentError(_("The parts add up to %(parts)s đ but the payment is %(total)s đ.") % {
            "parts": f"{allocated:,}".replace(",", "."), "total": f"{total:,}".replace(",", ".")},
                           code="split_total", field="parts")
    return sorted(checked)


def _check_open(unit: Unit, day: datetime.date) -> None:
    if ledger.is_month_closed(unit.pk, day):
        raise PaymentError(_("The month %(month)s is closed in the books of %(unit)s. Choose a posting date in an open "
                             "month.") % {"month": day.strftime("%m/%Y"), "unit": unit}, code="month_closed", field="paid_on")


# -- the reconciliation queue ------------------------------------------------------------------
def _line_for_update(actor, line) -> BankTransaction:
    line = (BankTransaction.objects.select_for_update(of=("self",)) if connection.features.has_select_for_update_of
            else BankTransaction.objects.select_for_update()).select_related("bank_account__unit").get(pk=line.pk)
    _require(actor, line.bank_account.unit.path)
    return line


@transaction.atomic
def line_allocate(*, actor, line: BankTransaction, payer: Payer, parts, paid_on: datetime.date | None = None) -> list[Allocation]:
    """Match a queued line by hand to one payer, over one month or split over several.

    ``parts`` is [(month, amount)]; the amounts must add up to the line's amount exactly.
    ``paid_on`` is the posting date (the bank date unless that month is closed).
    """
    line = _line_for_update(actor, line)
    if line.status != LineStatus.UNMATCHED:
        raise PaymentError(_("This line is no longer waiting in the queue."), code="not_queued")
    unit = _check_payer(payer)
    _require(actor, unit.path)
    paid_on = paid_on or line.booked_on
    if paid_on < line.booked_on:
        raise PaymentError(_("The posting date cannot be before the bank date."), code="date_before_payment", field="paid_on")
    _check_open(unit, paid_on)
    checked = _check_parts(parts, line.amount, paid_on)
    allocations = []
    for index, (period, amount) in enumerate(checked, start=1):
        allocations.append(Allocation.objects.create(
            transaction=line, payer_kind=payer.kind, unit=unit, member_id=payer.id if payer.kind == PayerKind.MEMBER else None,
            source=SOURCE_OF_PAYER[payer.kind], period=period, paid_on=paid_on, amount=amount,
            part=index, matched_by=MatchedBy.HAND))
    before = {"status": line.status, "reason": line.reason}
    line.status, line.reason, line.reason_detail = LineStatus.MATCHED, "", ""
    line.matched_by, line.decided_by, line.decided_at = MatchedBy.HAND, actor, timezone.now()
    line.save(update_fields=["status", "reason", "reason_detail", "matched_by", "decided_by", "decided_at"])
    _post_now(actor, allocations)
    audit_record(actor=actor, action="payments.line_matched", obj=line, unit_path=line.bank_account.unit.path, changes={
        "status": [before["status"], line.status], "reason": [before["reason"], ""], "payer": f"{payer.kind}:{payer.id}",
        "parts": [[p.isoformat(), a] for p, a in checked], "paid_on": paid_on.isoformat()})
    return allocations


def _post_now(actor, allocations) -> None:
    """Post inside the caller's transaction: if the ledger refuses, nothing of the match stays."""
    for allocation in allocations:
        try:
            ledger.post_receipt(actor=actor, allocation=allocation)
        except ledger.LedgerUnavailable:
            return  # posted later by the periodic task
        allocation.posted_at = timezone.now()
        allocation.save(update_fields=["posted_at"])


@transaction.atomic
def line_mark_return(*, actor, line: BankTransaction, reason: str) -> BankTransaction:
    """Mark a queued line to be paid back to the sender (not ours, paid twice, unit dissolved…)."""
    line = _line_for_update(actor, line)
    if line.status != LineStatus.UNMATCHED:
        raise PaymentError(_("This line is no longer waiting in the queue."), code="not_queued")
    reason = " ".join((reason or "").split())
    if not reason:
        raise PaymentError(_("Say why the payment is returned."), code="reason_required", field="reason")
    line.status, line.reason_detail = LineStatus.TO_RETURN, reason[:255]
    line.decided_by, line.decided_at = actor, timezone.now()
    line.save(update_fields=["status", "reason_detail", "decided_by", "decided_at"])
    audit_record(actor=actor, action="payments.line_to_return", obj=line, unit_path=line.bank_account.unit.path,
                 changes={"status": [LineStatus.UNMATCHED, LineStatus.TO_RETURN], "reason": reason[:255]})
    return line


# -- cash receipts ----------------------------------------------------------------------------------
def _next_number(unit: Unit, year: int) -> int:
    sequence, _ = ReceiptSequence.objects.select_for_update().get_or_create(unit=unit, year=year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return sequence.last


@transaction.atomic
def cash_receipt_create(*, actor, unit: Unit, payer: Payer, payer_name: str, paid_on: datetime.date, parts,
                        note: str = "") -> CashReceipt:
    """Record cash paid at ``unit``'s office and number its receipt PT-<unit code>-<year>-<seq>.

    The sequence row of the unit and year is locked while numbering, so numbers have no gap
    and none is used twice; if anything fails, the number is not used either.
    """
    unit = Unit.objects.get(pk=unit.pk)
    _require(actor, unit.path)
    if not unit.is_active:
        raise PaymentError(_("The unit %(unit)s is not active.") % {"unit": unit}, code="unit_dissolved", field="unit")
    payer_unit = _check_payer(payer)
    _require(actor, payer_unit.path)
    if not payer_unit.path.startswith(unit.path):
        raise PaymentError(_("The payer does not belong to %(unit)s or a unit below it.") % {"unit": unit},
                           code="payer_outside_unit", field="payer")
    if paid_on > timezone.localdate():
        raise PaymentError(_("The date paid cannot be in the future."), code="future_date", field="paid_on")
    payer_name = " ".join((payer_name or "").split())
    if not payer_name:
        raise PaymentError(_("Write who paid."), code="required", field="payer_name")
    total = sum(a for _, a in parts) if parts else 0
    checked = _check_parts(parts, total, paid_on)
    _check_open(payer_unit, paid_on)
    seq = _next_number(unit, paid_on.year)
    receipt = CashReceipt.objects.create(unit=unit, year=paid_on.year, seq=seq, number=f"PT-{unit.code}-{paid_on.year}-{seq:06d}",
                                         payer_name=payer_name[:200], amount=total, paid_on=paid_on, note=(note or "")[:255],
                                         created_by=actor)
    allocations = [Allocation.objects.create(
        cash_receipt=receipt, payer_kind=payer.kind, unit=payer_unit, member_id=payer.id if payer.kind == PayerKind.MEMBER else None,
        source=SOURCE_OF_PAYER[payer.kind], period=period, paid_on=paid_on, amount=amount,
        part=index, matched_by=MatchedBy.CASH) for index, (period, amount) in enumerate(checked, start=1)]
    _post_now(actor, allocations)
    audit_record(actor=actor, action="payments.cash_receipt_created", obj=receipt, unit_path=unit.path, changes={
        "number": [None, receipt.number], "amount": [None, total], "payer": f"{payer.kind}:{payer.id}",
        "parts": [[p.isoformat(), a] for p, a in checked]})
    return receipt


# the statement import pipeline lives in importing.py; pages, tasks and tests call it from here too
from congdoan.payments.importing import (  # noqa: E402
    allocations_post, pending_post, statement_import_create, statement_import_run,
)

__all__ = [
    "PaymentError", "NotFoundInScope", "DomainError", "allocations_post", "pending_post", "statement_import_create",
    "statement_import_run",
]
