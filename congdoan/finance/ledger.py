"""The ledger: balanced transactions in whole đồng, receipts split between levels, reversals, closed months.

Every unit above sub-union level keeps its own books (``models.Account``); a transaction's entries
balance for each unit it touches, a closed month takes no posting, and nothing is changed nor deleted:
a mistake is undone by ``transaction_reverse``. Pages, payments (``receipt_post``), budgets
(``ledger_post``), tasks and tests call these functions; ``services`` re-exports them.
"""

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.finance import selectors
from congdoan.finance.choices import (
    BP, REVENUE_ACCOUNT_OF, SHARE_LEVELS, AccountCode, PayerKind, RuleKind, Source, TransactionKind, base_code,
)
from congdoan.finance.errors import FinanceError
from congdoan.finance.models import Account, AccountBalance, Entry, Period, Receipt, Transaction
from congdoan.finance.money import add_months, largest_remainder, month_end, month_start, months_between, vnd
from congdoan.finance.references import parse_reference
from congdoan.finance.rules import RuleBook, unit_rate_on, unit_rates
from congdoan.organizations.choices import Level
from congdoan.organizations.models import Unit


def _require(actor, path: str) -> None:
    if actor is not None and not scoping.can(actor, Action.FINANCE, path):
        raise NotFoundInScope()


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _month_text(day: datetime.date) -> str:
    return day.strftime("%m/%Y")



def _month(value, field: str) -> datetime.date:
    if not isinstance(value, datetime.date):
        raise FinanceError(_("Give the month (mm/yyyy)."), code="month_required", field=field)
    return month_start(value)



def refusal(reason: str, **params) -> FinanceError:
    """The ledger's refusal of a posting, with its one message: ``receipt_post``, ``_post`` and the bulk path
    (``bulk.receipts_post_bulk``) say no in the same words. ``reason`` is the error code, or one of the
    variants "books_dissolved", "transaction_date_required", "payer_mismatch_employer" and
    "payer_mismatch_member" (codes unit_dissolved, date_required and payer_mismatch)."""
    if reason == "external_id_conflict":
        return FinanceError(_("The reference %(id)s was already posted with other figures.") % {"id": params["id"]},
                            code="external_id_conflict")
    if reason == "external_id_required":
        return FinanceError(_("A receipt needs the identifier of the payment."), code="external_id_required")
    if reason == "amount_not_positive":
        return FinanceError(_("The amount must be a whole number of đồng greater than zero."), code="amount_not_positive",
                            field="amount")
    if reason == "source_unknown":
        return FinanceError(_("Unknown source of money."), code="source_unknown", field="source")
    if reason == "date_required":
        return FinanceError(_("Give the date of the payment."), code="date_required", field="paid_on")
    if reason == "transaction_date_required":
        return FinanceError(_("Give the date of the transaction."), code="date_required", field="date")
    if reason == "not_grassroots":
        return FinanceError(_("Union fees and dues are received by a grassroots union; %(unit)s is not one.") % {
            "unit": params["unit"]}, code="not_grassroots", field="unit")
    if reason == "unit_dissolved":
        return FinanceError(_("%(unit)s is dissolved or merged: a payment to it cannot be recorded.") % {"unit": params["unit"]},
                            code="unit_dissolved", field="unit")
    if reason == "books_dissolved":
        return FinanceError(_("%(unit)s is dissolved or merged: nothing can be posted in its books.") % {"unit": params["unit"]},
                            code="unit_dissolved", field="unit")
    if reason == "payer_mismatch_employer":
        return FinanceError(_("The reference %(ref)s belongs to another employer.") % {"ref": params["ref"]}, code="payer_mismatch")
    if reason == "payer_mismatch_member":
        return FinanceError(_("The reference %(ref)s belongs to a member of another union.") % {"ref": params["ref"]},
                            code="payer_mismatch")
    if reason == "no_share_rule":
        return FinanceError(_("No rule sets the shares of %(source)s on %(date)s.") % {
            "source": Source(params["source"]).label, "date": params["date"].strftime("%d/%m/%Y")}, code="no_share_rule")
    if reason == "future_date":
        return FinanceError(_("A transaction cannot be dated in the future."), code="future_date", field="date")
    if reason == "period_closed":
        return FinanceError(_("The month %(month)s is closed in the books of %(unit)s: post it in an open month.") % {
            "month": _month_text(params["month"]), "unit": params["unit"]}, code="period_closed", field="date")
    raise ValueError(f"unknown refusal {reason!r}")


