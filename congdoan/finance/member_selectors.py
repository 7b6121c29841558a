"""Reads about members' dues, for the finance officials' member pages and for the member himself.

* an official sees a member of his FINANCE subtree (anything else is a 404): the salary history,
  the exemptions, and each month's dues with how it was computed;
* a member sees his own dues month by month (owed, paid, balance), his payments and the cash
  receipts that carry them.

The amounts owed always come from ``selectors.member_dues_owed`` (the one computation of dues);
this module only adds the explanation printed beside them (which rule applied: the rate, the floor,
the cap, the union's own rate, an exemption) and the payments side, read from payments'
``Allocation`` rows (the part of a bank line or cash receipt that pays one member's month).
"""

import datetime

from django.db.models import Q, Sum
from django.utils import timezone

from congdoan.accounts.choices import Action
from congdoan.core.errors import NotFoundInScope
from congdoan.core.text import normalize_search
from congdoan.finance import selectors
from congdoan.finance.choices import RuleKind
from congdoan.finance.models import DuesExemption, MemberSalary
from congdoan.finance.money import add_months, apply_rate, month_start
from congdoan.finance.rules import RuleBook, unit_rate_on, unit_rates
from congdoan.members.models import Member
from congdoan.organizations.models import Unit


def this_month(today: datetime.date | None = None) -> datetime.date:
    return month_start(today or timezone.localdate())


# -- which members ---------------------------------------------------------------------------------------------
def members_in_scope(user, *, unit: Unit | None = None, q: str = ""):
    """Members of the user's FINANCE subtrees (of ``unit``'s subtree when given), by name; ``q`` searches
    the name (accents and case ignored) or the member code."""
    members = Member.objects.restrict(user, Action.FINANCE).select_related("unit")
    if unit is not None:
        members = members.in_subtree(unit.path)
    q = (q or "").strip()
    if q:
        members = members.filter(Q(name_normalized__contains=normalize_search(q)) | Q(code__iexact=q))
    return members.order_by("name_normalized", "id")


def unit_for_members(user, pk) -> Unit:
    """A unit of the user's FINANCE subtree whose members are listed (any level); else 404."""
    unit = Unit.objects.restrict(user, Action.FINANCE).filter(pk=pk).first()
    if unit is None:
        raise NotFoundInScope()
    return unit


def member_in_scope(user, pk) -> Member:
    """A member whose dues the user keeps (FINANCE on his unit); 404 otherwise."""
    member = Member.objects.restrict(user, Action.FINANCE).select_related("unit").filter(pk=pk).first()
    if member is None:
        raise NotFoundInScope()
    return member


def own_member(user) -> Member:
    """The member record of the logged-in user; 404 for a login that is not a member's."""
    member = Member.objects.select_related("unit").filter(user_id=user.pk).first() if user.is_authenticated else None
    if member is None:
        raise NotFoundInScope()
    return member


# -- the facts ------------------------------------------------------------------------------------------------
def salary_history(member: Member) -> list[MemberSalary]:
    """The member's salary records, newest first."""
    return list(MemberSalary.objects.filter(member=member).select_related("created_by").order_by("-valid_from"))


def exemption_history(member: Member) -> list[DuesExemption]:
    return list(DuesExemption.objects.filter(member=member).select_related("created_by").order_by("-first_month"))


def salaries_in_force(member_ids, month: datetime.date) -> dict[int, int]:
    """{member id: salary in force in ``month``} for the members that have one (one query)."""
    found = {}
    for member_id, salary in (MemberSalary.objects.filter(member_id__in=list(member_ids), valid_from__lte=month)
                              .order_by("member_id", "valid_from").values_list("member_id", "salary")):
        found[member_id] = salary  # ordered by date: the last one is in force
    return found


def dues_this_month(members, month: datetime.date) -> None:
    """Set ``salary`` and ``dues`` (a member_dues_owed row, or None) on each member of a page:
    a fixed number of queries whatever the number of members."""
    ids = [m.pk for m in members]
    salaries = salaries_in_force(ids, month)
    rows = {r["member"]: r for r in selectors.member_dues_owed(member_ids=ids, start=month, end=month)} if ids else {}
    for member in members:
        member.salary = salaries.get(member.pk)
        member.dues = rows.get(member.pk)


def paid_by_month(member: Member) -> dict[datetime.date, int]:
    """{month paid for: amount} of the member's dues payments (bank lines and cash receipts)."""
    from congdoan.payments.models import Allocation

    rows = (Allocation.objects.filter(member=member).values_list("period").annotate(s=Sum("amount"))
            .values_list("period", "s").order_by())
    return {period: amount for period, amount in rows if amount}


# -- dues explained ------------------------------------------------------------------------------------------
def _in_force(history, month):
    """The value of the last (valid_from, value) not after ``month``; ``history`` is sorted by date."""
    found = None
    for valid_from, value in history:
        if valid_from <= month:
            found = value
    return found


