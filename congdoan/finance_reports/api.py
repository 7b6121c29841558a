"""Finance reports in the JSON API: collection rates and arrears by age, arrears by employer, revenue
by month, level and source, remittances to upper levels, reminders and the jobs that send them.

The endpoints call the pages' selectors and services: the scope is the same (aggregated figures
with ``view`` on the unit, anything naming employers or a unit's books with ``finance``; 404
outside it), so are the errors (a malformed or future period: 422 with the code
``period_invalid`` / ``period_in_future`` and the field ``period``). Money is whole đồng.

``unit`` may be left out: the caller's first subtree. ``period``: a year (2025), a quarter
(2025-Q2) or a month (2025-05 or 05/2025); empty: this year.

Mounted by congdoan/api.py with ``api.add_router("/finance-reports", finance_reports_router)``;
``build_router`` makes a fresh router for tests that mount their own API.
"""

import datetime

from django.utils import timezone, translation
from ninja import Field, Query, Router, Schema, Status

from congdoan.accounts.choices import Action
from congdoan.core.api_auth import ERRORS, WRITE_ERRORS
from congdoan.core.errors import NotFoundInScope
from congdoan.finance_reports import selectors, services
from congdoan.finance_reports.periods import parse_month, parse_period


class PeriodOut(Schema):
    key: str
    kind: str
    start: datetime.date
    end: datetime.date


class UnitRef(Schema):
    id: int
    code: str
    name: str


class BucketOut(Schema):
    amount: int
    employers: int


class CollectionFigures(Schema):
    union_fee_owed: int
    union_fee_paid: int
    union_fee_rate_bp: int | None = Field(description="paid ÷ owed in basis points (10,000 = 100 %); null when nothing was owed")
    dues_owed: int
    dues_paid: int
    dues_rate_bp: int | None
    grassroots_unions: int
    employers_in_arrears: int
    arrears: int
    buckets: dict[str, BucketOut] = Field(description="arrears by age: upto3, m3to6, m6to12, over12")


class BranchOut(CollectionFigures):
    unit: UnitRef


class CollectionOut(CollectionFigures):
    unit: UnitRef
    period: PeriodOut
    as_of: datetime.date
    branches: list[BranchOut]


class EmployerOut(Schema):
    unit_id: int
    code: str
    name: str
    tax_code: str
    union_fee_owed: int
    union_fee_paid: int
    dues_owed: int
    dues_paid: int
    arrears: int
    buckets: dict[str, int]


class EmployersOut(Schema):
    unit: UnitRef
    period: PeriodOut
    as_of: datetime.date
    count: int
    totals: dict[str, int | None]
    items: list[EmployerOut]


class RevenueRow(Schema):
    month: datetime.date
    level: str
    source: str
    amount: int


class RevenueOut(Schema):
    unit: UnitRef
    period: PeriodOut
    totals: dict[str, int]
    rows: list[RevenueRow]


class RemittanceRow(Schema):
    unit_id: int
    code: str
    name: str
    level: str
    opening: int
    due: int
    remitted: int
    closing: int


class RemittancesOut(Schema):
    unit: UnitRef
    period: PeriodOut
    totals: dict[str, int]
    rows: list[RemittanceRow]


class ReminderOut(Schema):
    id: int
    employer_id: int
    as_of: datetime.date
    first_month: datetime.date
    last_month: datetime.date
    amount: int
    email: str
    reference: str
    status: str
    forced: bool
    sent_at: datetime.datetime | None


class JobIn(Schema):
    unit: int
    as_of: str = Field("", description="mm/yyyy or yyyy-mm; empty: this month")
    force: bool = False


class JobOut(Schema):
    id: int
    unit_id: int
    as_of: datetime.date
    force: bool
    status: str
    total: int
    done: int
    sent: int
    already_sent: int
    no_email: int
    failed: int
    amount: int


class ScheduleIn(Schema):
    unit: int = Field(..., description="The subtree's root: a unit whose books the caller keeps")
    day_of_month: int = Field(..., description="1 to 28: the day the month's reminders go out")
    enabled: bool = True
    language: str = Field("vi", description="vi or en: the language of the notices")


class ScheduleOut(Schema):
    unit_id: int
    scheduled: bool  # False: no schedule saved for this unit yet (the other fields are empty)
    day_of_month: int | None = None
    enabled: bool = False
    language: str = ""
    last_run_month: datetime.date | None = None


class ScheduleQuery(Schema):
    unit: int | None = Field(None, description="The subtree's root; empty: the first of the caller's.")


def _schedule(unit_id: int, schedule) -> dict:
    if schedule is None:
        return {"unit_id": unit_id, "scheduled": False}
    return {"unit_id": unit_id, "scheduled": True, "day_of_month": schedule.day_of_month, "enabled": schedule.enabled,
            "language": schedule.language, "last_run_month": schedule.last_run_month}


class ReportQuery(Schema):
    unit: int | None = Field(None, description="The subtree's unit (404 outside the caller's scope); empty: the first of the caller's.")
    period: str = Field("", max_length=20, description="2025, 2025-Q2, 2025-05 or 05/2025; empty: this year")


class RemindersQuery(Schema):
    unit: int | None = Field(None, description="The subtree's unit; empty: the first of the caller's.")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class EmployersQuery(ReportQuery):
    bucket: str = Field("", description="any, upto3, m3to6, m6to12 or over12: only employers with such arrears")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


def _unit(unit) -> dict:
    return {"id": unit.pk, "code": unit.code, "name": unit.name}


def _period(period) -> dict:
    return {"key": period.key, "kind": period.kind, "start": period.start, "end": period.end}