@dataclass
class Line:
    """One line to post: ``debit`` or ``credit`` (đồng) of the account ``account`` (an AccountCode)
    in the books of ``unit`` (the transaction's unit when None)."""

    account: str
    debit: int = 0
    credit: int = 0
    unit: Unit | None = None


def _as_lines(lines, default_unit: Unit) -> list[Line]:
    result = []
    for line in lines:
        if isinstance(line, Line):
            found = line
        elif isinstance(line, dict):
            found = Line(account=line.get("account"), debit=line.get("debit", 0), credit=line.get("credit", 0), unit=line.get("unit"))
        else:
            found = Line(*line)
        if found.unit is None:
            found.unit = default_unit
        result.append(found)
    return result


def _check_lines(lines: list[Line]) -> int:
    """Check the lines and return the total of the debits; raise on anything unbalanced."""
    if len(lines) < 2:
        raise FinanceError(_("A transaction has at least two lines."), code="too_few_lines", field="lines")
    per_unit: dict[int, list[int]] = {}
    for line in lines:
        if not isinstance(line.account, str) or base_code(line.account) is None:
            raise FinanceError(_("Unknown account %(code)s.") % {"code": line.account}, code="account_unknown", field="lines")
        if not (_is_int(line.debit) and _is_int(line.credit)) or line.debit < 0 or line.credit < 0 or (line.debit > 0) == (line.credit > 0):
            raise FinanceError(_("Each line is a debit or a credit of a whole number of đồng greater than zero, never both."),
                               code="line_amount", field="lines")
        sums = per_unit.setdefault(line.unit.pk, [0, 0])
        sums[0] += line.debit
        sums[1] += line.credit
    for debit, credit in per_unit.values():
        if debit != credit:
            raise FinanceError(_("The transaction does not balance: debits %(debit)s, credits %(credit)s.") % {
                "debit": vnd(debit), "credit": vnd(credit)}, code="unbalanced", field="lines")
    return sum(d for d, _c in per_unit.values())


def _lock_units(unit_ids, *, exclusive: bool = False) -> None:
    """Posting shares a lock on the units it touches; closing a month takes it alone, so a month cannot
    close in the middle of a posting (PostgreSQL; SQLite writes one at a time anyway)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM organizations_unit WHERE id = ANY(%s) ORDER BY id {'FOR UPDATE' if exclusive else 'FOR SHARE'}",
                       [sorted(unit_ids)])


def _accounts(pairs) -> dict[tuple[int, str], Account]:
    """{(unit id, code): Account} for the pairs, creating the accounts not used before."""
    pairs = set(pairs)
    unit_ids = {u for u, _c in pairs}
    wanted = Account.objects.filter(unit_id__in=unit_ids, code__in={c for _u, c in pairs}).order_by()
    found = {(a.unit_id, a.code): a for a in wanted}
    missing = [Account(unit_id=u, code=c) for u, c in pairs if (u, c) not in found]
    if missing:
        Account.objects.bulk_create(missing, ignore_conflicts=True)
        found = {(a.unit_id, a.code): a for a in wanted.all()}
    return found


def _existing(external_id, *, unit, date, kind, amount) -> Transaction | None:
    if not external_id:
        return None
    found = next(iter(Transaction.objects.filter(external_id=external_id).order_by()[:1]), None)
    if found is None:
        return None
    if (found.unit_id, found.date, found.kind, found.amount) != (unit.pk, date, kind, amount):
        raise refusal("external_id_conflict", id=external_id)
    return found


def _post(*, actor, unit: Unit, date: datetime.date, lines: list[Line], memo: str, external_id: str | None, kind: str,
          reverses: Transaction | None = None, checked_new: bool = False) -> Transaction:
    """Post balanced lines (already checked for scope); inside the caller's transaction."""
    if not isinstance(date, datetime.date) or isinstance(date, datetime.datetime):
        raise refusal("transaction_date_required")
    if date > timezone.localdate():
        raise refusal("future_date")
    total = _check_lines(lines)
    existing = None if checked_new else _existing(external_id, unit=unit, date=date, kind=kind, amount=total)
    if existing:
        return existing
    units = {line.unit.pk: line.unit for line in lines}
    units[unit.pk] = unit
    _lock_units(units)
    for touched in units.values():
        if not touched.is_active:
            raise refusal("books_dissolved", unit=touched)
    month = month_start(date)
    closed = next(iter(Period.objects.filter(unit_id__in=list(units), month=month).values_list("unit_id", flat=True).order_by()[:1]), None)
    if closed:
        raise refusal("period_closed", month=month, unit=units[closed])
    accounts = _accounts((line.unit.pk, line.account) for line in lines)
    txn = Transaction(unit=unit, date=date, kind=kind, memo=(memo or "")[:255], external_id=external_id or None,
                      reverses=reverses, amount=total, created_by=actor if getattr(actor, "pk", None) else None)
    try:
        with transaction.atomic():
            txn.save()
    except IntegrityError:
        # posted meanwhile by another worker with the same external id (or the reversal by another click)
        again = _existing(external_id, unit=unit, date=date, kind=kind, amount=total)
        if again:
            return again
        raise FinanceError(_("This transaction is already reversed."), code="already_reversed") from None
    Entry.objects.bulk_create([
        Entry(transaction=txn, account=accounts[(line.unit.pk, line.account)], unit_id=line.unit.pk, date=date,
              debit=line.debit, credit=line.credit) for line in lines])
    txn.just_posted = True
    return txn


