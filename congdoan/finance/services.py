"""Finance writes: the rules, what is owed (declarations, reliefs, member salaries and exemptions,
a union's own dues rate), collection accounts; the ledger's writes are in ledger.py and re-exported here.

Every state change is one function (keyword-only, explicit ``actor``, atomic, audited) that pages,
the API, payments, tasks and tests call alike. ``actor=None`` is the system (a background task);
any other actor must hold the FINANCE action on the unit concerned, or gets a 404.
"""

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.finance import selectors
from congdoan.finance.choices import (
    BP, EXEMPT_KINDS, MAX_RELIEF_MONTHS, SHARE_KINDS, SHARE_LEVELS, VALUE_UNIT, DeclarationSource, ReliefKind, RuleKind, ValueUnit,
)
from congdoan.finance.errors import FinanceError
from congdoan.finance.ledger import _is_int, _month, _month_text, _require
from congdoan.finance.models import (
    CollectionAccount, DuesExemption, FeeRelief, MemberSalary, Rule, SalaryFundDeclaration, UnitDuesRate,
)
from congdoan.finance.money import add_months, month_index, month_start
from congdoan.finance.rules import RuleBook
from congdoan.organizations.choices import Level
from congdoan.organizations.models import Unit

# payments looks these up here too (see congdoan/payments/ledger.py)
from congdoan.finance.references import payers_by_reference, payment_reference_for  # noqa: E402,F401
from congdoan.finance.selectors import closed_months, union_fee_owed  # noqa: E402,F401


def may_edit_rules(actor) -> bool:
    """Rules serve the whole country: only finance officials of the national federation edit them."""
    return actor is not None and any(len(p) == tree.STEPLEN for p in scoping.granted_paths(actor, Action.FINANCE))


# -- rules -------------------------------------------------------------------------------------------------------
def _check_rule_value(kind: str, value) -> None:
    if not _is_int(value) or value < 0:
        raise FinanceError(_("The value must be a whole number, zero or more."), code="value_invalid", field="value")
    unit = VALUE_UNIT[kind]
    if unit == ValueUnit.BASIS_POINTS and value > BP:
        raise FinanceError(_("A rate or share is at most 10,000 basis points (100 %)."), code="rate_too_high", field="value")
    if unit == ValueUnit.FLAG and value not in (0, 1):
        raise FinanceError(_("Write 1 (exempt) or 0 (not exempt)."), code="value_invalid", field="value")
    if unit == ValueUnit.DONG and value == 0:
        raise FinanceError(_("The base salary must be greater than zero."), code="value_invalid", field="value")


def _check_history(kind: str, level: str, employer_type: str, valid_from: datetime.date) -> Rule | None:
    """The version dated ``valid_from`` if it may be corrected, None for a new one; refuses a version
    dated before the latest one (history is only added to, at its end)."""
    versions = Rule.objects.filter(kind=kind, level=level, employer_type=employer_type)
    latest = versions.order_by("-valid_from").first()
    if latest and valid_from < latest.valid_from:
        raise FinanceError(_("A newer version is in the rules from %(date)s: a new version must start on or after it.") % {
            "date": latest.valid_from.strftime("%d/%m/%Y")}, code="rule_before_latest", field="valid_from")
    if latest and valid_from == latest.valid_from:
        if valid_from <= timezone.localdate():
            raise FinanceError(_("A version from %(date)s is already in force; add a new version with a later date.") % {
                "date": valid_from.strftime("%d/%m/%Y")}, code="rule_exists", field="valid_from")
        return latest  # not in force yet: it may still be corrected
    return None


