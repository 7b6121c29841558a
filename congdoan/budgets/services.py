"""Budgets and expenses: every state change is one function here (keyword-only, explicit ``actor``,
atomic, audited). Pages, commands, tasks and tests call the same functions.

Rules kept here:
* drafting, changing a draft, revising and recording expenses need the ``finance`` action on the
  unit; approving needs the approver's role (access.py) and is refused to whoever drafted,
  changed or recorded the thing approved (``same_person``);
* an approved budget never changes: a revision is a new version, approved the same way;
* an expense is refused when its unit has no approved budget for the year (``no_budget``) or
  when it would take its category past the approved amount (``budget_overdrawn``), when
  recorded and again, under a lock, when approved;
* nothing is deleted: an approved expense is cancelled by a reversal with the reason.
"""

import datetime
import logging
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.budgets import ledger
from congdoan.budgets.access import may_approve
from congdoan.budgets.choices import BudgetStatus, ExpenseKind, ExpenseStatus, PaidFrom
from congdoan.budgets.models import Budget, BudgetLine, Category, Expense
from congdoan.core import scoping
from congdoan.core.errors import DomainError, NotFoundInScope
from congdoan.organizations.models import Unit
from congdoan.payments.templatetags.payments_tags import vnd

log = logging.getLogger(__name__)