@transaction.atomic
def ledger_post(*, actor, unit: Unit, date: datetime.date, lines, memo: str = "", external_id: str | None = None,
                kind: str = TransactionKind.MANUAL) -> Transaction:
    """Post a balanced transaction in ``unit``'s books (and, for lines naming another unit, in theirs).

    ``lines``: ``Line`` objects, dicts {"account", "debit", "credit", "unit"} or tuples (account, debit,
    credit[, unit]); amounts are whole đồng, each line a debit or a credit. Debits must equal credits
    for every unit. The actor must keep the books of every unit touched. ``external_id`` makes the call
    idempotent: the same id again returns the first transaction (other figures: ``external_id_conflict``).
    Receipts go through ``receipt_post`` and reversals through ``transaction_reverse``.

    Errors (FinanceError codes): too_few_lines, account_unknown, line_amount, unbalanced, date_required,
    future_date, period_closed, unit_dissolved, external_id_conflict, kind_reserved.
    """
    if kind not in TransactionKind.values or kind in (TransactionKind.RECEIPT, TransactionKind.RECEIPTS, TransactionKind.REVERSAL):
        raise FinanceError(_("Receipts and reversals have their own functions."), code="kind_reserved", field="kind")
    unit = Unit.objects.get(pk=unit.pk)
    _require(actor, unit.path)
    checked = _as_lines(lines, unit)
    others = {line.unit.pk for line in checked} - {unit.pk}
    if others:
        fresh = {u.pk: u for u in Unit.objects.filter(pk__in=others)}
        for line in checked:
            if line.unit.pk != unit.pk:
                line.unit = fresh[line.unit.pk]
                _require(actor, line.unit.path)
    else:
        for line in checked:
            line.unit = unit
    txn = _post(actor=actor, unit=unit, date=date, lines=checked, memo=memo, external_id=external_id, kind=kind)
    if getattr(txn, "just_posted", False):
        audit_record(actor=actor, action="finance.transaction_posted", obj=txn, unit_path=unit.path,
                     changes={"kind": kind, "date": date.isoformat() if isinstance(date, datetime.date) else None,
                              "amount": txn.amount, "external_id": external_id})
    return txn


def _upper_units(book: Unit) -> dict[str, Unit]:
    """{level: unit} of the units above a grassroots union that keep a share (upper-grassroots, province, national)."""
    return {u.level: u for u in Unit.objects.filter(path__in=tree.ancestors_of(book.path))}