@transaction.atomic
def rule_create(*, actor, kind: str, value: int, valid_from: datetime.date, legal_basis: str, employer_type: str = "",
                note: str = "") -> Rule:
    """Add a version of a rule (a rate, cap, floor, base salary or exemption) in force from ``valid_from``.
    Shares between levels are set together by ``shares_set``."""
    if not may_edit_rules(actor):
        raise NotFoundInScope()
    if kind not in RuleKind.values:
        raise FinanceError(_("Unknown rule."), code="rule_unknown", field="kind")
    if kind in SHARE_KINDS:
        raise FinanceError(_("Shares between levels are set together, for every level at once."), code="use_shares_set", field="kind")
    employer_type = employer_type or ""
    if kind in EXEMPT_KINDS and not employer_type:
        raise FinanceError(_("Choose the employer type the exemption is for."), code="employer_type_required", field="employer_type")
    if kind not in EXEMPT_KINDS:
        employer_type = ""
    _check_rule_value(kind, value)
    legal_basis = " ".join((legal_basis or "").split())
    if not legal_basis:
        raise FinanceError(_("Give the legal basis (law, decree or decision, with its article)."), code="legal_basis_required",
                           field="legal_basis")
    if not isinstance(valid_from, datetime.date):
        raise FinanceError(_("Give the date the rule is in force from."), code="date_required", field="valid_from")
    existing = _check_history(kind, "", employer_type, valid_from)
    before = existing.value if existing else None
    rule = existing or Rule(kind=kind, employer_type=employer_type, valid_from=valid_from)
    rule.value, rule.legal_basis, rule.note, rule.created_by = value, legal_basis[:255], (note or "")[:500], actor
    rule.full_clean()
    rule.save()
    audit_record(actor=actor, action="finance.rule_changed" if existing else "finance.rule_created", obj=rule, unit_path="",
                 changes={"kind": kind, "employer_type": employer_type, "valid_from": valid_from.isoformat(), "value": [before, value],
                          "legal_basis": legal_basis[:255]})
    return rule


@transaction.atomic
def shares_set(*, actor, kind: str, valid_from: datetime.date, shares: dict, legal_basis: str, note: str = "") -> list[Rule]:
    """Set the shares of the union fee or of dues kept by each level, from ``valid_from``: one version
    per level, in basis points adding up to exactly 10,000 (100 %)."""
    if not may_edit_rules(actor):
        raise NotFoundInScope()
    if kind not in SHARE_KINDS:
        raise FinanceError(_("Unknown rule."), code="rule_unknown", field="kind")
    unknown = set(shares) - set(SHARE_LEVELS)
    if unknown:
        raise FinanceError(_("Shares are kept by the grassroots, upper-grassroots, province and national levels only."),
                           code="share_level_unknown", field="shares")
    values = {level: shares.get(level, 0) for level in SHARE_LEVELS}
    for value in values.values():
        _check_rule_value(kind, value)
    if not values[Level.GRASSROOTS]:
        raise FinanceError(_("The grassroots union's share cannot be zero."), code="share_grassroots_zero", field="shares")
    if sum(values.values()) != BP:
        raise FinanceError(_("The shares add up to %(sum)s basis points; they must add up to 10,000 (100 %%).") % {
            "sum": f"{sum(values.values()):,}".replace(",", ".")}, code="shares_sum", field="shares")
    legal_basis = " ".join((legal_basis or "").split())
    if not legal_basis:
        raise FinanceError(_("Give the legal basis (law, decree or decision, with its article)."), code="legal_basis_required",
                           field="legal_basis")
    rules = []
    for level, value in values.items():
        existing = _check_history(kind, level, "", valid_from)
        rule = existing or Rule(kind=kind, level=level, valid_from=valid_from)
        rule.value, rule.legal_basis, rule.note, rule.created_by = value, legal_basis[:255], (note or "")[:500], actor
        rule.save()
        rules.append(rule)
    audit_record(actor=actor, action="finance.shares_set", obj=rules[0], unit_path="",
                 changes={"kind": kind, "valid_from": valid_from.isoformat(), "shares": {str(k): v for k, v in values.items()},
                          "legal_basis": legal_basis[:255]})
    return rules


def _grassroots_unit(actor, unit: Unit, *, field: str = "unit") -> Unit:
    unit = Unit.objects.get(pk=unit.pk)
    _require(actor, unit.path)
    if unit.level != Level.GRASSROOTS:
        raise FinanceError(_("%(unit)s is not a grassroots union.") % {"unit": unit}, code="not_grassroots", field=field)
    if not unit.is_active:
        raise FinanceError(_("%(unit)s is dissolved or merged.") % {"unit": unit}, code="unit_dissolved", field=field)
    return unit


def _month(value, field: str) -> datetime.date:
    if not isinstance(value, datetime.date):
        raise FinanceError(_("Give the month (mm/yyyy)."), code="month_required", field=field)
    return month_start(value)