FIRST_YEAR = 2000
#: largest supporting document accepted (bytes)
DOCUMENT_MAX_BYTES = getattr(settings, "BUDGET_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024)
#: accepted document types: extension -> the bytes the file must start with
DOCUMENT_TYPES = {
    ".pdf": (b"%PDF-",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
}


# -- checks shared by the services ----------------------------------------------------------------
def _unit_for_finance(actor, unit) -> Unit:
    """The unit, fresh from the database, if ``actor`` may record finance in it and it is active."""
    fresh = Unit.objects.restrict(actor, Action.FINANCE).filter(pk=getattr(unit, "pk", unit)).first()
    if fresh is None:
        raise NotFoundInScope()
    _require_active(fresh)
    return fresh


def _require_active(unit: Unit) -> None:
    if not unit.is_active:
        raise DomainError(_("%(unit)s is dissolved or merged: nothing can be recorded for it.") % {"unit": unit.name},
                          code="unit_dissolved", field="unit")


def _require_finance(actor, unit: Unit) -> None:
    if not scoping.can(actor, Action.FINANCE, unit.path):
        raise NotFoundInScope()


def _require_visible(actor, unit: Unit) -> None:
    if not scoping.can(actor, Action.VIEW, unit.path):
        raise NotFoundInScope()


def _require_approver(actor, unit: Unit) -> None:
    _require_visible(actor, unit)
    if not may_approve(actor, unit.path):
        raise DomainError(_("Only the chair of the unit or of a unit above it may approve."), code="not_approver")


def check_amount(amount, *, allow_zero: bool = False, field: str = "amount") -> int:
    """An amount of đồng: an int (never a float or a string), above zero (or zero where allowed)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise DomainError(_("This is not an amount of money. Write it as 1.234.567 or 1234567."), code="amount_invalid", field=field)
    if amount < 0:
        raise DomainError(_("The amount is negative: it must be greater than zero."), code="amount_negative", field=field)
    if amount == 0 and not allow_zero:
        raise DomainError(_("The amount is zero: it must be greater than zero."), code="amount_zero", field=field)
    if amount >= 10**15:
        raise DomainError(_("The amount is too large."), code="amount_invalid", field=field)
    return amount


def _check_year(year) -> int:
    today = timezone.localdate()
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= today.year + 1:
        raise DomainError(_("A budget is made for a year from %(first)s to %(last)s.") % {"first": FIRST_YEAR, "last": today.year + 1},
                          code="year_invalid", field="year")
    return year


def _check_past(day, field: str) -> None:
    """A date given, not in the future, not before FIRST_YEAR."""
    if not isinstance(day, datetime.date):
        raise DomainError(_("Give the date."), code="required", field=field)
    if day > timezone.localdate():
        raise DomainError(_("The date %(day)s is in the future.") % {"day": day.strftime("%d/%m/%Y")}, code="date_future", field=field)
    if day.year < FIRST_YEAR:
        raise DomainError(_("The date %(day)s is too far in the past.") % {"day": day.strftime("%d/%m/%Y")},
                          code="date_invalid", field=field)


def _check_month_open(unit: Unit, day: datetime.date, field: str = "spent_on") -> None:
    if ledger.is_month_closed(unit.pk, day):
        raise DomainError(_("The books of %(unit)s for %(month)s are closed: date it in an open month.") % {
            "unit": unit.name, "month": day.strftime("%m/%Y")}, code="month_closed", field=field)


def _full_clean(obj, exclude=()) -> None:
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], code="invalid", field=None if field == "__all__" else field) from exc


def budget_room(*, unit: Unit, category: Category, year: int, lock: bool = False) -> tuple[Budget, int, int]:
    """(approved budget, amount budgeted for the category, amount already spent) of a unit's year.

    Raises ``no_budget`` when the unit has no approved budget for the year. With ``lock``, the
    approved budget row is locked (SELECT … FOR UPDATE) so approvals of one unit and year
    check and spend one after the other.
    """
    budgets = Budget.objects.filter(unit=unit, year=year, status=BudgetStatus.APPROVED)
    if lock:
        budgets = budgets.select_for_update()
    budget = budgets.first()
    if budget is None:
        raise DomainError(_("%(unit)s has no approved budget for %(year)s: the budget must be approved before spending.") % {
            "unit": unit.name, "year": year}, code="no_budget", field="category")
    budgeted = BudgetLine.objects.filter(budget=budget, category=category).values_list("amount", flat=True).first() or 0
    spent = Expense.objects.counted().filter(unit=unit, year=year, category=category).aggregate(s=Sum("amount"))["s"] or 0
    return budget, budgeted, spent


def _check_within_budget(*, unit: Unit, category: Category, year: int, amount: int, lock: bool = False) -> None:
    _budget, budgeted, spent = budget_room(unit=unit, category=category, year=year, lock=lock)
    if spent + amount > budgeted:
        params = {"amount": amount, "budgeted": budgeted, "spent": spent, "left": max(budgeted - spent, 0)}
        raise DomainError(
            _("This expense of %(amount)s would overdraw the %(year)s budget for “%(category)s”: budgeted %(budgeted)s, "
              "already spent %(spent)s, %(left)s left.") % {
                "amount": vnd(amount), "year": year, "category": category.label, "budgeted": vnd(budgeted),
                "spent": vnd(spent), "left": vnd(max(budgeted - spent, 0))},
            code="budget_overdrawn", field="amount", params=params)


def _check_document(document) -> None:
    if not document:
        raise DomainError(_("Attach the supporting document (PDF, photo, Word or Excel file)."), code="document_missing", field="document")
    if document.size > DOCUMENT_MAX_BYTES:
        raise DomainError(_("The document is larger than %(mb)s MB.") % {"mb": DOCUMENT_MAX_BYTES // (1024 * 1024)},
                          code="document_too_large", field="document")
    suffix = PurePath(document.name or "").suffix.lower()
    document.seek(0)
    head = document.read(16)
    document.seek(0)
    if suffix not in DOCUMENT_TYPES or not head.startswith(DOCUMENT_TYPES[suffix]):
        raise DomainError(_("The document must be a PDF, a JPEG or PNG photo, or a Word (.docx) or Excel (.xlsx) file."),
                          code="document_type", field="document")


# -- budgets ----------------------------------------------------------------------------------------
@transaction.atomic
def budget_draft(*, actor, unit, year: int, note: str = "") -> Budget:
    """Start a unit's budget for a year (version 1, a draft). A year that has one is revised instead."""
    unit = _unit_for_finance(actor, unit)
    year = _check_year(year)
    existing = set(Budget.objects.filter(unit=unit, year=year).values_list("status", flat=True))
    if BudgetStatus.DRAFT in existing:
        raise DomainError(_("%(unit)s already has a draft budget for %(year)s.") % {"unit": unit.name, "year": year},
                          code="draft_exists", field="year")
    if BudgetStatus.APPROVED in existing:
        raise DomainError(_("The %(year)s budget of %(unit)s is approved: revise it to change it.") % {"unit": unit.name, "year": year},
                          code="budget_exists", field="year")
    version = (Budget.objects.filter(unit=unit, year=year).aggregate(v=Max("version"))["v"] or 0) + 1
    budget = Budget(unit=unit, year=year, version=version, note=(note or "").strip(), drafted_by=actor, changed_by=actor)
    _full_clean(budget, exclude=["drafted_by", "changed_by", "approved_by", "revises"])
    try:
        with transaction.atomic():
            budget.save()
    except IntegrityError as exc:  # drafted by someone else at the same moment
        raise DomainError(_("%(unit)s already has a draft budget for %(year)s.") % {"unit": unit.name, "year": year},
                          code="draft_exists", field="year") from exc
    audit_record(actor=actor, action="budget.drafted", obj=budget, unit_path=unit.path,
                 changes={"year": [None, year], "version": [None, version]})
    return budget


def _locked_budget(budget) -> Budget:
    fresh = Budget.objects.select_for_update().filter(pk=getattr(budget, "pk", budget)).first()
    if fresh is None:
        raise NotFoundInScope()
    fresh.unit = Unit.objects.get(pk=fresh.unit_id)
    return fresh


@transaction.atomic
def budget_lines_save(*, actor, budget, amounts: dict) -> Budget:
    """Set the amounts of a draft: ``amounts`` maps categories (or their ids) to đồng (0 allowed)."""
    budget = _locked_budget(budget)
    _require_finance(actor, budget.unit)
    if not budget.is_draft:
        raise DomainError(_("This budget is approved and locked: revise it to change the amounts."), code="budget_locked")
    _require_active(budget.unit)
    categories = {c.pk: c for c in Category.objects.filter(is_active=True)}
    wanted = {}
    for key, amount in amounts.items():
        category_id = getattr(key, "pk", key)
        if category_id not in categories:
            raise DomainError(_("Unknown or retired spending category."), code="category_invalid", field="category")
        wanted[category_id] = check_amount(amount, allow_zero=True, field=f"category_{category_id}")
    lines = {line.category_id: line for line in budget.lines.all()}
    changes, new_lines, changed_lines = {}, [], []
    for category_id, amount in wanted.items():
        line = lines.get(category_id)
        if line is None:
            if amount:
                new_lines.append(BudgetLine(budget=budget, category_id=category_id, amount=amount))
                changes[categories[category_id].code] = [0, amount]
        elif line.amount != amount:
            changes[categories[category_id].code] = [line.amount, amount]
            line.amount = amount
            changed_lines.append(line)
    BudgetLine.objects.bulk_create(new_lines)
    BudgetLine.objects.bulk_update(changed_lines, ["amount"])
    if changes:
        budget.changed_by = actor
        budget.save(update_fields=["changed_by"])
        audit_record(actor=actor, action="budget.lines_changed", obj=budget, unit_path=budget.unit.path, changes=changes)
    return budget


@transaction.atomic
def budget_approve(*, actor, budget) -> Budget:
    """Approve a draft: it is locked from now on; the version it revises is superseded.

    Refused to whoever drafted it or last changed its amounts (``same_person``), and when a
    revision would plan less for a category than is already spent (``below_actual``).
    """
    budget = _locked_budget(budget)
    _require_approver(actor, budget.unit)
    if not budget.is_draft:
        raise DomainError(_("This budget is already approved."), code="budget_locked")
    if actor.pk in (budget.drafted_by_id, budget.changed_by_id):
        raise DomainError(_("You drafted or changed this budget: another chair must approve it."), code="same_person")
    _require_active(budget.unit)
    lines = list(budget.lines.select_related("category"))
    if not any(line.amount for line in lines):
        raise DomainError(_("The budget plans nothing: enter the amounts first."), code="budget_empty")
    previous = (Budget.objects.select_for_update().filter(unit=budget.unit, year=budget.year, status=BudgetStatus.APPROVED)
                .exclude(pk=budget.pk).first())
    if previous is not None:
        planned = {line.category_id: line.amount for line in lines}
        spent = dict(Expense.objects.counted().filter(unit=budget.unit, year=budget.year)
                     .values_list("category").annotate(s=Sum("amount")).values_list("category", "s"))
        categories = Category.objects.in_bulk(list(spent))
        for category_id, amount in sorted(spent.items()):
            if amount > planned.get(category_id, 0):
                raise DomainError(
                    _("“%(category)s” plans %(planned)s, but %(spent)s is already spent in %(year)s.") % {
                        "category": categories[category_id].label, "planned": vnd(planned.get(category_id, 0)),
                        "spent": vnd(amount), "year": budget.year},
                    code="below_actual")
        previous.status = BudgetStatus.SUPERSEDED
        previous.save(update_fields=["status"])
        audit_record(actor=actor, action="budget.superseded", obj=previous, unit_path=budget.unit.path,
                     changes={"status": [BudgetStatus.APPROVED, BudgetStatus.SUPERSEDED], "by_version": [None, budget.version]})
    budget.status = BudgetStatus.APPROVED
    budget.approved_by = actor
    budget.approved_at = timezone.now()
    budget.save(update_fields=["status", "approved_by", "approved_at"])
    audit_record(actor=actor, action="budget.approved", obj=budget, unit_path=budget.unit.path,
                 changes={"status": [BudgetStatus.DRAFT, BudgetStatus.APPROVED],
                          "total": [None, sum(line.amount for line in lines)]})
    return budget


@transaction.atomic
def budget_revise(*, actor, budget, note: str = "") -> Budget:
    """Start a revision of an approved budget: a new draft version with the same amounts."""
    budget = _locked_budget(budget)
    _require_finance(actor, budget.unit)
    if budget.status != BudgetStatus.APPROVED:
        raise DomainError(_("Only the approved budget in force can be revised."), code="not_approved")
    _require_active(budget.unit)
    if Budget.objects.filter(unit=budget.unit, year=budget.year, status=BudgetStatus.DRAFT).exists():
        raise DomainError(_("A revision of this budget is already being drafted."), code="draft_exists")
    version = Budget.objects.filter(unit=budget.unit, year=budget.year).aggregate(v=Max("version"))["v"] + 1
    revision = Budget.objects.create(unit=budget.unit, year=budget.year, version=version, revises=budget,
                                     note=(note or "").strip()[:500], drafted_by=actor, changed_by=actor)
    BudgetLine.objects.bulk_create([BudgetLine(budget=revision, category_id=line.category_id, amount=line.amount)
                                    for line in budget.lines.all()])
    audit_record(actor=actor, action="budget.revision_drafted", obj=revision, unit_path=budget.unit.path,
                 changes={"version": [budget.version, version]})
    return revision


# -- expenses ---------------------------------------------------------------------------------------
@transaction.atomic
def expense_record(*, actor, unit, category, amount, spent_on, description: str, payee: str = "",
                   document_number: str = "", document_date=None, document=None, paid_from: str = PaidFrom.BANK) -> Expense:
    """Record money a unit spent, with its supporting document; it waits for the chair's approval.

    Refused at once when the unit has no approved budget for the year or the amount would
    overdraw the category (approval checks again, against what is approved by then).
    """
    unit = _unit_for_finance(actor, unit)
    category = Category.objects.filter(pk=getattr(category, "pk", category), is_active=True).first()
    if category is None:
        raise DomainError(_("Choose a spending category in use."), code="category_invalid", field="category")
    amount = check_amount(amount)
    _check_past(spent_on, "spent_on")
    if paid_from not in PaidFrom.values:
        raise DomainError(_("Say whether it was paid by bank transfer or in cash."), code="required", field="paid_from")
    description = " ".join((description or "").split())
    if not description:
        raise DomainError(_("Say what the money was spent on."), code="required", field="description")
    document_number = " ".join((document_number or "").split())
    if not document_number:
        raise DomainError(_("Give the number of the supporting document (e.g. the payment voucher)."), code="document_missing",
                          field="document_number")
    _check_past(document_date, "document_date")
    _check_document(document)
    _check_month_open(unit, spent_on)
    _check_within_budget(unit=unit, category=category, year=spent_on.year, amount=amount)
    expense = Expense(unit=unit, category=category, year=spent_on.year, spent_on=spent_on, amount=amount,
                      description=description, payee=" ".join((payee or "").split()), paid_from=paid_from,
                      document_number=document_number, document_date=document_date,
                      document_name=PurePath(document.name).name[:255], recorded_by=actor)
    _full_clean(expense, exclude=["document", "recorded_by", "approved_by", "cancelled_by", "reverses"])
    expense.document.save(document.name, document, save=False)
    try:
        with transaction.atomic():
            expense.save()
            audit_record(actor=actor, action="expense.recorded", obj=expense, unit_path=unit.path, changes={
                "category": [None, category.code], "amount": [None, amount], "spent_on": [None, spent_on.isoformat()],
                "document_number": [None, document_number]})
    except Exception:
        expense.document.delete(save=False)  # nothing half-written: no file without its row
        raise
    return expense


def _locked_expense(expense) -> Expense:
    fresh = Expense.objects.select_for_update().filter(pk=getattr(expense, "pk", expense)).first()
    if fresh is None:
        raise NotFoundInScope()
    fresh.unit = Unit.objects.get(pk=fresh.unit_id)
    fresh.category = Category.objects.get(pk=fresh.category_id)
    return fresh


def _post(actor, expense: Expense) -> None:
    """Hand an approved row to the ledger; it stays unposted while finance is not there."""
    if ledger.post_expense(actor=actor, expense=expense):
        expense.posted = True
        expense.posted_at = timezone.now()
        expense.save(update_fields=["posted", "posted_at"])


@transaction.atomic
def expense_approve(*, actor, expense) -> Expense:
    """The chair approves a recorded expense, which is then posted to the ledger (or waits for it).

    Refused to the person who recorded it (``same_person``), and when the budget does not cover
    it any more (``no_budget``, ``budget_overdrawn``). A refusal by the ledger rolls it all back.
    """
    expense = _locked_expense(expense)
    _require_approver(actor, expense.unit)
    if expense.status != ExpenseStatus.RECORDED:
        raise DomainError(_("This expense is not waiting for approval."), code="not_waiting")
    if actor.pk == expense.recorded_by_id:
        raise DomainError(_("You recorded this expense: another person, the chair, must approve it."), code="same_person")
    _require_active(expense.unit)
    _check_month_open(expense.unit, expense.spent_on)
    _check_within_budget(unit=expense.unit, category=expense.category, year=expense.year, amount=expense.amount, lock=True)
    expense.status = ExpenseStatus.APPROVED
    expense.approved_by = actor
    expense.approved_at = timezone.now()
    expense.save(update_fields=["status", "approved_by", "approved_at"])
    _post(actor, expense)
    audit_record(actor=actor, action="expense.approved", obj=expense, unit_path=expense.unit.path,
                 changes={"status": [ExpenseStatus.RECORDED, ExpenseStatus.APPROVED], "posted": [False, expense.posted]})
    return expense


@transaction.atomic
def expense_cancel(*, actor, expense, reason: str) -> Expense:
    """Cancel a wrong expense, with the reason; nothing is deleted.

    One waiting for approval is marked cancelled (nothing was spent or posted). An approved one
    stays as it was and gets a reversal: a row with the opposite amount, same category and budget
    year, dated today, approved by the actor (an approver) and posted like any expense. Returns
    the reversal, or the cancelled expense.
    """
    expense = _locked_expense(expense)
    _require_finance(actor, expense.unit)
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_("Say why the expense is cancelled."), code="reason_required", field="reason")
    if expense.is_reversal:
        raise DomainError(_("A reversal cannot be cancelled."), code="not_cancellable")
    if expense.status == ExpenseStatus.CANCELLED or expense.cancelled_at is not None:
        raise DomainError(_("This expense is already cancelled."), code="already_cancelled")
    now = timezone.now()
    if expense.status == ExpenseStatus.RECORDED:
        expense.status = ExpenseStatus.CANCELLED
        expense.cancelled_by, expense.cancelled_at, expense.reason = actor, now, reason[:500]
        expense.save(update_fields=["status", "cancelled_by", "cancelled_at", "reason"])
        audit_record(actor=actor, action="expense.cancelled", obj=expense, unit_path=expense.unit.path,
                     changes={"status": [ExpenseStatus.RECORDED, ExpenseStatus.CANCELLED], "reason": [None, reason]})
        return expense
    if not may_approve(actor, expense.unit.path):
        raise DomainError(_("Only the chair may cancel an approved expense."), code="not_approver")
    today = timezone.localdate()
    _check_month_open(expense.unit, today, field="reason")
    reversal = Expense.objects.create(
        unit=expense.unit, category=expense.category, kind=ExpenseKind.REVERSAL, year=expense.year, spent_on=today,
        amount=-expense.amount, description=expense.description, payee=expense.payee, paid_from=expense.paid_from,
        document_number=expense.document_number,
        document_date=expense.document_date, reverses=expense, reason=reason[:500], status=ExpenseStatus.APPROVED,
        recorded_by=actor, approved_by=actor, approved_at=now)
    expense.cancelled_by, expense.cancelled_at, expense.reason = actor, now, reason[:500]
    expense.save(update_fields=["cancelled_by", "cancelled_at", "reason"])
    if expense.posted:
        _post(actor, reversal)  # an unposted expense is posted later together with its reversal, in order
    audit_record(actor=actor, action="expense.reversed", obj=expense, unit_path=expense.unit.path,
                 changes={"reversal": [None, reversal.pk], "amount": [None, reversal.amount], "reason": [None, reason]})
    return reversal


def expense_post_pending(*, actor=None, unit=None) -> tuple[int, int]:
    """Post the approved rows still waiting for the ledger (oldest first); (posted, refused).

    For when finance is connected after expenses were approved, and for rows the ledger refused.
    Each row is its own transaction: one refusal does not stop the others.
    """
    if not ledger.available():
        return 0, 0
    pending = Expense.objects.filter(status=ExpenseStatus.APPROVED, posted=False)
    if unit is not None:
        pending = pending.in_subtree(unit.path)
    posted = refused = 0
    for pk in pending.order_by("id").values_list("pk", flat=True):
        try:
            with transaction.atomic():
                expense = _locked_expense(pk)
                if expense.posted:
                    continue
                _post(actor, expense)
                if expense.posted:
                    audit_record(actor=actor, action="expense.posted", obj=expense, unit_path=expense.unit.path,
                                 changes={"posted": [False, True]})
                    posted += 1
        except DomainError as exc:
            log.warning("expense %s not posted: %s", pk, exc.code)
            refused += 1
    return posted, refused