def split_weights(*, source: str, shares: dict[str, int], own_rate_bp: int = 0, general_rate_bp: int = 0) -> list[tuple[str, int]]:
    """[(level, weight)] by which a receipt is split, grassroots first.

    The weights are the shares in force; for dues at a union with its own higher rate, the general-rate
    part is split by the shares and the extra (own − general rate) goes to the grassroots union:
    weight of a level = share × general rate, plus (own − general) × 10,000 for the grassroots union.
    """
    if source == Source.DUES and own_rate_bp > general_rate_bp > 0:
        weights = [(level, shares.get(level, 0) * general_rate_bp) for level in SHARE_LEVELS]
        weights[0] = (Level.GRASSROOTS, weights[0][1] + (own_rate_bp - general_rate_bp) * BP)
        return weights
    return [(level, shares.get(level, 0)) for level in SHARE_LEVELS]


def receipt_split(amount: int, weights: list[tuple[str, int]], units: dict[str, Unit]) -> dict[int, int]:
    """{unit id: part} of a receipt: the weights of levels missing above the union pass to the next level
    up (a grassroots union directly under a province: the province takes the upper-grassroots share)."""
    merged = merge_missing_levels(weights, set(units))
    return largest_remainder(amount, [(units[level].pk, weight) for level, weight in merged])


def merge_missing_levels(weights: list[tuple[str, int]], present: set[str]) -> list[tuple[str, int]]:
    """[(level, weight)] of the levels present, grassroots first: the weight of a level missing above the
    union is carried to the next level up that is present (to the last one when none is above it)."""
    merged: list[list] = []
    carried = 0
    for level, weight in weights:
        if level not in present:
            carried += weight
            continue
        merged.append([level, weight + carried])
        carried = 0
    if carried:
        if not merged:
            raise FinanceError(_("No unit can take the shares of this receipt."), code="no_share_unit")
        merged[-1][1] += carried
    return [(level, weight) for level, weight in merged]


def _payer(reference: str, source: str, book: Unit):
    """(payer kind, member or None) named by a payment reference, checked against the receiving union."""
    from congdoan.members.models import Member

    parsed = parse_reference(reference or "")
    if parsed is None:
        return (PayerKind.EMPLOYER if source == Source.UNION_FEE else PayerKind.MEMBER), None
    kind, payer_id = parsed
    if kind == PayerKind.EMPLOYER:
        if payer_id != book.pk:
            raise refusal("payer_mismatch_employer", ref=reference)
        return kind, None
    member = Member.objects.select_related("unit").filter(pk=payer_id).first()
    if member is None or not member.unit.path.startswith(book.path):
        raise refusal("payer_mismatch_member", ref=reference)
    return kind, member


def _receipt_posted(external_id: str) -> Receipt | None:
    return next(iter(Receipt.objects.filter(external_id=external_id).select_related("transaction").order_by()[:1]), None)