def _figures(c) -> dict:
    return {
        "union_fee_owed": c.fee_owed.value, "union_fee_paid": c.fee_paid.value, "union_fee_rate_bp": c.fee_rate_bp,
        "dues_owed": c.dues_owed.value, "dues_paid": c.dues_paid.value, "dues_rate_bp": c.dues_rate_bp,
        "grassroots_unions": c.grassroots.value, "employers_in_arrears": c.in_arrears.value, "arrears": c.arrears.value,
        "buckets": {amount.measure: {"amount": amount.value, "employers": count.value} for amount, count in c.buckets},
    }


def _scope(request, q: ReportQuery, action: str):
    root, roots = selectors.choose_root(request.user, q.unit, action)
    return root, roots, parse_period(q.period, timezone.localdate())


def build_router() -> Router:
    router = Router(tags=["finance reports"])

    @router.get("/collection", response={200: CollectionOut, **ERRORS},
                summary="Collection of union fee and dues of a subtree for a period, arrears by age, per branch")
    def collection(request, q: Query[ReportQuery]):
        root, roots, period = _scope(request, q, Action.VIEW)
        report = selectors.collection_report(user=request.user, root=root, roots=roots, period=period, today=timezone.localdate())
        return {**_figures(report.total), "unit": _unit(root), "period": _period(period), "as_of": report.as_of,
                "branches": [{**_figures(b), "unit": _unit(b.unit)} for b in report.branches]}

    @router.get("/employers", response={200: EmployersOut, **ERRORS}, summary="Arrears by employer (finance officials)")
    def employers(request, q: Query[EmployersQuery]):
        root, _roots, period = _scope(request, q, Action.FINANCE)
        as_of = period.as_of(timezone.localdate())
        rows = selectors.filter_employer_rows(selectors.employer_rows(user=request.user, root=root, period=period, as_of=as_of),
                                              bucket=q.bucket)
        return {"unit": _unit(root), "period": _period(period), "as_of": as_of, "count": len(rows),
                "totals": selectors.employer_totals(rows),
                "items": [{"unit_id": r.pk, "code": r.code, "name": r.name, "tax_code": r.tax_code, "union_fee_owed": r.fee_owed,
                           "union_fee_paid": r.fee_paid, "dues_owed": r.dues_owed, "dues_paid": r.dues_paid,
                           "arrears": r.arrears.arrears, "buckets": r.arrears.buckets}
                          for r in rows[q.offset:q.offset + q.limit]]}

    @router.get("/revenue", response={200: RevenueOut, **ERRORS}, summary="Revenue of a subtree by month, level and source")
    def revenue(request, q: Query[ReportQuery]):
        root, _roots, period = _scope(request, q, Action.VIEW)
        report = selectors.revenue_report(user=request.user, root=root, period=period)
        return {"unit": _unit(root), "period": _period(period), "totals": report["totals"],
                "rows": [{"month": d["month"], "level": d["level"], "source": d["source"], "amount": d["amount"]}
                         for d in report["detail"]]}

    @router.get("/remittances", response={200: RemittancesOut, **ERRORS},
                summary="What each unit owed its upper levels, remitted and still owes (finance officials)")
    def remittances(request, q: Query[ReportQuery]):
        root, _roots, period = _scope(request, q, Action.FINANCE)
        report = selectors.remittance_report(user=request.user, root=root, period=period)
        return {"unit": _unit(root), "period": _period(period), "totals": report["totals"], "rows": report["rows"]}

    @router.get("/reminders", response={200: list[ReminderOut], **ERRORS}, summary="Reminders sent in a subtree (newest first)")
    def reminders(request, q: Query[RemindersQuery]):
        root, _roots = selectors.choose_root(request.user, q.unit, Action.FINANCE)
        return list(selectors.reminders_of(user=request.user, root=root)[q.offset:q.offset + q.limit])

    @router.post("/reminders/jobs", response={201: JobOut, **WRITE_ERRORS},
                 summary="Send reminders to every employer in arrears of a subtree (in the background)")
    def reminder_job_create(request, payload: JobIn):
        root = selectors.report_unit(request.user, payload.unit, Action.FINANCE)
        as_of = parse_month(payload.as_of, timezone.localdate())
        job = services.reminder_job_create(actor=request.user, root=root, as_of=as_of, force=payload.force,
                                           language=translation.get_language())
        return Status(201, job)

    @router.get("/reminders/schedule", response={200: ScheduleOut, **ERRORS},
                summary="The monthly reminders of a subtree: the day they go out, on or off")
    def reminder_schedule(request, q: Query[ScheduleQuery]):
        root, _roots = selectors.choose_root(request.user, q.unit, Action.FINANCE)
        return _schedule(root.pk, selectors.reminder_schedule_of(request.user, root))

    @router.put("/reminders/schedule", response={200: ScheduleOut, **WRITE_ERRORS},
                summary="Set or switch off the monthly reminders of a subtree")
    def reminder_schedule_save(request, payload: ScheduleIn):
        root = selectors.report_unit(request.user, payload.unit, Action.FINANCE)
        schedule = services.reminder_schedule_save(actor=request.user, root=root, day_of_month=payload.day_of_month,
                                                   enabled=payload.enabled, language=payload.language)
        return _schedule(root.pk, schedule)

    @router.get("/reminders/jobs/{int:job_id}", response={200: JobOut, **ERRORS}, summary="Progress of a reminder job")
    def reminder_job(request, job_id: int):
        job = selectors.reminder_jobs_of(request.user).filter(pk=job_id).first()
        if job is None:
            raise NotFoundInScope()
        return job

    return router


router = build_router()