@transaction.atomic
def unit_dues_rate_set(*, actor, unit: Unit, rate_bp: int, valid_from: datetime.date, decision: str) -> UnitDuesRate:
    """Record the dues rate a grassroots union's members voted, from a month on; 0 returns to the general rate.
    It must be higher than the general rate: the extra stays in full with the union."""
    unit = _grassroots_unit(actor, unit)
    valid_from = _month(valid_from, "valid_from")
    if not _is_int(rate_bp) or rate_bp < 0 or rate_bp > BP:
        raise FinanceError(_("Write the rate in basis points, between 0 and 10,000."), code="value_invalid", field="rate_bp")
    general = RuleBook().value(RuleKind.DUES_RATE, valid_from)
    if rate_bp and (general is None or rate_bp <= general):
        raise FinanceError(_("The union's own rate must be higher than the general dues rate (%(rate)s basis points).") % {
            "rate": general if general is not None else "—"}, code="rate_not_higher", field="rate_bp")
    decision = " ".join((decision or "").split())
    if not decision:
        raise FinanceError(_("Give the decision (resolution of the members' meeting) that set the rate."), code="decision_required",
                           field="decision")
    rate, created = UnitDuesRate.objects.get_or_create(unit=unit, valid_from=valid_from,
                                                       defaults={"rate_bp": rate_bp, "decision": decision[:255], "created_by": actor})
    before = None if created else rate.rate_bp
    if not created:
        rate.rate_bp, rate.decision = rate_bp, decision[:255]
        rate.save(update_fields=["rate_bp", "decision"])
    audit_record(actor=actor, action="finance.unit_dues_rate_set", obj=rate, unit_path=unit.path,
                 changes={"rate_bp": [before, rate_bp], "valid_from": valid_from.isoformat(), "decision": decision[:255]})
    return rate


# -- what is owed ---------------------------------------------------------------------------------------------------
@transaction.atomic
def declaration_save(*, actor, unit: Unit, month: datetime.date, si_salary_fund: int, workers: int | None = None,
                     source: str = DeclarationSource.FORM) -> SalaryFundDeclaration:
    """Record (or correct) an employer's social-insurance salary fund for a month: the base of its union fee.
    A month closed in the union's books cannot be changed."""
    unit = _grassroots_unit(actor, unit)
    month = _month(month, "month")
    return _declaration_write(actor=actor, unit=unit, month=month, fund=si_salary_fund, workers=workers, source=source)


def _declaration_write(*, actor, unit, month, fund, workers, source) -> SalaryFundDeclaration:
    if month > month_start(timezone.localdate()):
        raise FinanceError(_("The month %(month)s has not begun: a salary fund is declared for a month that has.") % {
            "month": _month_text(month)}, code="month_future", field="month")
    if not _is_int(fund) or fund <= 0:
        raise FinanceError(_("The salary fund must be an amount in đồng greater than zero."), code="fund_not_positive",
                           field="si_salary_fund")
    if workers is not None and (not _is_int(workers) or workers < 0):
        raise FinanceError(_("The number of workers must be a whole number."), code="workers_invalid", field="workers")
    if selectors.is_closed(unit.pk, month):
        raise FinanceError(_("The month %(month)s is closed in the books of %(unit)s.") % {"month": _month_text(month), "unit": unit},
                           code="period_closed", field="month")
    declaration = SalaryFundDeclaration.objects.select_for_update().filter(unit=unit, month=month).first()
    before = (declaration.si_salary_fund, declaration.workers) if declaration else (None, None)
    if declaration is None:
        declaration = SalaryFundDeclaration(unit=unit, month=month)
    declaration.si_salary_fund, declaration.workers, declaration.source, declaration.declared_by = fund, workers, source, actor
    declaration.save()
    audit_record(actor=actor, action="finance.declaration_changed" if before[0] is not None else "finance.declaration_created",
                 obj=declaration, unit_path=unit.path,
                 changes={"month": month.isoformat(), "si_salary_fund": [before[0], fund], "workers": [before[1], workers],
                          "source": source})
    return declaration


