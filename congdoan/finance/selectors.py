"""Reads of finance: what is owed, closed months, balances, the journal, arrears.

The functions payments calls (``union_fee_owed``, ``closed_months``) take unit ids and trust the
caller's scope, like every selector fed with ids that a scoped query produced; page-facing reads
take the ``user`` and go through ``restrict(user, Action.FINANCE)``.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Max, Q, Sum

from congdoan.accounts.choices import Action
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.finance.choices import BP, DEBIT_NORMAL, ReliefKind, Source, account_type
from congdoan.finance.models import (
    Account, AccountBalance, CollectionAccount, DuesExemption, Entry, FeeRelief, MemberSalary, Period, Receipt, SalaryFundDeclaration,
    Transaction,
)
from congdoan.finance.money import add_months, apply_rate, month_end, month_index, month_start, months_between
from congdoan.finance.rules import RuleBook, member_dues, unit_rate_on, unit_rates
from congdoan.organizations.choices import Level
from congdoan.organizations.models import Unit
from congdoan.payments.arrears import EmployerArrears
from congdoan.payments.choices import AGE_BUCKETS

#: levels whose units keep no books of their own: their money is in their grassroots union's books
BELOW_GRASSROOTS = {Level.SUB_UNION, Level.UNION_GROUP}
FIRST_MONTH = datetime.date(2000, 1, 1)


# -- whose books ------------------------------------------------------------------------------------------
def book_units(unit_ids) -> dict[int, int]:
    """{unit id: id of the unit whose books it belongs to}: itself, or the grassroots union above a
    sub-union or union group."""
    units = list(Unit.objects.filter(pk__in=list(unit_ids)).values_list("pk", "path", "level"))
    result = {pk: pk for pk, _path, level in units if level not in BELOW_GRASSROOTS}
    below = [(pk, path) for pk, path, level in units if level in BELOW_GRASSROOTS]
    if below:
        wanted = {a for _pk, path in below for a in tree.ancestors_of(path)}
        grassroots = dict(Unit.objects.filter(path__in=wanted, level=Level.GRASSROOTS).values_list("path", "pk"))
        for pk, path in below:
            for ancestor in reversed(tree.ancestors_of(path)):
                if ancestor in grassroots:
                    result[pk] = grassroots[ancestor]
                    break
    return result


def book_unit_of(unit: Unit) -> Unit:
    if unit.level not in BELOW_GRASSROOTS:
        return unit
    found = Unit.objects.filter(path__in=tree.ancestors_of(unit.path), level=Level.GRASSROOTS).order_by("-depth").first()
    return found or unit


# -- closed months ------------------------------------------------------------------------------------------
def closed_months(*, unit_ids, start: datetime.date, end: datetime.date) -> set[tuple[int, datetime.date]]:
    """{(unit id, first day of month)} of the closed months between start and end, for the given units
    (a sub-union's months are its grassroots union's)."""
    books = book_units(unit_ids)
    if not books:
        return set()
    closed = defaultdict(set)
    for unit_id, month in Period.objects.filter(unit_id__in=set(books.values()), month__gte=month_start(start),
                                                month__lte=end).values_list("unit_id", "month"):
        closed[unit_id].add(month)
    return {(unit_id, month) for unit_id, book in books.items() for month in closed.get(book, ())}


def is_closed(unit_id: int, day: datetime.date) -> bool:
    return Period.objects.filter(unit_id=unit_id, month=month_start(day)).exists()


def last_closed_month(unit_id: int, before: datetime.date | None = None) -> datetime.date | None:
    periods = Period.objects.filter(unit_id=unit_id)
    if before is not None:
        periods = periods.filter(month__lt=before)
    return periods.aggregate(m=Max("month"))["m"]


# -- the union fee owed ------------------------------------------------------------------------------------------
def _reliefs(unit_filter: Q, start: datetime.date, end: datetime.date) -> dict[int, list]:
    found = defaultdict(list)
    for relief in FeeRelief.objects.filter(unit_filter, first_month__lte=end, last_month__gte=add_months(start, -12)):
        found[relief.unit_id].append(relief)
    return found


def _union_fee_rows(unit_filter: Q, start: datetime.date, end: datetime.date):
    """Rows (unit id, month, amount owed) from the declarations of the units ``unit_filter`` selects
    (a Q over SalaryFundDeclaration/FeeRelief's ``unit``).

    Per month: the rate in force times the declared fund (rounded to the đồng, halves up); 0 for an
    employer type exempt that month; an exemption gives 0, a reduction takes its share off, and a
    suspension moves the amount to the month after it ends (when the employer pays it back).
    """
    start, end = month_start(start), month_start(end)
    rules = RuleBook()
    reliefs = _reliefs(unit_filter, start, end)
    suspended = [unit_id for unit_id, found in reliefs.items() if any(r.kind == ReliefKind.SUSPENSION for r in found)]
    declarations = SalaryFundDeclaration.objects.filter(unit_filter)
    wanted = Q(month__gte=start, month__lte=end)
    if suspended:  # what a suspension before ``start`` moved into the range
        wanted |= Q(unit_id__in=suspended, month__gte=add_months(start, -12), month__lt=start)
    rows = declarations.filter(wanted).values_list("unit_id", "month", "si_salary_fund", "unit__employer_type").iterator(chunk_size=20_000)
    rate_of, exempt_of = {}, {}
    owed: dict[tuple[int, datetime.date], int] = {}
    moved: dict[tuple[int, datetime.date], int] = defaultdict(int)
    for unit_id, month, fund, employer_type in rows:
        rate = rate_of.get(month, -1)
        if rate == -1:
            rate = rate_of[month] = rules.union_fee_rate(month)
        if rate is None:
            continue  # no rule in force: nothing can be owed
        key = (employer_type, month)
        exempt = exempt_of.get(key)
        if exempt is None:
            exempt = exempt_of[key] = rules.exempt(Source.UNION_FEE, employer_type, month)
        amount = 0 if exempt else apply_rate(fund, rate)
        for relief in reliefs.get(unit_id, ()):
            if relief.first_month <= month <= relief.last_month:
                if relief.kind == ReliefKind.EXEMPTION:
                    amount = 0
                elif relief.kind == ReliefKind.REDUCTION:
                    amount -= apply_rate(amount, relief.reduction_bp)
                else:
                    moved[(unit_id, add_months(relief.last_month, 1))] += amount
                    amount = 0
        if month >= start:
            owed[(unit_id, month)] = amount
    for key, amount in moved.items():
        if start <= key[1] <= end:
            owed[key] = owed.get(key, 0) + amount
    return [(unit_id, month, amount) for (unit_id, month), amount in owed.items()]


def union_fee_owed(*, unit_ids, start: datetime.date, end: datetime.date) -> list[tuple[int, datetime.date, int]]:
    """Rows (employer unit id, month, union fee owed) for the months start..end that have a declaration
    (or receive an amount a suspension moved). This is what payments' arrears page shows as owed."""
    return _union_fee_rows(Q(unit_id__in=list(unit_ids)), start, end)


def union_fee_owed_in_subtree(path: str, start: datetime.date, end: datetime.date):
    """The same rows for every employer of a subtree, selected by path range instead of a list of ids."""
    return _union_fee_rows(tree.subtree_q("unit__path", path), start, end)


def union_fee_paid(unit_filter: Q, start: datetime.date, end: datetime.date) -> dict[int, dict[datetime.date, int]]:
    """{employer unit id: {month paid for: amount}} from the receipts posted to the ledger (reversals subtracted)."""
    paid = defaultdict(dict)
    rows = (Receipt.objects.filter(unit_filter, source=Source.UNION_FEE, period__gte=month_start(start), period__lte=end)
            .values_list("unit_id", "period").annotate(s=Sum("amount")).values_list("unit_id", "period", "s").order_by())
    for unit_id, period, amount in rows:
        if amount:
            paid[unit_id][period] = amount
    return paid


def notice_for(employer: Unit, month: datetime.date) -> dict:
    """What a payment notice shows for an employer's month: the month's fee, earlier unpaid months,
    the reference and the account to pay to."""
    from congdoan.finance.references import payment_reference_for
    from congdoan.payments.arrears import month_table

    month = month_start(month)
    owed = {m: a for _u, m, a in union_fee_owed(unit_ids=[employer.pk], start=FIRST_MONTH, end=month)}
    paid = union_fee_paid(Q(unit_id=employer.pk), FIRST_MONTH, month).get(employer.pk, {})
    table = month_table(owed, paid, add_months(month, 1))
    row = next((r for r in table if r["month"] == month), None)
    earlier = sum(r["unpaid"] for r in table if r["month"] < month)
    declaration = SalaryFundDeclaration.objects.filter(unit=employer, month=month).first()
    return {
        "month": month, "declaration": declaration, "owed": owed.get(month), "unpaid": row["unpaid"] if row else 0,
        "earlier_unpaid": earlier, "reference": payment_reference_for(kind="employer", payer_id=employer.pk),
        "account": collection_account_for(employer),
    }


def collection_account_for(unit: Unit) -> CollectionAccount | None:
    """The nearest collection account up the tree (the unit's own, else its parent's…)."""
    paths = [*tree.ancestors_of(unit.path), unit.path]
    accounts = {a.unit.path: a for a in CollectionAccount.objects.filter(unit__path__in=paths).select_related("unit")}
    for path in reversed(paths):
        if path in accounts:
            return accounts[path]
    return None


# -- dues owed by members -----------------------------------------------------------------------------------
def member_dues_owed(*, member_ids, start: datetime.date, end: datetime.date) -> list[dict]:
    """Per member and month start..end: dues owed as {"member", "month", "standard", "extra", "total", "note"}.

    The salary is the member's ``MemberSalary`` in force that month (none recorded: the floor). Only
    active members owe, from the month they joined. ``note``: "" or "exempt_employer" (his employer
    type is exempt), "exempt_member" (a DuesExemption), "no_rule" (no dues rule in force), "no_salary".
    ``extra`` is what the grassroots union's own higher rate adds; it stays with the union.
    """
    from congdoan.members.choices import MemberStatus
    from congdoan.members.models import Member

    start, end = month_start(start), month_start(end)
    members = list(Member.objects.filter(pk__in=list(member_ids)).values_list("pk", "unit_id", "joined_on", "status"))
    books = book_units({m[1] for m in members})
    employer_types = dict(Unit.objects.filter(pk__in=set(books.values())).values_list("pk", "employer_type"))
    own_rates = unit_rates(set(books.values()))
    salaries = defaultdict(list)
    for member_id, valid_from, salary in (MemberSalary.objects.filter(member_id__in=[m[0] for m in members], valid_from__lte=end)
                                          .order_by("valid_from").values_list("member_id", "valid_from", "salary")):
        salaries[member_id].append((valid_from, salary))
    exemptions = defaultdict(list)
    for member_id, first, last in DuesExemption.objects.filter(member_id__in=[m[0] for m in members], first_month__lte=end).values_list(
            "member_id", "first_month", "last_month"):
        exemptions[member_id].append((first, last))
    rules = RuleBook()
    rows = []
    for member_id, unit_id, joined_on, status in members:
        if status != MemberStatus.ACTIVE:
            continue
        book = books.get(unit_id, unit_id)
        for month in months_between(max(start, month_start(joined_on)), end):
            row = {"member": member_id, "month": month, "standard": 0, "extra": 0, "total": 0, "note": ""}
            terms = rules.dues_terms(month)
            salary = None
            for valid_from, value in salaries.get(member_id, ()):
                if valid_from <= month:
                    salary = value
            if terms is None:
                row["note"] = "no_rule"
            elif rules.exempt(Source.DUES, employer_types.get(book, ""), month):
                row["note"] = "exempt_employer"
            elif any(first <= month and (last is None or month <= last) for first, last in exemptions.get(member_id, ())):
                row["note"] = "exempt_member"
            else:
                if salary is None:
                    row["note"] = "no_salary"
                standard, extra = member_dues(terms, salary or 0, unit_rate_on(own_rates, book, month) if salary else 0)
                row.update(standard=standard, extra=extra, total=standard + extra)
            rows.append(row)
    return rows


# -- balances ------------------------------------------------------------------------------------------
def _signed(code: str, debit: int, credit: int) -> int:
    return debit - credit if account_type(code) in DEBIT_NORMAL else credit - debit


def account_balance(account: Account, on: datetime.date) -> dict:
    """{"debit", "credit", "balance"} of an account: everything posted up to and including ``on``.

    The last monthly snapshot before ``on``'s month (written when that month closed) plus the entries
    after it: one index lookup and one short range of the (account, date, debit, credit) index.
    """
    snapshot = (AccountBalance.objects.filter(account_id=account.pk, month__lt=month_start(on)).order_by("-month")
                .values_list("month", "debit", "credit").first())
    debit = credit = 0
    entries = Entry.objects.filter(account_id=account.pk, date__lte=on)
    if snapshot:
        month, debit, credit = snapshot
        entries = entries.filter(date__gt=month_end(month))
    sums = entries.aggregate(d=Sum("debit"), c=Sum("credit"))
    debit += sums["d"] or 0
    credit += sums["c"] or 0
    return {"debit": debit, "credit": credit, "balance": _signed(account.code, debit, credit)}


def unit_balances(unit: Unit, on: datetime.date) -> list[dict]:
    """Every account of a unit with its debits, credits and balance up to ``on`` (a trial balance);
    three queries whatever the number of accounts."""
    accounts = list(Account.objects.filter(unit=unit).order_by("code"))
    last = last_closed_month(unit.pk, before=month_start(on))
    totals = {a.pk: [0, 0] for a in accounts}
    # by account, not by unit: each account's range is then read from the covering (account, date, debit, credit) index
    entries = Entry.objects.filter(account_id__in=list(totals), date__lte=on)
    if last:
        for account_id, debit, credit in AccountBalance.objects.filter(account__unit=unit, month=last).values_list(
                "account_id", "debit", "credit"):
            totals[account_id] = [debit, credit]
        entries = entries.filter(date__gt=month_end(last))
    for account_id, debit, credit in entries.values_list("account_id").annotate(d=Sum("debit"), c=Sum("credit")).values_list(
            "account_id", "d", "c").order_by():
        totals[account_id][0] += debit or 0
        totals[account_id][1] += credit or 0
    return [{"account": a, "debit": totals[a.pk][0], "credit": totals[a.pk][1], "balance": _signed(a.code, *totals[a.pk])}
            for a in accounts]


# -- scoped reads for pages ------------------------------------------------------------------------------------
def finance_units(user):
    """The units the user keeps or oversees the books of (FINANCE action), excluding below grassroots."""
    return Unit.objects.restrict(user, Action.FINANCE).exclude(level__in=BELOW_GRASSROOTS)


def has_finance(user) -> bool:
    return bool(scoping.granted_paths(user, Action.FINANCE))


def finance_roots(user):
    return finance_units(user).filter(path__in=scoping.granted_paths(user, Action.FINANCE)).order_by("path")


def unit_in_scope(user, pk) -> Unit:
    unit = finance_units(user).filter(pk=pk).first()
    if unit is None:
        raise NotFoundInScope()
    return unit


def employer_in_scope(user, pk) -> Unit:
    unit = finance_units(user).filter(pk=pk, level=Level.GRASSROOTS).first()
    if unit is None:
        raise NotFoundInScope()
    return unit


def declarations_of(user, *, unit: Unit | None = None, month: datetime.date | None = None):
    rows = SalaryFundDeclaration.objects.restrict(user, Action.FINANCE).select_related("unit", "declared_by")
    if unit is not None:
        rows = rows.in_subtree(unit.path)
    if month is not None:
        rows = rows.filter(month=month)
    return rows.order_by("-month", "unit__path")


def reliefs_of(user):
    return FeeRelief.objects.restrict(user, Action.FINANCE).select_related("unit", "created_by").order_by("-first_month", "unit__path")


def journal(user, unit: Unit):
    """The unit's ledger entries, newest first, each with its account and transaction."""
    return (Entry.objects.restrict(user, Action.FINANCE).filter(unit=unit)
            .select_related("account", "transaction", "transaction__reverses", "transaction__created_by")
            .order_by("-date", "-transaction_id", "id"))


def reversed_transactions(transaction_ids) -> set[int]:
    """Those of the transactions (ids of a journal the user may read) that a reversal cancels. Not restricted to the
    user's scope: a statement's summary is the province's transaction and so is its reversal, whose lines a union's
    official reads in his own journal; that the summary is reversed is what his journal must say."""
    ids = list(transaction_ids)
    return set(Transaction.objects.filter(reverses_id__in=ids).values_list("reverses_id", flat=True)) if ids else set()


def transaction_in_scope(user, pk, unit: Unit) -> Transaction:
    """A transaction that touches ``unit``'s books, if the user keeps them."""
    found = Transaction.objects.restrict(user, Action.FINANCE).filter(pk=pk).first()
    if found is None:
        found = Transaction.objects.filter(pk=pk, entries__unit=unit).first() if scoping.can(user, Action.FINANCE, unit.path) else None
    if found is None:
        raise NotFoundInScope()
    return found


def receipt_in_scope(user, pk) -> Receipt:
    """A receipt of a union whose books the user keeps."""
    found = Receipt.objects.restrict(user, Action.FINANCE).filter(pk=pk).first()
    if found is None:
        raise NotFoundInScope()
    return found


def reversed_receipts(user, receipt_ids) -> set[int]:
    """Those of the receipts (ids) that a reversal cancels (a reversal is in its receipt's union)."""
    return set(Receipt.objects.restrict(user, Action.FINANCE).filter(reversal_of__in=list(receipt_ids))
               .values_list("reversal_of_id", flat=True))


def receipts_of_transaction(user, transaction: Transaction, unit: Unit):
    """The receipts of a (summary) transaction received by unions of ``unit``'s subtree that the user keeps,
    with their union and member, in the order posted."""
    return (Receipt.objects.restrict(user, Action.FINANCE).in_subtree(unit.path).filter(transaction=transaction)
            .select_related("unit", "member").order_by("id"))


def periods_of(unit: Unit, limit: int = 36):
    return Period.objects.filter(unit=unit).select_related("closed_by").order_by("-month")[:limit]


def open_months(unit: Unit, today: datetime.date) -> list[datetime.date]:
    """Months that can be closed now: after the last closed one (or the first month with entries),
    up to the month before this one."""
    last = last_closed_month(unit.pk)
    current = month_start(today)
    if last:
        first = add_months(last, 1)
    else:
        first_entry = Entry.objects.filter(unit=unit).order_by("date").values_list("date", flat=True).first()
        first = month_start(first_entry) if first_entry else add_months(current, -1)
    return [m for m in months_between(first, add_months(current, -1))][-24:]


# -- arrears ---------------------------------------------------------------------------------------------------
@dataclass
class SubtreeArrears(EmployerArrears):
    """One employer's union fee figures from ``arrears_of_subtree``: payments' ``EmployerArrears`` as
    of a month (owed and paid up to that month, since January of its year, the unpaid rest by age)
    and, when a period was asked for, what was owed for and received for the months of the period."""

    owed_period: int = 0
    paid_period: int = 0


def arrears_of_subtree(path: str, as_of: datetime.date, *,
                       period: tuple[datetime.date, datetime.date] | None = None) -> dict[int, SubtreeArrears]:
    """The union fee arrears of every employer of the subtree at ``path`` as of a month:
    {employer unit id: SubtreeArrears}. The one public read of arrears for a subtree: finance's
    arrears report and the finance reports (collection dashboard, employer list, reminders) use it.

    For each employer: ``owed_total``/``paid_total`` (every month up to ``as_of`` included),
    ``owed_year``/``paid_year`` (from January of ``as_of``'s year), ``buckets`` ({age bucket key:
    unpaid}), with payments' arithmetic (``payments.arrears``): the month ``as_of`` is not yet due,
    payments cover the oldest months first; "paid" is what the ledger received (receipts by the
    month they pay for, reversals subtracted). With ``period`` = (first month, last month), also
    ``owed_period``/``paid_period``: the fee owed for and received for the months of the period
    (which may end after ``as_of``), as ``union_fee_owed_in_subtree`` and ``union_fee_paid`` count them.

    Every unit of the subtree with a declaration or a receipt in those months is in the result,
    whatever its level or employer type; others are absent (zero figures). Like the other path and
    id selectors it trusts the caller: page-facing callers check the user's scope of ``path`` first.

    Cost: two grouped queries over the subtree's declarations and receipts (``_arrears_in_sql``),
    whatever the number of employers; the employers with an exemption, reduction or suspension
    (``FeeRelief``; a suspension moves fees between months) are computed month by month in Python
    (``_arrears_in_python``), a test checks that both ways agree.
    """
    as_of = month_start(as_of)
    if period is not None:
        period = (month_start(period[0]), month_start(period[1]))
    relieved = set(FeeRelief.objects.filter(tree.subtree_q("unit__path", path)).values_list("unit_id", flat=True))
    figures = _arrears_in_sql(path, as_of, relieved, period=period)
    if relieved:
        figures.update(_arrears_in_python(sorted(relieved), as_of, period=period))
    return figures


def _arrears_in_python(unit_ids, as_of: datetime.date, *, period: tuple[datetime.date, datetime.date] | None = None) -> dict:
    """{employer id: SubtreeArrears} the plain way: owed and paid per month, then payments' arithmetic.
    Used for employers with an exemption, reduction or suspension (a suspension moves amounts between
    months), and by the tests as the reference the SQL below must agree with."""
    from congdoan.payments.arrears import employer_arrears

    owed = defaultdict(dict)
    for unit_id, month, amount in union_fee_owed(unit_ids=unit_ids, start=FIRST_MONTH, end=as_of):
        owed[unit_id][month] = amount
    paid = union_fee_paid(Q(unit_id__in=list(unit_ids)), FIRST_MONTH, as_of)
    result = {}
    for pk in unit_ids:
        plain = employer_arrears(pk, owed.get(pk, {}), paid.get(pk, {}), as_of)
        result[pk] = SubtreeArrears(pk, plain.owed_total, plain.paid_total, plain.owed_year, plain.paid_year, plain.buckets)
    if period is not None:
        for unit_id, _month, amount in union_fee_owed(unit_ids=unit_ids, start=period[0], end=period[1]):
            result[unit_id].owed_period += amount
        for unit_id, by_month in union_fee_paid(Q(unit_id__in=list(unit_ids)), period[0], period[1]).items():
            result[unit_id].paid_period += sum(by_month.values())
    return result


def _tail_buckets(owed_by_age: list[int], unpaid: int) -> dict:
    """Payments cover the oldest months first, so what is unpaid is the newest months' fees: fill the
    age bands from the newest (age 0, the month of ``as_of``, not yet due) back with ``unpaid``.
    ``owed_by_age``: the fees of age 0 then of each AGE_BUCKETS band. Returns {bucket key: unpaid}."""
    left = max(unpaid, 0)
    left -= min(owed_by_age[0], left)
    buckets = {}
    for (key, *_rest), owed in zip(AGE_BUCKETS, owed_by_age[1:]):
        part = min(owed, left)
        if part:
            buckets[key] = part
        left -= part
    return buckets


def _arrears_in_sql(path: str, as_of: datetime.date, skip: set[int], *,
                    period: tuple[datetime.date, datetime.date] | None = None) -> dict:
    """{employer id: SubtreeArrears} for the employers of a subtree, computed from two grouped queries.

    The same arithmetic as payments.arrears without going month by month in Python: the database
    sums, per employer, the fees of the declared months (the month's rate times the fund, rounded
    halves up; 0 for an exempt employer type) by age band, and what was paid up to ``as_of``. As
    payments cover the oldest months first, the unpaid rest (owed − paid) is the newest months' fees,
    so it is spread over the age bands from the newest back (``_tail_buckets``). A province's 5,000
    employers × 24 months is one aggregation over 120,000 index entries. The same two scans sum the
    months of ``period`` when one is given. Employers in ``skip`` (with an exemption, reduction or
    suspension) are left to ``_arrears_in_python``.
    """
    from django.db import connection, transaction

    as_of = month_start(as_of)
    last = max(as_of, period[1]) if period else as_of
    rules = RuleBook()
    end = tree.successor(path) or "~"
    first = (SalaryFundDeclaration.objects.filter(unit__path__gte=path, unit__path__lt=end).order_by("month")
             .values_list("month", flat=True).first())
    months = [m for m in months_between(first, last) if rules.union_fee_rate(m) is not None] if first and first <= last else []
    as_of_index, year_index = month_index(as_of), month_index(as_of.replace(month=1))
    ages = [(0, 0)] + [(low, high) for _key, _label, low, high in AGE_BUCKETS]
    # sums cast back to bigint: PostgreSQL's SUM(bigint) is numeric, read as slower Decimals
    by_age = ", ".join(f"CAST(SUM(CASE WHEN {as_of_index} - o.idx >= {int(low)}"
                       + (f" AND {as_of_index} - o.idx <= {int(high)}" if high is not None else "") + " THEN o.fee ELSE 0 END) AS bigint)"
                       for low, high in ages)
    if period:
        in_period = (f"CAST(SUM(CASE WHEN o.idx >= {month_index(period[0])} AND o.idx <= {month_index(period[1])} "
                     "THEN o.fee ELSE 0 END) AS bigint)")
        paid_in_period = "CAST(SUM(CASE WHEN r.period >= %s AND r.period <= %s THEN r.amount ELSE 0 END) AS bigint)"
    else:
        in_period = paid_in_period = "0"
    skip_sql = f"AND d.unit_id NOT IN ({', '.join(['%s'] * len(skip))})" if skip else ""
    owed_rows, paid_rows = [], []
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL work_mem = '64MB'")  # aggregate 100,000s of rows in memory, for this query only
        if months:
            params: list = []
            for m in months:
                params += [m, month_index(m), rules.union_fee_rate(m)]
            exempt = [(m, etype) for m in months for etype in rules.exempt_types(Source.UNION_FEE, m)]
            for m, etype in exempt:
                params += [m, etype]
            params += [path, end, last, *skip]
            cursor.execute(f"""
                WITH rates (month, idx, rate) AS (VALUES {", ".join(["(%s, %s, %s)"] * len(months))}),
                exempt (month, employer_type) AS (VALUES {", ".join(["(%s, %s)"] * len(exempt)) if exempt
                                                          else "(CAST(NULL AS date), CAST(NULL AS varchar(20)))"})
                SELECT o.unit_id, CAST(SUM(CASE WHEN o.idx <= {as_of_index} THEN o.fee ELSE 0 END) AS bigint),
                       CAST(SUM(CASE WHEN o.idx >= {year_index} AND o.idx <= {as_of_index} THEN o.fee ELSE 0 END) AS bigint),
                       {in_period}, {by_age}
                FROM (
                    SELECT d.unit_id, r.idx,
                           CASE WHEN x.month IS NULL THEN (d.si_salary_fund * r.rate + 5000) / 10000 ELSE 0 END AS fee
                    FROM finance_salaryfunddeclaration d
                    JOIN organizations_unit u ON u.id = d.unit_id
                    JOIN rates r ON r.month = d.month
                    LEFT JOIN exempt x ON x.month = d.month AND x.employer_type = u.employer_type
                    WHERE u.path >= %s AND u.path < %s AND d.month <= %s {skip_sql}
                ) o
                GROUP BY o.unit_id""", params)
            owed_rows = cursor.fetchall()
        cursor.execute(f"""
            SELECT r.unit_id, CAST(SUM(CASE WHEN r.period <= %s THEN r.amount ELSE 0 END) AS bigint),
                   CAST(SUM(CASE WHEN r.period >= %s AND r.period <= %s THEN r.amount ELSE 0 END) AS bigint), {paid_in_period}
            FROM finance_receipt r JOIN organizations_unit u ON u.id = r.unit_id
            WHERE u.path >= %s AND u.path < %s AND r.source = %s AND r.period <= %s
            GROUP BY r.unit_id""", [as_of, as_of.replace(month=1), as_of, *(period or ()), path, end, Source.UNION_FEE.value, last])
        paid_rows = cursor.fetchall()
    # every sum is cast to bigint in SQL: plain ints on both databases, no Decimal to convert
    paid = {unit_id: (paid_total, paid_year, paid_period) for unit_id, paid_total, paid_year, paid_period in paid_rows
            if unit_id not in skip}
    result = {}
    for unit_id, owed_total, owed_year, owed_period, *owed_by_age in owed_rows:
        paid_total, paid_year, paid_period = paid.pop(unit_id, (0, 0, 0))
        result[unit_id] = SubtreeArrears(unit_id, owed_total, paid_total, owed_year, paid_year,
                                         _tail_buckets(owed_by_age, owed_total - paid_total), owed_period, paid_period)
    for unit_id, (paid_total, paid_year, paid_period) in paid.items():  # paid, nothing owed: no arrears
        result[unit_id] = SubtreeArrears(unit_id, 0, paid_total, 0, paid_year, {}, 0, paid_period)
    return result


def arrears_report(*, user, root: Unit, as_of: datetime.date) -> dict:
    """Every employer of ``root``'s subtree as of a month: owed, paid, balance, arrears by age, and the
    subtree's totals. The arithmetic is payments' (``payments.arrears``): one rule for both pages;
    "paid" here is what the ledger received (receipts by the month they pay for). The figures are
    ``arrears_of_subtree``'s, as on the finance reports' pages."""
    if not scoping.can(user, Action.FINANCE, root.path):
        raise NotFoundInScope()
    as_of = month_start(as_of)
    employers = list(Unit.objects.restrict(user, Action.FINANCE).in_subtree(root.path).filter(level=Level.GRASSROOTS)
                     .exclude(employer_type="").order_by("path").values_list("pk", "code", "name", "employer_name", "employer_tax_code"))
    figures = arrears_of_subtree(root.path, as_of)
    rows = []
    totals = {"owed": 0, "paid": 0, "owed_year": 0, "paid_year": 0, "arrears": 0, "employers": len(employers), "in_arrears": 0,
              "buckets": {key: {"amount": 0, "count": 0} for key, *_ in AGE_BUCKETS}}
    for pk, code, name, employer_name, tax_code in employers:
        f = figures.get(pk) or EmployerArrears(pk)
        rows.append({"pk": pk, "code": code, "name": employer_name or name, "tax_code": tax_code, "f": f})
        totals["owed"] += f.owed_total
        totals["paid"] += f.paid_total
        totals["owed_year"] += f.owed_year
        totals["paid_year"] += f.paid_year
        if f.arrears:
            totals["in_arrears"] += 1
            totals["arrears"] += f.arrears
            for key, amount in f.buckets.items():
                totals["buckets"][key]["amount"] += amount
                totals["buckets"][key]["count"] += 1
    totals["rate_bp"] = (totals["paid_year"] * BP // totals["owed_year"]) if totals["owed_year"] else None
    rows.sort(key=lambda r: (-r["f"].arrears, r["code"]))
    return {"rows": rows, "totals": totals, "as_of": as_of}


def employer_months(*, user, employer: Unit, as_of: datetime.date) -> list[dict]:
    """One employer month by month: owed, paid, running balance, the unpaid rest and its age bucket."""
    from congdoan.payments.arrears import month_table

    if not scoping.can(user, Action.FINANCE, employer.path):
        raise NotFoundInScope()
    as_of = month_start(as_of)
    owed = {m: a for _u, m, a in union_fee_owed(unit_ids=[employer.pk], start=FIRST_MONTH, end=as_of)}
    paid = union_fee_paid(Q(unit_id=employer.pk), FIRST_MONTH, as_of).get(employer.pk, {})
    return month_table(owed, paid, as_of)


# -- revenue, for the budgets and disclosure pages ------------------------------------------------------------------
#: the source of money each revenue account records ("other" for 518)
REVENUE_SOURCES = {"5111": Source.UNION_FEE.value, "5112": Source.DUES.value, "518": "other"}


def revenue_by_quarter(*, unit: Unit, year: int, subtree: bool = True) -> dict[tuple[int, str], int]:
    """{(quarter 1–4, source): revenue} of a unit (or of every unit of its subtree) in a year, from the ledger:
    credits less debits of its revenue accounts (its own shares; a reversal takes its amount back)."""
    from django.db.models.functions import ExtractQuarter

    from congdoan.finance.choices import base_code

    entries = Entry.objects.filter(date__gte=datetime.date(year, 1, 1), date__lt=datetime.date(year + 1, 1, 1),
                                   account__code__regex=r"^(5111|5112|518)(\.|$)")
    entries = entries.filter(tree.subtree_q("unit__path", unit.path)) if subtree else entries.filter(unit=unit)
    result: dict[tuple[int, str], int] = defaultdict(int)
    for quarter, code, credit, debit in (entries.annotate(q=ExtractQuarter("date")).values_list("q", "account__code")
                                         .annotate(c=Sum("credit"), d=Sum("debit")).values_list("q", "account__code", "c", "d")
                                         .order_by()):
        result[(quarter, REVENUE_SOURCES[base_code(code)])] += (credit or 0) - (debit or 0)
    return dict(result)
