"""Reads of finance reports: collection rates, arrears by age, revenue, remittances, reminders.

Everything is computed for one subtree (a *root* unit and everything below it) with set-based
queries over the path range of the root: the union fee owed, paid and in arrears per employer by
finance's public ``arrears_of_subtree`` (the same figures as finance's arrears report), dues owed
summed by the database with finance's rules in ``dues.py``, dues paid from the ledger's receipts;
then added up per branch with the branch's path prefix. No query walks the tree, no loop goes over
members or months, and the number of queries does not depend on the number of branches, employers
or members.

Who may read what: aggregated figures (the collection dashboard, revenue) need ``Action.VIEW`` on
the root; anything naming employers or a unit's books (the employer list, receipts, remittances,
reminders, exports of them) needs ``Action.FINANCE``. Callers pass the root from ``choose_root``
(404 outside scope); every query is restricted again with the same action.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from congdoan.accounts.choices import Action
from congdoan.core import paths as tree
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.finance import selectors as finance
from congdoan.finance.choices import BP, AccountCode, Source, TransactionKind, base_code
from congdoan.finance.models import Account, Entry, Receipt
from congdoan.finance.money import month_start
from congdoan.finance_reports.choices import RevenueSource
from congdoan.finance_reports.dues import dues_owed_by_book
from congdoan.finance_reports.models import EmployerContact, Reminder, ReminderJob, ReminderSchedule
from congdoan.finance_reports.periods import Period
from congdoan.members.models import Member
from congdoan.organizations.choices import LEVEL_ORDER, Level
from congdoan.organizations.models import Unit
from congdoan.payments.arrears import EmployerArrears
from congdoan.payments.choices import AGE_BUCKETS

#: levels whose units keep no books: reports start at grassroots level or above
BELOW_GRASSROOTS = finance.BELOW_GRASSROOTS
BUCKET_KEYS = [key for key, *_rest in AGE_BUCKETS]
BUCKET_LABELS = {key: label for key, label, *_rest in AGE_BUCKETS}
#: the revenue accounts and the source each records
REVENUE_SOURCE_OF = {AccountCode.REVENUE_UNION_FEE.value: RevenueSource.UNION_FEE.value,
                     AccountCode.REVENUE_DUES.value: RevenueSource.DUES.value,
                     AccountCode.REVENUE_OTHER.value: RevenueSource.OTHER.value}
SOURCES = [RevenueSource.UNION_FEE.value, RevenueSource.DUES.value, RevenueSource.OTHER.value]


def rate_bp(paid: int, owed: int) -> int | None:
    """paid ÷ owed in basis points (10,000 = 100 %), None when nothing was owed."""
    return paid * BP // owed if owed else None


def _account_q(code: str) -> Q:
    """Rows of an account of the chart and of its sub-accounts ("611" and "611.events")."""
    return Q(account__code=code) | Q(account__code__startswith=f"{code}.")


# -- scope ------------------------------------------------------------------------------------------------------
def report_roots(user, action: str = Action.VIEW) -> list[Unit]:
    """The top units of the user's subtrees for ``action`` that keep books (grassroots level or above)."""
    return list(Unit.objects.restrict(user, action).filter(path__in=scoping.granted_paths(user, action))
                .exclude(level__in=BELOW_GRASSROOTS).order_by("path"))


def report_unit(user, pk, action: str = Action.VIEW) -> Unit:
    unit = Unit.objects.restrict(user, action).exclude(level__in=BELOW_GRASSROOTS).filter(pk=pk).first()
    if unit is None:
        raise NotFoundInScope()
    return unit


def choose_root(user, pk, action: str = Action.VIEW) -> tuple[Unit, list[Unit]]:
    """(the unit a report is about, the user's roots to choose from): ``pk`` if given (404 outside the
    user's ``action`` scope), else the first root. No root at all: 404."""
    roots = report_roots(user, action)
    if pk is not None:
        return report_unit(user, pk, action), roots
    if not roots:
        raise NotFoundInScope()
    return roots[0], roots


def ancestors_in_scope(user, unit: Unit, action: str = Action.VIEW) -> list[Unit]:
    """The breadcrumb above ``unit``, only as far up as the user's scope reaches."""
    return list(Unit.objects.restrict(user, action).filter(path__in=tree.ancestors_of(unit.path)).order_by("path"))