@transaction.atomic
def declarations_import(*, actor, rows, file_name: str, file_sha256: str) -> dict:
    """Write checked declaration rows [(row no, unit, month, fund, workers)] all or nothing
    (importing.read_declarations checks the file); one audit entry for the batch."""
    created = updated = 0
    units = {}
    for _row_no, unit, month, fund, workers in rows:
        if unit.pk not in units:
            units[unit.pk] = _grassroots_unit(actor, unit)
        existed = SalaryFundDeclaration.objects.filter(unit=unit, month=month).exists()
        _declaration_write(actor=actor, unit=units[unit.pk], month=month, fund=fund, workers=workers, source=DeclarationSource.XLSX)
        updated += existed
        created += not existed
    if rows:
        root = min((u.path for u in units.values()), key=len)
        audit_record(actor=actor, action="finance.declarations_imported", obj=rows[0][1], unit_path=root,
                     changes={"file": file_name[:200], "sha256": file_sha256, "created": created, "updated": updated})
    return {"created": created, "updated": updated}


@transaction.atomic
def fee_relief_create(*, actor, unit: Unit, kind: str, first_month: datetime.date, last_month: datetime.date,
                      reduction_bp: int = 0, decision: str) -> FeeRelief:
    """Record an exemption, reduction or suspension of an employer's union fee (at most 12 months),
    decided by an upper level: the actor must keep the books of a unit above the employer's union.
    Refused when another relief of the employer covers one of the months (``relief_overlap``)."""
    # the employer's row is locked until commit, so two decisions sent at once cannot both pass the
    # overlap check below
    unit = Unit.objects.select_for_update(of=("self",)).select_related("parent").get(pk=unit.pk)
    if unit.parent is None or not (actor is None or scoping.can(actor, Action.FINANCE, unit.parent.path)):
        _require(actor, unit.path)  # 404 outside scope; inside it, the union cannot relieve itself
        raise FinanceError(_("An exemption, reduction or suspension is decided by an upper level."), code="relief_not_upper",
                           field="unit")
    unit = _grassroots_unit(None, unit)
    if kind not in ReliefKind.values:
        raise FinanceError(_("Choose exemption, reduction or suspension."), code="relief_kind_unknown", field="kind")
    first, last = _month(first_month, "first_month"), _month(last_month, "last_month")
    if last < first:
        raise FinanceError(_("The last month is before the first."), code="months_reversed", field="last_month")
    if month_index(last) - month_index(first) + 1 > MAX_RELIEF_MONTHS:
        raise FinanceError(_("An exemption, reduction or suspension lasts at most %(n)s months.") % {"n": MAX_RELIEF_MONTHS},
                           code="relief_too_long", field="last_month")
    if kind == ReliefKind.REDUCTION:
        if not _is_int(reduction_bp) or not 0 < reduction_bp < BP:
            raise FinanceError(_("A reduction takes off between 1 and 9,999 basis points (use an exemption for all)."),
                               code="reduction_invalid", field="reduction_bp")
    else:
        reduction_bp = 0
    decision = " ".join((decision or "").split())
    if not decision:
        raise FinanceError(_("Give the number and date of the decision."), code="decision_required", field="decision")
    if FeeRelief.objects.filter(unit=unit, first_month__lte=last, last_month__gte=first).exists():
        raise FinanceError(_("Another exemption, reduction or suspension of this employer covers some of these months."),
                           code="relief_overlap", field="first_month")
    relief = FeeRelief.objects.create(unit=unit, kind=kind, first_month=first, last_month=last, reduction_bp=reduction_bp,
                                      decision=decision[:255], created_by=actor)
    audit_record(actor=actor, action="finance.relief_created", obj=relief, unit_path=unit.path,
                 changes={"kind": kind, "first_month": first.isoformat(), "last_month": last.isoformat(), "reduction_bp": reduction_bp,
                          "decision": decision[:255]})
    return relief


def _member(actor, member, *, lock: bool = False):
    from congdoan.members.models import Member

    members = Member.objects.select_related("unit")
    if lock:  # the member's row only, until commit
        members = members.select_for_update(of=("self",))
    member = members.get(pk=member.pk)
    _require(actor, member.unit.path)
    return member


