"""Reads of payments data, always through ``restrict(user, Action.FINANCE)``."""

import datetime
from collections import defaultdict

from django.db.models import Count, Q, Sum

from congdoan.accounts.choices import Action
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.core.text import normalize_search
from congdoan.organizations.choices import Level
from congdoan.organizations.models import Unit
from congdoan.payments import ledger
from congdoan.payments.arrears import EmployerArrears, employer_arrears, month_table
from congdoan.payments.choices import AGE_BUCKETS, LineStatus, Source
from congdoan.payments.models import Allocation, BankAccount, BankTransaction, CashReceipt, StatementImport

FIRST_MONTH = datetime.date(2000, 1, 1)


def has_finance(user) -> bool:
    return bool(scoping.granted_paths(user, Action.FINANCE))


def finance_roots(user):
    """The top units of the user's finance subtrees."""
    return Unit.objects.restrict(user, Action.FINANCE).filter(path__in=scoping.granted_paths(user, Action.FINANCE)).order_by("path")


def accounts_of(user):
    return BankAccount.objects.restrict(user, Action.FINANCE).select_related("unit", "layout")


def imports_of(user):
    return StatementImport.objects.restrict(user, Action.FINANCE).select_related("bank_account__unit", "importer")


def lines_of(user):
    return BankTransaction.objects.restrict(user, Action.FINANCE).select_related("bank_account__unit")


def queue(*, user, reason: str = "", q: str = ""):
    lines = lines_of(user).queue()
    if reason:
        lines = lines.filter(reason=reason)
    if q:
        lines = lines.filter(Q(description__icontains=q.strip()) | Q(bank_txn_id=q.strip()) | Q(payer_name__icontains=q.strip()))
    return lines.order_by("booked_on", "id")


def queue_counts(*, user) -> list[tuple[str, int]]:
    return list(lines_of(user).queue().values_list("reason").annotate(n=Count("id")).order_by("reason"))


def receipts_of(user):
    return CashReceipt.objects.restrict(user, Action.FINANCE).select_related("unit", "created_by")


def unit_in_scope(user, pk) -> Unit:
    unit = Unit.objects.restrict(user, Action.FINANCE).filter(pk=pk).first()
    if unit is None:
        raise NotFoundInScope()
    return unit


def _employers(user, root: Unit):
    return (Unit.objects.restrict(user, Action.FINANCE).in_subtree(root.path).filter(level=Level.GRASSROOTS)
            .exclude(employer_type="").order_by("path"))


def _paid_by_month(user, root: Unit, as_of: datetime.date, unit_id=None) -> dict:
    allocations = Allocation.objects.restrict(user, Action.FINANCE).in_subtree(root.path).filter(
        source=Source.UNION_FEE, period__lte=as_of)
    if unit_id is not None:
        allocations = allocations.filter(unit_id=unit_id)
    paid = defaultdict(dict)
    for unit_id_, period, amount in allocations.values_list("unit_id", "period").annotate(s=Sum("amount")).values_list(
            "unit_id", "period", "s"):
        paid[unit_id_][period] = amount
    return paid


def arrears_overview(*, user, root: Unit, as_of: datetime.date) -> dict:
    """Every employer of ``root``'s subtree as of a month, and the subtree's figures."""
    employers = list(_employers(user, root).values_list("pk", "code", "name", "employer_name", "employer_tax_code", "status"))
    ids = [e[0] for e in employers]
    owed = defaultdict(dict)
    for (unit_id, month), amount in ledger.union_fee_owed(ids, FIRST_MONTH, as_of).items():
        owed[unit_id][month] = amount
    paid = _paid_by_month(user, root, as_of)
    rows = []
    totals = {"owed_year": 0, "paid_year": 0, "arrears": 0, "employers": len(employers), "in_arrears": 0,
              "buckets": {key: {"amount": 0, "count": 0} for key, *_ in AGE_BUCKETS}}
    for pk, code, name, employer_name, tax_code, status in employers:
        figures: EmployerArrears = employer_arrears(pk, owed.get(pk, {}), paid.get(pk, {}), as_of)
        rows.append({"pk": pk, "code": code, "name": employer_name or name, "tax_code": tax_code, "status": status, "f": figures})
        totals["owed_year"] += figures.owed_year
        totals["paid_year"] += figures.paid_year
        if figures.arrears:
            totals["in_arrears"] += 1
            totals["arrears"] += figures.arrears
            for key, amount in figures.buckets.items():
                totals["buckets"][key]["amount"] += amount
                totals["buckets"][key]["count"] += 1
    totals["rate"] = (100 * totals["paid_year"] / totals["owed_year"]) if totals["owed_year"] else None
    rows.sort(key=lambda r: (-r["f"].arrears, r["code"]))
    return {"rows": rows, "totals": totals}


def filter_rows(rows, bucket: str, q: str = ""):
    if bucket == "any":
        rows = [r for r in rows if r["f"].arrears]
    elif bucket:
        rows = [r for r in rows if r["f"].buckets.get(bucket)]
    if q:
        needle = normalize_search(q)
        rows = [r for r in rows if needle in normalize_search(f"{r['name']} {r['code']} {r['tax_code']}")]
    return rows


def employer_months(*, user, employer: Unit, as_of: datetime.date) -> list[dict]:
    owed = {month: amount for (unit_id, month), amount in ledger.union_fee_owed([employer.pk], FIRST_MONTH, as_of).items()
            if unit_id == employer.pk}
    paid = _paid_by_month(user, employer, as_of, unit_id=employer.pk).get(employer.pk, {})
    return month_table(owed, paid, as_of)


def allocations_of(*, user, root: Unit, source: str = "", start=None, end=None, unit_id=None):
    allocations = (Allocation.objects.restrict(user, Action.FINANCE).in_subtree(root.path)
                   .select_related("unit", "member", "transaction", "cash_receipt"))
    if source:
        allocations = allocations.filter(source=source)
    if start:
        allocations = allocations.filter(period__gte=start)
    if end:
        allocations = allocations.filter(period__lte=end)
    if unit_id:
        allocations = allocations.filter(unit_id=unit_id)
    return allocations.order_by("-period", "-id")


LINE_STATUS_LABELS = dict(LineStatus.choices)
