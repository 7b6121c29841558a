"""The one place where payments talks to ``congdoan.finance`` (the rules, what is owed, the ledger).

Finance is built at the same time as this app; each function here degrades to "not wired"
(no references, nothing closed, nothing owed, posting deferred) while finance does not provide
what it calls, so matching and reconciliation work and are tested on their own. Tests replace
these functions with monkeypatch to play the ledger's part.
"""

import datetime
import importlib
import logging

from django.apps import apps
from django.db.models import Case, CharField, F, Value, When
from django.db.models.functions import Cast, Coalesce, Concat

log = logging.getLogger(__name__)


class LedgerUnavailable(Exception):
    """Finance is not installed (yet): receipts stay unposted until it is."""


def _finance(module: str, name: str):
    if not apps.is_installed("congdoan.finance"):
        return None
    try:
        return getattr(importlib.import_module(f"congdoan.finance.{module}"), name, None)
    except ImportError:
        return None


def available() -> bool:
    return _finance("services", "receipt_post") is not None


def payers_by_reference(keys: list[str]) -> dict:
    """{normalized key: {Payer, ...}} for the keys that are payment references issued by finance."""
    lookup = _finance("references", "payers_by_reference") or _finance("services", "payers_by_reference")
    if lookup is None:
        return {}
    from congdoan.payments.matching import Payer, normalize_key

    result: dict[str, set] = {}
    for reference, kind, payer_id, unit_id, active in lookup(keys):
        result.setdefault(normalize_key(reference), set()).add(Payer(kind, payer_id, unit_id, active))
    return result


def reference_for(kind: str, payer_id: int) -> str:
    """The payer's stable payment reference, or "" while finance does not issue them."""
    func = _finance("references", "payment_reference_for") or _finance("services", "payment_reference_for")
    if func is None:
        return ""
    return func(kind=kind, payer_id=payer_id) or ""


def closed_months(unit_ids, start: datetime.date, end: datetime.date) -> set[tuple[int, datetime.date]]:
    """{(unit id, first day of month)} of the months closed for these units between start and end."""
    func = _finance("selectors", "closed_months") or _finance("services", "closed_months")
    if func is None:
        return set()
    return set(func(unit_ids=list(unit_ids), start=start, end=end))


def is_month_closed(unit_id: int, day: datetime.date) -> bool:
    month = day.replace(day=1)
    return (unit_id, month) in closed_months([unit_id], month, month)


def post_receipt(*, actor, allocation) -> None:
    """Post one allocation as a receipt; idempotent by its external_id (finance's promise)."""
    receipt_post = _finance("services", "receipt_post")
    if receipt_post is None:
        raise LedgerUnavailable()
    receipt_post(actor=actor, unit=allocation.unit, source=allocation.source,
                 payer_reference=reference_for(allocation.payer_kind, allocation.member_id or allocation.unit_id),
                 amount=allocation.amount, paid_on=allocation.paid_on, external_id=allocation.external_id,
                 period=allocation.period)


#: what finance.bulk reads of each allocation, in its order (finance.bulk.QUERY_COLUMNS)
QUERY_NAMES = ("receipt_key", "receipt_external_id", "unit_id", "source", "amount", "paid_on", "period", "payer_kind", "payer_id")


def post_allocations(*, actor, allocations) -> dict:
    """Post allocations (a queryset) as receipts all at once, each as ``post_receipt`` posts it: idempotent
    by its external id, split by the shares in force on its date. Returns {"posted": receipts written,
    "existing": posted before, "refused": {allocation id: DomainError}, "timings": {…}}; a payer outside
    the actor's units is refused (code ``out_of_scope``). Runs in the caller's transaction."""
    bulk = _finance("bulk", "receipts_post_bulk")
    if bulk is None:
        raise LedgerUnavailable()

    def external_id(prefix: str, payment: str):  # Allocation.external_id, in SQL
        return Concat(Value(prefix), Cast(payment, CharField()), Value(":"), Cast("part", CharField()), output_field=CharField())

    rows = allocations.order_by().annotate(
        receipt_key=F("pk"),
        receipt_external_id=Case(When(transaction__isnull=False, then=external_id("bank:", "transaction_id")),
                                 default=external_id("cash:", "cash_receipt_id"), output_field=CharField()),
        payer_id=Coalesce("member_id", "unit_id"),
    ).values_list(*QUERY_NAMES)
    sql, params = rows.query.sql_with_params()
    # columns picked by name: the order of a values_list() mixing fields and annotations changed across Django versions
    query = f"SELECT q.{', q.'.join(QUERY_NAMES)} FROM ({sql}) q"
    result = bulk(actor=actor, query=query, params=params, refuse_out_of_scope=True)
    return {"posted": result.posted, "existing": result.existing, "refused": result.refused, "timings": result.timings}


def union_fee_owed(unit_ids, start: datetime.date, end: datetime.date) -> dict[tuple[int, datetime.date], int]:
    """{(employer unit id, month): union fee owed} from finance's declarations, months start..end."""
    func = _finance("selectors", "union_fee_owed") or _finance("services", "union_fee_owed")
    if func is None:
        return {}
    return {(unit_id, month): amount for unit_id, month, amount in func(unit_ids=list(unit_ids), start=start, end=end)}