@transaction.atomic
def receipt_post(*, actor, unit: Unit, source: str, payer_reference: str, amount: int, paid_on: datetime.date, external_id: str,
                 period: datetime.date | None = None) -> Transaction:
    """Post money received for a grassroots union (``unit``, or the union above a sub-union) and split it
    between the levels by the shares in force on ``paid_on`` (largest remainder: the parts add up to
    ``amount`` exactly). Idempotent by ``external_id``: the same receipt again returns its transaction.

    In the union's books: debit bank (cash when ``external_id`` starts with "cash:") by the amount, credit
    its revenue by its share and "payable to upper levels" by the rest; in each upper level's books:
    debit "receivable from lower levels", credit revenue, by its share. ``period`` is the month paid for
    (default: the month of ``paid_on``). Called by payments for every matched allocation.
    """
    existing = _receipt_posted(external_id) if external_id else None
    if existing is not None:
        if existing.amount != amount or existing.source != source:
            raise refusal("external_id_conflict", id=external_id)
        return existing.transaction
    if not external_id:
        raise refusal("external_id_required")
    if not _is_int(amount) or amount <= 0:
        raise refusal("amount_not_positive")
    if source not in Source.values:
        raise refusal("source_unknown")
    if not isinstance(paid_on, datetime.date):
        raise refusal("date_required")
    unit = Unit.objects.get(pk=unit.pk)
    book = selectors.book_unit_of(unit)
    if book.level != Level.GRASSROOTS:
        raise refusal("not_grassroots", unit=book)
    if not unit.is_active or not book.is_active:
        raise refusal("unit_dissolved", unit=unit)
    _require(actor, book.path)
    payer_kind, member = _payer(payer_reference, source, book)
    rules = RuleBook()
    shares = rules.shares(source, paid_on)
    if not shares.get(Level.GRASSROOTS):
        raise refusal("no_share_rule", source=source, date=paid_on)
    own = general = 0
    if source == Source.DUES:
        own = unit_rate_on(unit_rates([book.pk]), book.pk, month_start(paid_on))
        general = rules.value(RuleKind.DUES_RATE, month_start(paid_on), default=0)
    uppers = _upper_units(book)
    levels = {Level.GRASSROOTS: book, **{level: uppers[level] for level in SHARE_LEVELS[1:] if level in uppers}}
    parts = receipt_split(amount, split_weights(source=source, shares=shares, own_rate_bp=own, general_rate_bp=general), levels)
    revenue = REVENUE_ACCOUNT_OF[source]
    kept = parts.get(book.pk, 0)
    money = AccountCode.CASH if external_id.startswith("cash:") else AccountCode.BANK
    lines = [Line(money, debit=amount, unit=book)]
    if kept:
        lines.append(Line(revenue, credit=kept, unit=book))
    if amount - kept:
        lines.append(Line(AccountCode.PAYABLE_UPPER, credit=amount - kept, unit=book))
    by_id = {u.pk: u for u in levels.values()}
    for unit_id, part in parts.items():
        if unit_id != book.pk and part:
            lines += [Line(AccountCode.RECEIVABLE_LOWER, debit=part, unit=by_id[unit_id]), Line(revenue, credit=part, unit=by_id[unit_id])]
    period = month_start(period or paid_on)
    memo = f"{Source(source).label} {_month_text(period)} · {payer_reference or book.code}"
    uppers_parts = [(by_id[unit_id], part) for unit_id, part in parts.items() if unit_id != book.pk]
    uppers_parts += [(None, 0)] * (3 - len(uppers_parts))
    try:
        with transaction.atomic():  # the transaction and its receipt, or neither
            # the receipt's external id was looked up above: no need to look for its transaction again
            txn = _post(actor=actor, unit=book, date=paid_on, lines=lines, memo=memo, external_id=external_id,
                        kind=TransactionKind.RECEIPT, checked_new=True)
            if getattr(txn, "just_posted", False):
                Receipt.objects.create(external_id=external_id, transaction=txn, unit=book, payer_kind=payer_kind, member=member,
                                       source=source, amount=amount, paid_on=paid_on, period=period, part_0=kept,
                                       **{f"{name}_{i}": value for i, pair in enumerate(uppers_parts, start=1)
                                          for name, value in zip(("unit", "part"), pair)})
    except IntegrityError:
        # posted meanwhile by a bulk posting (a summary transaction holds it): that one stands, ours is undone
        existing = _receipt_posted(external_id)
        if existing is None:
            raise
        if existing.amount != amount or existing.source != source:
            raise refusal("external_id_conflict", id=external_id) from None
        return existing.transaction
    return txn


@transaction.atomic
def transaction_reverse(*, actor, transaction: Transaction, date: datetime.date | None = None, memo: str = "") -> Transaction:
    """Cancel a transaction by posting its opposite (debits and credits swapped) on ``date`` (today by
    default), in an open month. A transaction is reversed at most once; a reversal is not reversed
    (post the entry again instead). A reversed receipt no longer counts as paid."""
    original = Transaction.objects.select_related("unit").get(pk=transaction.pk)
    _require(actor, original.unit.path)
    _lock_transaction(original)
    if original.kind == TransactionKind.REVERSAL:
        raise _reversal_of_reversal()
    if Transaction.objects.filter(reverses=original).exists():
        raise FinanceError(_("This transaction is already reversed."), code="already_reversed")
    date = _reversal_date(date, original.date)
    if Receipt.objects.filter(reversal_of__transaction=original).exists():  # a summary's receipt reversed on its own
        raise FinanceError(_("Some receipts of this transaction were reversed one by one: reverse the others one by one too."),
                           code="receipts_partly_reversed")
    entries = list(original.entries.select_related("account", "unit"))
    lines = [Line(e.account.code, debit=e.credit, credit=e.debit, unit=e.unit) for e in entries]
    memo = " ".join((memo or "").split()) or _("Reversal of #%(id)s %(memo)s") % {"id": original.pk, "memo": original.memo}
    reversal = _post(actor=actor, unit=original.unit, date=date, lines=lines, memo=memo, external_id=f"reversal:{original.pk}",
                     kind=TransactionKind.REVERSAL, reverses=original)
    receipts = _write_negatives(reversal, date, "transaction_id", original.pk)
    audit_record(actor=actor, action="finance.transaction_reversed", obj=original, unit_path=original.unit.path,
                 changes={"reversal": reversal.pk, "date": date.isoformat(), "amount": original.amount, "receipts": receipts})
    return reversal


