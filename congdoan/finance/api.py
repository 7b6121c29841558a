"""Finance in the JSON API: what employers owe, arrears by age, balances, payment notices, declarations,
receipt reversals.

The endpoints call the same selectors and services as the pages, so scoping (404 outside the
caller's FINANCE subtrees), validation and the audit log are the pages' own. Money is whole đồng
(integers); months are dates (any day of the month stands for it).

Mounted by congdoan/api.py with ``api.add_router("/finance", finance_router)``; ``build_router``
makes a fresh router for tests that mount their own API.
"""

import datetime

from ninja import Query, Router, Schema, Status

from congdoan.core.api_auth import ERRORS, WRITE_ERRORS
from congdoan.finance import selectors, services
from congdoan.finance.choices import DeclarationSource
from congdoan.finance.money import month_start
from congdoan.finance.vietqr import VietQRError, build_payload


class OwedOut(Schema):
    unit_id: int
    month: datetime.date
    amount: int


class EmployerArrearsOut(Schema):
    unit_id: int
    code: str
    name: str
    tax_code: str
    owed_total: int
    paid_total: int
    owed_year: int
    paid_year: int
    balance: int
    arrears: int
    buckets: dict[str, int]


class ArrearsOut(Schema):
    as_of: datetime.date
    employers: int
    in_arrears: int
    owed: int
    paid: int
    arrears: int
    buckets: dict[str, int]
    rows: list[EmployerArrearsOut]


class MonthOut(Schema):
    month: datetime.date
    owed: int
    paid: int
    balance: int
    unpaid: int
    bucket: str | None


class BalanceOut(Schema):
    account: str
    name: str
    debit: int
    credit: int
    balance: int


class NoticeOut(Schema):
    unit_id: int
    month: datetime.date
    reference: str
    owed: int | None
    unpaid: int
    earlier_unpaid: int
    amount: int
    vietqr: str | None


class DeclarationIn(Schema):
    unit_id: int
    month: datetime.date
    si_salary_fund: int
    workers: int | None = None


class DeclarationOut(Schema):
    id: int
    unit_id: int
    month: datetime.date
    si_salary_fund: int
    workers: int | None
    source: str


class RangeQuery(Schema):
    unit: int
    start: datetime.date
    end: datetime.date


class AsOfQuery(Schema):
    unit: int
    as_of: datetime.date | None = None


class ReverseIn(Schema):
    date: datetime.date | None = None  # empty: today; in an open month
    memo: str = ""


class ReversalOut(Schema):
    id: int  # the reversing transaction
    date: datetime.date
    memo: str
    receipt_id: int
    amount: int  # of the receipt reversed


def _this_month() -> datetime.date:
    from django.utils import timezone

    return month_start(timezone.localdate())


def build_router() -> Router:
    router = Router(tags=["finance"])

    @router.get("/owed", response={200: list[OwedOut], **ERRORS}, summary="Union fee owed per employer and month")
    def owed(request, q: Query[RangeQuery]):
        root = selectors.unit_in_scope(request.user, q.unit)
        rows = selectors.union_fee_owed_in_subtree(root.path, q.start, q.end)
        return [{"unit_id": u, "month": m, "amount": a} for u, m, a in sorted(rows)]

    @router.get("/arrears", response={200: ArrearsOut, **ERRORS}, summary="Arrears of a subtree's employers, by age")
    def arrears(request, q: Query[AsOfQuery]):
        root = selectors.unit_in_scope(request.user, q.unit)
        report = selectors.arrears_report(user=request.user, root=root, as_of=q.as_of or _this_month())
        totals = report["totals"]
        return {
            "as_of": report["as_of"], "employers": totals["employers"], "in_arrears": totals["in_arrears"], "owed": totals["owed"],
            "paid": totals["paid"], "arrears": totals["arrears"],
            "buckets": {key: b["amount"] for key, b in totals["buckets"].items()},
            "rows": [{"unit_id": r["pk"], "code": r["code"], "name": r["name"], "tax_code": r["tax_code"],
                      "owed_total": r["f"].owed_total, "paid_total": r["f"].paid_total, "owed_year": r["f"].owed_year,
                      "paid_year": r["f"].paid_year, "balance": r["f"].balance, "arrears": r["f"].arrears, "buckets": r["f"].buckets}
                     for r in report["rows"]],
        }

    @router.get("/employers/{int:unit_id}/months", response={200: list[MonthOut], **ERRORS}, summary="One employer month by month")
    def employer_months(request, unit_id: int, as_of: datetime.date | None = None):
        employer = selectors.employer_in_scope(request.user, unit_id)
        return selectors.employer_months(user=request.user, employer=employer, as_of=as_of or _this_month())

    @router.get("/employers/{int:unit_id}/notice", response={200: NoticeOut, **ERRORS},
                summary="Payment notice of a month: amount, reference and VietQR payload")
    def notice(request, unit_id: int, month: datetime.date):
        employer = selectors.employer_in_scope(request.user, unit_id)
        facts = selectors.notice_for(employer, month)
        amount = facts["unpaid"] + facts["earlier_unpaid"]
        payload = None
        if facts["account"] and amount > 0:
            try:
                payload = build_payload(bank_bin=facts["account"].bank_bin, account_number=facts["account"].account_number,
                                        amount=amount, purpose=f"{facts['reference']} T{facts['month']:%m/%Y}")
            except VietQRError:
                payload = None
        return {"unit_id": employer.pk, "month": facts["month"], "reference": facts["reference"], "owed": facts["owed"],
                "unpaid": facts["unpaid"], "earlier_unpaid": facts["earlier_unpaid"], "amount": amount, "vietqr": payload}

    @router.get("/units/{int:unit_id}/balances", response={200: list[BalanceOut], **ERRORS}, summary="A unit's account balances at a date")
    def balances(request, unit_id: int, on: datetime.date | None = None):
        from django.utils import timezone

        unit = selectors.unit_in_scope(request.user, unit_id)
        return [{"account": r["account"].code, "name": r["account"].label, "debit": r["debit"], "credit": r["credit"],
                 "balance": r["balance"]} for r in selectors.unit_balances(unit, on or timezone.localdate())]

    @router.post("/declarations", response={201: DeclarationOut, **WRITE_ERRORS}, summary="Declare an employer's salary fund for a month")
    def declare(request, payload: DeclarationIn):
        unit = selectors.employer_in_scope(request.user, payload.unit_id)
        declaration = services.declaration_save(actor=request.user, unit=unit, month=payload.month, si_salary_fund=payload.si_salary_fund,
                                                workers=payload.workers, source=DeclarationSource.API)
        return Status(201, declaration)

    @router.post("/receipts/{int:receipt_id}/reverse", response={201: ReversalOut, **WRITE_ERRORS},
                 summary="Reverse one receipt (on its own, also when a statement's summary transaction carries it)")
    def receipt_reverse(request, receipt_id: int, payload: ReverseIn):
        receipt = selectors.receipt_in_scope(request.user, receipt_id)
        reversal = services.receipt_reverse(actor=request.user, receipt=receipt, date=payload.date, memo=payload.memo)
        return Status(201, {"id": reversal.pk, "date": reversal.date, "memo": reversal.memo, "receipt_id": receipt.pk,
                            "amount": receipt.amount})

    return router


router = build_router()