def employer_in_scope(user, pk) -> Unit:
    """A grassroots union (an employer) whose books the user keeps; 404 otherwise."""
    return finance.employer_in_scope(user, pk)


# -- figures per grassroots union ------------------------------------------------------------------------------
@dataclass
class EmployerRow:
    """One grassroots union (its employer) with the figures of a period and its arrears as of a month."""

    pk: int
    path: str
    code: str
    name: str
    unit_name: str
    tax_code: str
    employer_type: str
    status: str
    fee_owed: int = 0
    fee_paid: int = 0
    dues_owed: int = 0
    dues_paid: int = 0
    arrears: EmployerArrears = None
    email: str = ""

    @property
    def fee_rate_bp(self):
        return rate_bp(self.fee_paid, self.fee_owed)

    @property
    def dues_rate_bp(self):
        return rate_bp(self.dues_paid, self.dues_owed)


def employer_rows(*, user, root: Unit, period: Period, as_of: datetime.date, action: str = Action.FINANCE,
                  with_contacts: bool = False) -> list[EmployerRow]:
    """Every grassroots union of ``root``'s subtree with, for ``period``: the union fee owed and paid,
    the dues owed by its members and paid; and its union fee arrears as of ``as_of`` by age.

    Owed and paid are by the month owed for (a payment for May counts in May, whenever it came);
    "paid" is what the ledger received (finance receipts, reversals subtracted). Arrears count only
    employers with an employer type, as on the payments and finance arrears pages. The union fee
    figures are finance's ``arrears_of_subtree`` (owed and paid of the period from the same scans);
    a constant number of queries.
    """
    if not scoping.can(user, action, root.path):
        raise NotFoundInScope()
    units = (Unit.objects.restrict(user, action).in_subtree(root.path).filter(level=Level.GRASSROOTS).order_by("path")
             .values_list("pk", "path", "code", "name", "employer_name", "employer_tax_code", "employer_type", "status"))
    rows = {pk: EmployerRow(pk, path, code, employer_name or name, name, tax_code, employer_type, status)
            for pk, path, code, name, employer_name, tax_code, employer_type, status in units}
    if not rows:
        return []
    figures = finance.arrears_of_subtree(root.path, as_of, period=(period.start, period.end))
    for row in rows.values():
        found = figures.get(row.pk)
        if found is not None:
            row.fee_owed, row.fee_paid = found.owed_period, found.paid_period
        row.arrears = found if found is not None and row.employer_type else EmployerArrears(row.pk)
    _add_dues(user, root, period, action, rows)
    if with_contacts:
        for unit_id, email in EmployerContact.objects.restrict(user, action).in_subtree(root.path).values_list("unit_id", "email"):
            if unit_id in rows:
                rows[unit_id].email = email
    return list(rows.values())


def _add_dues(user, root: Unit, period: Period, action: str, rows: dict[int, EmployerRow]) -> None:
    """Dues owed by the active members of the subtree (``dues.dues_owed_by_book``: finance's
    arithmetic, summed by the database) and dues received (ledger receipts), added to each member's
    grassroots union."""
    owed = dues_owed_by_book(members=Member.objects.restrict(user, action).in_subtree(root.path), root_path=root.path,
                             start=period.start, end=period.end, grassroots_paths={row.path: pk for pk, row in rows.items()})
    for unit_id, amount in owed.items():
        rows[unit_id].dues_owed += amount
    paid = (Receipt.objects.restrict(user, action).in_subtree(root.path)
            .filter(source=Source.DUES, period__gte=period.start, period__lte=period.end)
            .values_list("unit_id").annotate(s=Sum("amount")).values_list("unit_id", "s").order_by())
    for unit_id, amount in paid:
        if unit_id in rows and amount:
            rows[unit_id].dues_paid += amount


def filter_employer_rows(rows: list[EmployerRow], *, bucket: str = "", q: str = "") -> list[EmployerRow]:
    """``bucket``: "any" keeps employers in arrears, a bucket key those with arrears of that age."""
    from congdoan.core.text import normalize_search

    if bucket == "any":
        rows = [r for r in rows if r.arrears.arrears]
    elif bucket in BUCKET_KEYS:
        rows = [r for r in rows if r.arrears.buckets.get(bucket)]
    if q:
        needle = normalize_search(q)
        rows = [r for r in rows if needle in normalize_search(f"{r.name} {r.unit_name} {r.code} {r.tax_code}")]
    return sorted(rows, key=lambda r: (-r.arrears.arrears, r.code))