def _lock_transaction(txn: Transaction) -> None:
    """Hold the transaction's row until the end of the database transaction (PostgreSQL), so that two
    reversals of it, or of its receipts, run one after the other and the second sees the first."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM finance_transaction WHERE id = %s FOR UPDATE", [txn.pk])


def _write_negatives(reversal: Transaction, date: datetime.date, column: str, value: int) -> int:
    """Write, in one statement, the receipt cancelling each receipt whose ``column`` ("transaction_id": every
    receipt of a summary, which may hold hundreds of thousands; "id": one) is ``value``: every figure negated,
    in ``reversal``, dated ``date``. Returns how many."""
    negate = ", ".join(f"-part_{i}" for i in (1, 2, 3))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO finance_receipt (external_id, transaction_id, unit_id, payer_kind, member_id, source, amount, paid_on, "
            "period, reversal_of_id, part_0, unit_1_id, unit_2_id, unit_3_id, part_1, part_2, part_3) "
            f"SELECT substr('reversal:' || external_id, 1, 100), %s, unit_id, payer_kind, member_id, source, -amount, %s, period, "
            f"id, -part_0, unit_1_id, unit_2_id, unit_3_id, {negate} FROM finance_receipt WHERE {column} = %s ORDER BY id",
            [reversal.pk, connection.ops.adapt_datefield_value(date), value])
        return cursor.rowcount


def _reversal_of_reversal() -> FinanceError:
    return FinanceError(_("A reversal cannot be reversed: post the original entry again."), code="reversal_of_reversal")


def _reversal_date(date, earliest: datetime.date):
    """The date of a reversal: ``date``, or today; never before what it reverses."""
    date = date or timezone.localdate()
    if isinstance(date, datetime.date) and date < earliest:
        raise FinanceError(_("A reversal cannot be dated before the transaction it reverses."), code="date_before_original",
                           field="date")
    return date


@transaction.atomic
def receipt_reverse(*, actor, receipt: Receipt, date: datetime.date | None = None, memo: str = "") -> Transaction:
    """Cancel one receipt: its own transaction reversed (``transaction_reverse``), or, for a receipt posted
    in a statement's summary transaction, a reversal of its part of it, built from its split (the union's
    bank or cash credited, its revenue and "payable to upper levels" debited; each upper level's revenue
    debited and "receivable from lower levels" credited). At most once; in an open month."""
    receipt = Receipt.objects.select_related("transaction", "unit").get(pk=receipt.pk)
    _require(actor, receipt.unit.path)
    if receipt.reversal_of_id is not None or receipt.amount < 0:
        raise _reversal_of_reversal()
    if Receipt.objects.filter(reversal_of=receipt).exists():
        raise FinanceError(_("This receipt is already reversed."), code="already_reversed")
    original = receipt.transaction
    if original.kind != TransactionKind.RECEIPTS:
        return transaction_reverse(actor=actor, transaction=original, date=date, memo=memo)
    _lock_transaction(original)
    if Receipt.objects.filter(reversal_of=receipt).exists():  # reversed meanwhile, one by one
        raise FinanceError(_("This receipt is already reversed."), code="already_reversed")
    if Transaction.objects.filter(reverses=original).exists():
        raise FinanceError(_("This receipt is already reversed."), code="already_reversed")
    date = _reversal_date(date, receipt.paid_on)
    units = {u.pk: u for u in Unit.objects.filter(pk__in=[unit_id for unit_id, _part in receipt.parts()] + [receipt.unit_id])}
    revenue = REVENUE_ACCOUNT_OF[receipt.source]
    money = AccountCode.CASH if receipt.external_id.startswith("cash:") else AccountCode.BANK
    book = units[receipt.unit_id]
    lines = [Line(money, credit=receipt.amount, unit=book)]
    if receipt.part_0:
        lines.append(Line(revenue, debit=receipt.part_0, unit=book))
    if receipt.amount - receipt.part_0:
        lines.append(Line(AccountCode.PAYABLE_UPPER, debit=receipt.amount - receipt.part_0, unit=book))
    for unit_id, part in receipt.parts():
        if unit_id != book.pk:
            lines += [Line(revenue, debit=part, unit=units[unit_id]), Line(AccountCode.RECEIVABLE_LOWER, credit=part, unit=units[unit_id])]
    memo = " ".join((memo or "").split()) or _("Reversal of receipt %(id)s in #%(txn)s %(memo)s") % {
        "id": receipt.external_id, "txn": original.pk, "memo": original.memo}
    reversal = _post(actor=actor, unit=book, date=date, lines=lines, memo=memo[:255], external_id=f"reversal:receipt:{receipt.pk}",
                     kind=TransactionKind.REVERSAL)
    _write_negatives(reversal, date, "id", receipt.pk)
    audit_record(actor=actor, action="finance.receipt_reversed", obj=receipt, unit_path=book.path,
                 changes={"reversal": reversal.pk, "date": date.isoformat(), "amount": receipt.amount, "transaction": original.pk})
    return reversal


@transaction.atomic
def period_close(*, actor, unit: Unit, month: datetime.date) -> list[Period]:
    """Close ``month`` in ``unit``'s books, with every open month before it (months close in order), and
    write each account's closing balance of each month. Nothing can be posted in a closed month again."""
    unit = Unit.objects.get(pk=unit.pk)
    _require(actor, unit.path)
    if unit.level in selectors.BELOW_GRASSROOTS:
        raise FinanceError(_("%(unit)s keeps no books of its own: its grassroots union closes them.") % {"unit": unit},
                           code="no_books", field="unit")
    month = _month(month, "month")
    if month >= month_start(timezone.localdate()):
        raise FinanceError(_("The month %(month)s has not ended yet.") % {"month": _month_text(month)}, code="period_not_ended",
                           field="month")
    _lock_units([unit.pk], exclusive=True)
    last = selectors.last_closed_month(unit.pk)
    if last and month <= last:
        raise FinanceError(_("The month %(month)s is already closed.") % {"month": _month_text(month)}, code="period_already_closed",
                           field="month")
    first_entry = Entry.objects.filter(unit=unit).order_by("date").values_list("date", flat=True).first()
    first = add_months(last, 1) if last else min(month, month_start(first_entry) if first_entry else month)
    months = months_between(first, month)
    accounts = list(Account.objects.filter(unit=unit))
    running = {a.pk: [0, 0] for a in accounts}
    if last:
        for account_id, debit, credit in AccountBalance.objects.filter(account__unit=unit, month=last).values_list(
                "account_id", "debit", "credit"):
            running[account_id] = [debit, credit]
    moves: dict[tuple[int, datetime.date], tuple[int, int]] = {}
    for account_id, moved_month, debit, credit in (
            Entry.objects.filter(unit=unit, date__gte=first, date__lte=month_end(month)).annotate(m=TruncMonth("date"))
            .values_list("account_id", "m").annotate(d=Sum("debit"), c=Sum("credit")).values_list("account_id", "m", "d", "c")
            .order_by()):
        key_month = moved_month.date() if isinstance(moved_month, datetime.datetime) else moved_month
        moves[(account_id, key_month)] = (debit or 0, credit or 0)
    snapshots = []
    for closing in months:
        for account in accounts:
            debit, credit = moves.get((account.pk, closing), (0, 0))
            running[account.pk][0] += debit
            running[account.pk][1] += credit
            snapshots.append(AccountBalance(account=account, month=closing, debit=running[account.pk][0], credit=running[account.pk][1]))
    AccountBalance.objects.bulk_create(snapshots)
    periods = Period.objects.bulk_create([Period(unit=unit, month=m, closed_by=actor if getattr(actor, "pk", None) else None)
                                          for m in months])
    audit_record(actor=actor, action="finance.period_closed", obj=unit, unit_path=unit.path,
                 changes={"months": [m.isoformat() for m in months]})
    return periods