def explain(rows: list[dict], member: Member, salaries: list[MemberSalary], exemptions: list[DuesExemption]) -> list[dict]:
    """member_dues_owed rows of one member, each with how it came about:

    ``basis``: "rate" (the general rate of the salary), "floor" (raised to the floor), "cap"
    (lowered to the cap), "no_salary" (no salary recorded: the floor), "exempt_employer",
    "exempt_member" (with ``exemption``), "no_rule"; plus the figures used: ``salary``, ``rate_bp``,
    ``base_salary``, ``floor``/``floor_bp``, ``cap``/``cap_bp``, ``own_rate_bp`` (the union's own rate,
    0 when none) and ``computed`` (rate × salary before the floor and cap).
    """
    rules = RuleBook()
    book = selectors.book_unit_of(member.unit)
    own = unit_rates([book.pk])
    history = sorted((s.valid_from, s.salary) for s in salaries)
    result = []
    for row in rows:
        month = row["month"]
        item = {**row, "salary": _in_force(history, month), "rate_bp": None, "base_salary": rules.base_salary(month),
                "floor": 0, "floor_bp": rules.value(RuleKind.DUES_FLOOR, month), "cap": None,
                "cap_bp": rules.value(RuleKind.DUES_CAP, month), "own_rate_bp": 0, "computed": None, "exemption": None}
        terms = rules.dues_terms(month)
        if terms is not None:
            item.update(rate_bp=terms.rate_bp, floor=terms.floor, cap=terms.cap)
        note = row["note"]
        if note in ("no_rule", "exempt_employer"):
            item["basis"] = note
        elif note == "exempt_member":
            item["basis"] = note
            item["exemption"] = next((e for e in exemptions if e.first_month <= month and (e.last_month is None or month <= e.last_month)),
                                     None)
        elif item["salary"] is None:
            item["basis"] = "no_salary"
        else:
            computed = apply_rate(item["salary"], terms.rate_bp)
            item["computed"] = computed
            item["own_rate_bp"] = unit_rate_on(own, book.pk, month)
            if computed < terms.floor:
                item["basis"] = "floor"
            elif terms.cap is not None and computed > terms.cap:
                item["basis"] = "cap"
            else:
                item["basis"] = "rate"
        result.append(item)
    return result


def dues_statement(member: Member, *, year: int, today: datetime.date | None = None,
                   salaries: list[MemberSalary] | None = None, exemptions: list[DuesExemption] | None = None) -> dict:
    """A member's dues account: per month of ``year`` (up to this month) what he owes and why, what he
    paid for it and the running balance; and over his whole membership the totals and what is left to
    pay now (this month included). Payments cover the oldest months first, as on the arrears page.

    Returns {"rows", "owed", "paid", "balance", "to_pay", "month"}.
    """
    from congdoan.payments.arrears import month_table

    current = this_month(today)
    first = month_start(member.joined_on)
    salaries = salary_history(member) if salaries is None else salaries
    exemptions = exemption_history(member) if exemptions is None else exemptions
    owed_rows = selectors.member_dues_owed(member_ids=[member.pk], start=first, end=current) if first <= current else []
    explained = {r["month"]: r for r in explain(owed_rows, member, salaries, exemptions)}
    owed = {month: r["total"] for month, r in explained.items()}
    paid = paid_by_month(member)
    table = month_table(owed, paid, add_months(current, 1))  # as of next month: this month's dues count as due
    rows = []
    for row in table:
        month = row["month"]
        if month.year != year or (month > current and not row["paid"]):
            continue
        rows.append({**row, "dues": explained.get(month)})
    return {
        "rows": rows, "owed": sum(owed.values()), "paid": sum(paid.values()), "balance": sum(owed.values()) - sum(paid.values()),
        "to_pay": sum(r["unpaid"] for r in table), "month": current,
    }


# -- the member's payments -------------------------------------------------------------------------------------
def payments_of(member: Member, *, year: int | None = None):
    """The parts of bank transfers and cash receipts that paid the member's dues, newest first."""
    from congdoan.payments.models import Allocation

    allocations = Allocation.objects.filter(member=member).select_related("cash_receipt", "transaction", "unit")
    if year:
        allocations = allocations.filter(period__gte=datetime.date(year, 1, 1), period__lt=datetime.date(year + 1, 1, 1))
    return allocations.order_by("-paid_on", "-id")


def receipt_in_reach(user, pk):
    """(cash receipt, the allocations shown on it): a receipt that paid the logged-in member's own dues
    (only his parts are shown), or one the user keeps the books of (FINANCE on its unit). Else 404."""
    from congdoan.payments.models import Allocation, CashReceipt

    receipt = CashReceipt.objects.restrict(user, Action.FINANCE).select_related("unit").filter(pk=pk).first()
    if receipt is not None:
        return receipt, list(Allocation.objects.filter(cash_receipt=receipt).order_by("period", "part"))
    member = Member.objects.filter(user_id=user.pk).values_list("pk", flat=True).first() if user.is_authenticated else None
    if member is not None:
        allocations = list(Allocation.objects.filter(cash_receipt_id=pk, member_id=member).select_related("cash_receipt__unit")
                           .order_by("period", "part"))
        if allocations:
            return allocations[0].cash_receipt, allocations
    raise NotFoundInScope()