def employer_totals(rows: list[EmployerRow]) -> dict:
    """The sums the employer list shows above its table (and the dashboard's figures link to)."""
    totals = {"count": len(rows), "fee_owed": 0, "fee_paid": 0, "dues_owed": 0, "dues_paid": 0, "arrears": 0, "in_arrears": 0,
              **{key: 0 for key in BUCKET_KEYS}}
    for row in rows:
        totals["fee_owed"] += row.fee_owed
        totals["fee_paid"] += row.fee_paid
        totals["dues_owed"] += row.dues_owed
        totals["dues_paid"] += row.dues_paid
        if row.arrears.arrears:
            totals["arrears"] += row.arrears.arrears
            totals["in_arrears"] += 1
        for key, amount in row.arrears.buckets.items():
            totals[key] += amount
    totals["fee_rate_bp"] = rate_bp(totals["fee_paid"], totals["fee_owed"])
    totals["dues_rate_bp"] = rate_bp(totals["dues_paid"], totals["dues_owed"])
    return totals


# -- the collection dashboard ------------------------------------------------------------------------------------
@dataclass
class Figure:
    """One number, the list that counts it (empty for viewers who may not open it) and which of
    that list's ``totals`` shows the same number."""

    label: str
    value: int
    url: str = ""
    measure: str = ""


@dataclass
class Collection:
    """The figures of one subtree (the root or a branch)."""

    unit: Unit | None
    fee_owed: Figure = None
    fee_paid: Figure = None
    dues_owed: Figure = None
    dues_paid: Figure = None
    grassroots: Figure = None
    in_arrears: Figure = None
    arrears: Figure = None
    buckets: list[tuple[Figure, Figure]] = field(default_factory=list)  # (amount, employers) per age bucket
    drill_url: str = ""

    @property
    def fee_rate_bp(self):
        return rate_bp(self.fee_paid.value, self.fee_owed.value)

    @property
    def dues_rate_bp(self):
        return rate_bp(self.dues_paid.value, self.dues_owed.value)

    @property
    def rate_bp(self):
        return rate_bp(self.fee_paid.value + self.dues_paid.value, self.fee_owed.value + self.dues_owed.value)

    @property
    def figures(self) -> list[Figure]:
        found = [self.fee_owed, self.fee_paid, self.dues_owed, self.dues_paid, self.grassroots, self.in_arrears, self.arrears]
        for amount, count in self.buckets:
            found += [amount, count]
        return found


@dataclass
class CollectionReport:
    root: Unit
    roots: list[Unit]
    ancestors: list[Unit]
    period: Period
    as_of: datetime.date
    linked: bool  # the figures link to lists (the viewer keeps the books of the subtree)
    total: Collection = None
    branches: list[Collection] = field(default_factory=list)

    @property
    def figures(self) -> list[Figure]:
        """Every figure of the page (the tests follow each link)."""
        found = list(self.total.figures)
        for branch in self.branches:
            found += branch.figures
        return found


class _Links:
    """The addresses a dashboard's figures link to, for one period: each route is reversed once per
    page, not once per figure (a province has hundreds of branches, each with a dozen links)."""

    def __init__(self, period: Period, linked: bool):
        self.linked = linked
        self.period = quote_plus(period.key)
        self._employers = reverse("finance_reports:employers")
        self._receipts = reverse("finance_reports:receipts")
        self._dashboard = reverse("finance_reports:dashboard")

    def employers(self, unit: Unit, bucket: str = "") -> str:
        if not self.linked:
            return ""
        return f"{self._employers}?unit={unit.pk}&period={self.period}" + (f"&bucket={quote_plus(bucket)}" if bucket else "")

    def receipts(self, unit: Unit, source: str) -> str:
        return f"{self._receipts}?unit={unit.pk}&period={self.period}&source={quote_plus(source)}" if self.linked else ""

    def dashboard(self, unit: Unit) -> str:
        return f"{self._dashboard}?unit={unit.pk}&period={self.period}"