@transaction.atomic
def member_salary_set(*, actor, member, valid_from: datetime.date, salary: int) -> MemberSalary:
    """Record a member's social-insurance salary from a month on (the base of his dues)."""
    member = _member(actor, member)
    valid_from = _month(valid_from, "valid_from")
    if valid_from > month_start(timezone.localdate()):
        raise FinanceError(_("The month %(month)s has not begun.") % {"month": _month_text(valid_from)},
                           code="month_future", field="valid_from")
    if not _is_int(salary) or salary < 0:
        raise FinanceError(_("The salary must be an amount in đồng, zero or more."), code="salary_invalid", field="salary")
    _refuse_closed_dues_months(member, valid_from, None, "valid_from")
    record = MemberSalary.objects.filter(member=member, valid_from=valid_from).first()
    before = record.salary if record else None
    if record is None:
        record = MemberSalary.objects.create(member=member, valid_from=valid_from, salary=salary, created_by=actor)
    else:
        record.salary = salary
        record.save(update_fields=["salary"])
    audit_record(actor=actor, action="finance.member_salary_set", obj=member, unit_path=member.unit.path,
                 changes={"salary": [before, salary], "valid_from": valid_from.isoformat()})
    return record


def _closed_dues_months(member, start: datetime.date, end: datetime.date | None) -> list[datetime.date]:
    """The months ``start``..``end`` (None: up to this month; closed months are all in the past) closed
    in the books of ``member``'s union, in order."""
    current = month_start(timezone.localdate())
    end = min(end, current) if end is not None else current
    if start > end:
        return []
    return sorted(month for _unit, month in selectors.closed_months(unit_ids=[member.unit_id], start=start, end=end))


def _refuse_closed_dues_months(member, start: datetime.date, end: datetime.date | None, field: str) -> None:
    """Refuse a change to what ``member`` owes for months ``start``..``end`` (None: up to this month) when
    one of them is closed in the books of his union (``period_closed``): what a closed month owed
    does not change."""
    closed = _closed_dues_months(member, start, end)
    if closed:
        raise FinanceError(_("The month %(month)s is closed in the books of %(unit)s: what it owed cannot change.") % {
            "month": _month_text(closed[0]), "unit": selectors.book_unit_of(member.unit)}, code="period_closed", field=field,
            params={"month": closed[0].isoformat()})


def _check_exemption_overlap(member, first: datetime.date, last: datetime.date | None) -> None:
    """Refuse months ``first``..``last`` (None: with no end) when one of the member's exemptions covers
    any of them, naming the earliest such exemption."""
    covering = DuesExemption.objects.filter(member=member).filter(Q(last_month__isnull=True) | Q(last_month__gte=first))
    if last is not None:
        covering = covering.filter(first_month__lte=last)
    found = covering.order_by("first_month", "pk").first()
    if found is None:
        return
    if found.last_month is None:
        message = _("This member is already exempt from %(first)s until further notice: two exemptions may not cover "
                    "the same month.") % {"first": _month_text(found.first_month)}
    else:
        message = _("This member is already exempt from %(first)s to %(last)s: two exemptions may not cover the same "
                    "month.") % {"first": _month_text(found.first_month), "last": _month_text(found.last_month)}
    raise FinanceError(message, code="exemption_overlap", field="first_month",
                       params={"exemption": found.pk, "first_month": found.first_month.isoformat(),
                               "last_month": found.last_month.isoformat() if found.last_month else None})


@transaction.atomic
def dues_exemption_create(*, actor, member, first_month: datetime.date, last_month: datetime.date | None, reason: str) -> DuesExemption:
    """Exempt a member from dues for some months (``last_month`` None: until further notice).

    Refused when one of his exemptions already covers one of the months (``exemption_overlap``): the
    member's row is locked until commit, so two requests sent at once cannot both pass that check."""
    member = _member(actor, member, lock=True)
    first = _month(first_month, "first_month")
    last = _month(last_month, "last_month") if last_month else None
    if last and last < first:
        raise FinanceError(_("The last month is before the first."), code="months_reversed", field="last_month")
    reason = " ".join((reason or "").split())
    if not reason:
        raise FinanceError(_("Say why the member is exempt."), code="reason_required", field="reason")
    _check_exemption_overlap(member, first, last)
    _refuse_closed_dues_months(member, first, last, "first_month")
    exemption = DuesExemption.objects.create(member=member, first_month=first, last_month=last, reason=reason[:255], created_by=actor)
    audit_record(actor=actor, action="finance.dues_exemption_created", obj=member, unit_path=member.unit.path,
                 changes={"first_month": first.isoformat(), "last_month": last.isoformat() if last else None, "reason": reason[:255]})
    return exemption