class _Sums:
    """The figures of a group of employers (the subtree or one branch), added up row by row."""

    __slots__ = ("count", "fee_owed", "fee_paid", "dues_owed", "dues_paid", "arrears", "in_arrears", "amounts", "employers")

    def __init__(self):
        self.count = self.fee_owed = self.fee_paid = self.dues_owed = self.dues_paid = self.arrears = self.in_arrears = 0
        self.amounts = dict.fromkeys(BUCKET_KEYS, 0)
        self.employers = dict.fromkeys(BUCKET_KEYS, 0)

    def add(self, row: EmployerRow) -> None:
        self.count += 1
        self.fee_owed += row.fee_owed
        self.fee_paid += row.fee_paid
        self.dues_owed += row.dues_owed
        self.dues_paid += row.dues_paid
        buckets = row.arrears.buckets
        if buckets:
            arrears = sum(buckets.values())
            if arrears:
                self.arrears += arrears
                self.in_arrears += 1
            for key, amount in buckets.items():
                self.amounts[key] += amount
                if amount:
                    self.employers[key] += 1

    def merge(self, other: "_Sums") -> None:
        for name in ("count", "fee_owed", "fee_paid", "dues_owed", "dues_paid", "arrears", "in_arrears"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key in BUCKET_KEYS:
            self.amounts[key] += other.amounts[key]
            self.employers[key] += other.employers[key]


#: the labels of a subtree's figures, translated when shown
LABELS = {"fee_owed": _("Union fee owed"), "fee_paid": _("Union fee paid"), "dues_owed": _("Dues owed"), "dues_paid": _("Dues paid"),
          "grassroots": _("Grassroots unions"), "in_arrears": _("Employers in arrears"), "arrears": _("Union fee in arrears")}


def _collection(unit: Unit, sums: _Sums, links: _Links) -> Collection:
    """The figures of one subtree with the lists they link to (``employer_totals`` of those lists
    shows the same numbers: the tests follow every link)."""
    employers = links.employers(unit)
    in_arrears = links.employers(unit, "any")
    c = Collection(unit=unit)
    c.fee_owed = Figure(LABELS["fee_owed"], sums.fee_owed, employers, "fee_owed")
    c.fee_paid = Figure(LABELS["fee_paid"], sums.fee_paid, links.receipts(unit, Source.UNION_FEE), "amount")
    c.dues_owed = Figure(LABELS["dues_owed"], sums.dues_owed, employers, "dues_owed")
    c.dues_paid = Figure(LABELS["dues_paid"], sums.dues_paid, links.receipts(unit, Source.DUES), "amount")
    c.grassroots = Figure(LABELS["grassroots"], sums.count, employers, "count")
    c.in_arrears = Figure(LABELS["in_arrears"], sums.in_arrears, in_arrears, "count")
    c.arrears = Figure(LABELS["arrears"], sums.arrears, in_arrears, "arrears")
    for key, label, *_rest in AGE_BUCKETS:
        url = links.employers(unit, key)
        c.buckets.append((Figure(label, sums.amounts[key], url, key), Figure(label, sums.employers[key], url, "count")))
    return c


def collection_report(*, user, root: Unit, roots: list[Unit], period: Period, today: datetime.date) -> CollectionReport:
    """The collection dashboard of ``root``'s subtree for a period: union fee and dues owed and paid,
    collection rates, arrears by age as of the period's *as of* month; the same per child branch.

    Readable with VIEW (aggregated figures only); the figures link to the employer and receipt lists
    when the viewer also keeps the subtree's books (FINANCE). A constant number of queries; the
    employers' figures are added up once, each into the subtree's and its branch's sums.
    """
    if not scoping.can(user, Action.VIEW, root.path):
        raise NotFoundInScope()
    as_of = period.as_of(today)
    linked = scoping.can(user, Action.FINANCE, root.path)
    rows = employer_rows(user=user, root=root, period=period, as_of=as_of, action=Action.VIEW)
    report = CollectionReport(root=root, roots=roots, ancestors=ancestors_in_scope(user, root), period=period, as_of=as_of,
                              linked=linked)
    links = _Links(period, linked)
    total, by_branch = _Sums(), defaultdict(_Sums)
    depth = len(root.path) + tree.STEPLEN
    for row in rows:
        (by_branch[row.path[:depth]] if len(row.path) >= depth else total).add(row)
    for sums in by_branch.values():
        total.merge(sums)
    report.total = _collection(root, total, links)
    children = Unit.objects.restrict(user, Action.VIEW).filter(parent=root).exclude(level__in=BELOW_GRASSROOTS).order_by("path")
    for child in children:
        sums = by_branch.get(child.path)
        if not child.is_active and sums is None:
            continue
        branch = _collection(child, sums or _Sums(), links)
        branch.drill_url = links.dashboard(child)
        report.branches.append(branch)
    report.branches.sort(key=lambda b: (-b.arrears.value, b.unit.path))
    return report


# -- receipts (the "paid" figures link here) ---------------------------------------------------------------------
def receipts_of(*, user, root: Unit, period: Period, source: str = ""):
    """Money the ledger received for the grassroots unions of a subtree, for the months of a period
    (by the month paid for; a reversal is a negative row)."""
    receipts = (Receipt.objects.restrict(user, Action.FINANCE).in_subtree(root.path)
                .filter(period__gte=period.start, period__lte=period.end))
    if source in Source.values:
        receipts = receipts.filter(source=source)
    return receipts.select_related("unit", "member").order_by("-paid_on", "-id")


def receipt_totals(receipts) -> dict:
    sums = receipts.order_by().aggregate(count=Count("id"), amount=Sum("amount"))
    return {"count": sums["count"], "amount": sums["amount"] or 0}


# -- revenue by level, month and source --------------------------------------------------------------------------
def revenue_report(*, user, root: Unit, period: Period) -> dict:
    """Revenue kept by the units of a subtree (their own shares: credits less debits of the revenue
    accounts 5111 union fee, 5112 dues, 518 other) per month, level and source. One grouped query."""
    if not scoping.can(user, Action.VIEW, root.path):
        raise NotFoundInScope()
    accounts = _account_q(AccountCode.REVENUE_UNION_FEE) | _account_q(AccountCode.REVENUE_DUES) | _account_q(AccountCode.REVENUE_OTHER)
    rows = (Entry.objects.restrict(user, Action.VIEW).in_subtree(root.path)
            .filter(accounts, date__gte=period.start, date__lte=period.last_day)
            .annotate(month=TruncMonth("date")).values_list("month", "unit__level", "account__code")
            .annotate(c=Sum("credit"), d=Sum("debit")).values_list("month", "unit__level", "account__code", "c", "d").order_by())
    cells: dict[tuple[datetime.date, str, str], int] = defaultdict(int)
    for month, level, code, credit, debit in rows:
        month = month.date() if isinstance(month, datetime.datetime) else month
        cells[(month, level, REVENUE_SOURCE_OF[base_code(code)])] += (credit or 0) - (debit or 0)
    levels = [level for level in LEVEL_ORDER if any(key[1] == level for key in cells)]
    by_month = {m: dict.fromkeys(SOURCES, 0) for m in period.months}
    by_level = {lv: dict.fromkeys(SOURCES, 0) for lv in levels}
    totals = dict.fromkeys(SOURCES, 0)
    for (month, level, source), amount in cells.items():
        by_month.setdefault(month, dict.fromkeys(SOURCES, 0))[source] += amount
        by_level[level][source] += amount
        totals[source] += amount

    def with_total(values: dict) -> dict:
        return {**values, "total": sum(values.values())}

    return {
        "by_month": [{"month": m, **with_total(v)} for m, v in sorted(by_month.items())],
        "by_level": [{"level": lv, "label": Level(lv).label, **with_total(by_level[lv])} for lv in levels],
        "detail": [{"month": m, "level": lv, "level_label": Level(lv).label, "source": s, "amount": cells[(m, lv, s)]}
                   for (m, lv, s) in sorted(cells, key=lambda k: (k[0], LEVEL_ORDER.index(k[1]), SOURCES.index(k[2])))
                   if cells[(m, lv, s)]],
        "totals": with_total(totals),
    }


# -- remittances to upper levels ------------------------------------------------------------------------------------
def remittance_report(*, user, root: Unit, period: Period) -> dict:
    """For each unit of a subtree that keeps books: what it owed its upper levels (account 336,
    their shares of what it collected) at the start of the period, the shares added in the period,
    what it remitted (remittance transactions), and what it still owes at the end.

    Two grouped queries driven by the subtree's 336 accounts, each read from the covering index
    (account, date, debit, credit); only the period's remittance lines join their transaction."""
    if not scoping.can(user, Action.FINANCE, root.path):
        raise NotFoundInScope()
    accounts = Account.objects.restrict(user, Action.FINANCE).in_subtree(root.path).filter(
        Q(code=AccountCode.PAYABLE_UPPER) | Q(code__startswith=f"{AccountCode.PAYABLE_UPPER}.")).values("pk")
    lines = Entry.objects.filter(account_id__in=accounts, date__lte=period.last_day)
    before, within = Q(date__lt=period.start), Q(date__gte=period.start)
    sums = (lines.values_list("unit_id").annotate(
        open_c=Sum("credit", filter=before), open_d=Sum("debit", filter=before),
        added=Sum("credit", filter=within), taken=Sum("debit", filter=within),
    ).values_list("unit_id", "open_c", "open_d", "added", "taken").order_by())
    remitted = dict(lines.filter(within, transaction__kind=TransactionKind.REMITTANCE).values_list("unit_id")
                    .annotate(d=Sum("debit")).values_list("unit_id", "d").order_by())
    figures = {unit_id: (open_c or 0, open_d or 0, added or 0, taken or 0) for unit_id, open_c, open_d, added, taken in sums}
    units = (Unit.objects.restrict(user, Action.FINANCE).filter(pk__in=accounts.values("unit_id")).order_by("path")
             .values_list("pk", "code", "name", "level", "path"))
    result, totals = [], {"opening": 0, "due": 0, "remitted": 0, "closing": 0}
    for unit_id, code, name, level, path in units:
        if unit_id not in figures:
            continue
        open_c, open_d, added, taken = figures[unit_id]
        sent = remitted.get(unit_id) or 0
        # debits of 336 other than remittances (a reversed receipt) take shares back
        row = {"unit_id": unit_id, "code": code, "name": name, "level": level, "level_label": Level(level).label, "path": path,
               "opening": open_c - open_d, "due": added - (taken - sent), "remitted": sent}
        row["closing"] = row["opening"] + row["due"] - row["remitted"]
        for key in totals:
            totals[key] += row[key]
        result.append(row)
    return {"rows": result, "totals": totals}


# -- reminders --------------------------------------------------------------------------------------------------------
def reminders_of(*, user, root: Unit):
    return (Reminder.objects.restrict(user, Action.FINANCE).in_subtree(root.path)
            .select_related("employer", "sent_by").order_by("-created_at", "-id"))


def reminder_schedule_of(user, root: Unit):
    """The monthly reminder schedule of ``root``'s subtree, if one was saved (and the user keeps its books)."""
    return ReminderSchedule.objects.restrict(user, Action.FINANCE).filter(unit=root).first()


def reminder_jobs_of(user):
    return ReminderJob.objects.restrict(user, Action.FINANCE).select_related("unit", "requested_by")


def contact_of(user, employer: Unit) -> EmployerContact | None:
    return EmployerContact.objects.restrict(user, Action.FINANCE).filter(unit=employer).first()


def reminder_facts(*, user, employer: Unit, as_of: datetime.date) -> dict:
    """What a reminder to an employer says as of a month: each month still unpaid (fee, paid, unpaid,
    oldest first), the total, the payment reference, the collection account and the VietQR payload."""
    from congdoan.finance.choices import BANK_NAME_OF_BIN
    from congdoan.finance.references import payment_reference_for
    from congdoan.finance.vietqr import VietQRError, build_payload

    as_of = month_start(as_of)
    table = finance.employer_months(user=user, employer=employer, as_of=as_of)
    months = [m for m in table if m["unpaid"] > 0]
    amount = sum(m["unpaid"] for m in months)
    reference = payment_reference_for(kind="employer", payer_id=employer.pk)
    account = finance.collection_account_for(employer)
    payload = ""
    if account is not None and amount > 0:
        try:
            payload = build_payload(bank_bin=account.bank_bin, account_number=account.account_number, amount=amount,
                                    purpose=f"{reference} T{months[0]['month']:%m/%Y}")
        except VietQRError:
            payload = ""
    return {
        "employer": employer, "as_of": as_of, "months": months, "amount": amount, "reference": reference, "account": account,
        "bank_name": BANK_NAME_OF_BIN.get(account.bank_bin, "") if account else "", "payload": payload,
        "first_month": months[0]["month"] if months else None, "last_month": months[-1]["month"] if months else None,
    }