@transaction.atomic
def dues_exemption_end(*, actor, exemption: DuesExemption, last_month: datetime.date, reason: str = "") -> DuesExemption:
    """End a member's exemption earlier: ``last_month`` becomes its last exempt month and he owes dues
    again from the month after (how an exemption "until further notice" stops, e.g. when he is back at
    work). Nothing is deleted: the exemption keeps its first month and reason; the audit entry keeps
    the last month before and after, and why it ended.

    It only shortens: ``last_month`` may be neither before the first month (``months_reversed``) nor on
    or after the present last month (``exemption_not_shortened``), and the months it gives back to
    dues may not be closed in the books of the member's union (``period_closed``: what a closed month
    owed does not change). Same permission as ``dues_exemption_create`` (FINANCE on the member's unit,
    else 404); the member's row, then the exemption's, are locked until commit, so it is serialized
    with the overlap check of a new exemption."""
    from congdoan.members.models import Member

    member_id = DuesExemption.objects.filter(pk=exemption.pk).values_list("member_id", flat=True).first()
    if member_id is None:
        raise NotFoundInScope()
    member = _member(actor, Member(pk=member_id), lock=True)
    exemption = DuesExemption.objects.select_for_update().get(pk=exemption.pk)
    last = _month(last_month, "last_month")
    first, before = exemption.first_month, exemption.last_month
    if last < first:
        raise FinanceError(_("An exemption cannot end before its first month, %(first)s.") % {"first": _month_text(first)},
                           code="months_reversed", field="last_month")
    if before is not None and last >= before:
        raise FinanceError(_("This exemption already ends in %(last)s: it can only be ended earlier.") % {"last": _month_text(before)},
                           code="exemption_not_shortened", field="last_month")
    # the months that owe dues again: after ``last`` up to the old end
    closed = _closed_dues_months(member, add_months(last, 1), before)
    if closed:
        raise FinanceError(_("The month %(month)s is closed in the books of %(unit)s: the exemption cannot end before it.") % {
            "month": _month_text(closed[-1]), "unit": selectors.book_unit_of(member.unit)}, code="period_closed", field="last_month",
            params={"month": closed[-1].isoformat()})
    reason = " ".join((reason or "").split())[:255]
    exemption.last_month = last
    exemption.save(update_fields=["last_month"])
    audit_record(actor=actor, action="finance.dues_exemption_ended", obj=member, unit_path=member.unit.path,
                 changes={"exemption_id": exemption.pk, "first_month": first.isoformat(),
                          "last_month": [before.isoformat() if before else None, last.isoformat()], "reason": reason})
    return exemption


@transaction.atomic
def collection_account_set(*, actor, unit: Unit, bank_bin: str, account_number: str, account_name: str) -> CollectionAccount:
    """Set the bank account printed (with its VietQR code) on the payment notices of a unit's subtree."""
    unit = Unit.objects.get(pk=unit.pk)
    _require(actor, unit.path)
    bank_bin = (bank_bin or "").strip()
    account_number = "".join((account_number or "").split())
    account_name = " ".join((account_name or "").split())
    if not (len(bank_bin) == 6 and bank_bin.isdigit()):
        raise FinanceError(_("Choose the bank."), code="bank_bin_invalid", field="bank_bin")
    if not (account_number.isalnum() and account_number.isascii() and len(account_number) <= 19):
        raise FinanceError(_("An account number has at most 19 letters and digits."), code="account_invalid", field="account_number")
    if not account_name:
        raise FinanceError(_("Give the account holder's name."), code="required", field="account_name")
    account = CollectionAccount.objects.filter(unit=unit).first() or CollectionAccount(unit=unit)
    before = (account.bank_bin, account.account_number) if account.pk else (None, None)
    account.bank_bin, account.account_number, account.account_name, account.created_by = bank_bin, account_number, account_name[:100], actor
    account.save()
    audit_record(actor=actor, action="finance.collection_account_set", obj=account, unit_path=unit.path,
                 changes={"bank_bin": [before[0], bank_bin], "account_number": [before[1], account_number]})
    return account


# the ledger lives in ledger.py; payments, budgets, pages and tests call it from here too
from congdoan.finance.ledger import (  # noqa: E402,F401
    Line, ledger_post, period_close, receipt_post, receipt_reverse, receipt_split, split_weights, transaction_reverse,
)
