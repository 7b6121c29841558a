"""The period a report covers: a month, a quarter or a year, written the way people and programs do.

Accepted spellings (case and spaces ignored):

* a year: ``2025``;
* a quarter: ``2025-Q2``, ``Q2/2025``, ``Q2-2025``, ``2025Q2``;
* a month: ``2025-05``, ``05/2025``, ``5/2025``, ``5-2025``.

A period may not start after the current month (``period_in_future``). The month "as of" which
arrears are aged is the period's last month, or the current month for a period still running:
the same *as of* the payments arrears page uses (that month itself is not yet due).
"""

import datetime
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from congdoan.finance.money import add_months, month_end, month_start, months_between
from congdoan.finance_reports.choices import PeriodKind
from congdoan.finance_reports.errors import ReportError

FIRST_YEAR, LAST_YEAR = 2000, 2100

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(?:(\d{4})[-/ ]?Q([1-4])|Q([1-4])[-/ ](\d{4}))$")
_MONTH = re.compile(r"^(?:(\d{4})-(\d{1,2})|(\d{1,2})[/.-](\d{4}))$")


@dataclass(frozen=True)
class Period:
    """``kind`` and its first and last months (first days of the months, both included)."""

    kind: str
    start: datetime.date
    end: datetime.date

    @property
    def key(self) -> str:
        """How the period is written in URLs and the API: 2025, 2025-Q2, 2025-05."""
        if self.kind == PeriodKind.YEAR:
            return f"{self.start.year}"
        if self.kind == PeriodKind.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start:%Y-%m}"

    @property
    def label(self) -> str:
        if self.kind == PeriodKind.YEAR:
            return _("Year %(year)s") % {"year": self.start.year}
        if self.kind == PeriodKind.QUARTER:
            return _("Quarter %(q)s/%(year)s") % {"q": (self.start.month - 1) // 3 + 1, "year": self.start.year}
        return _("Month %(month)s") % {"month": f"{self.start:%m/%Y}"}

    @property
    def months(self) -> list[datetime.date]:
        return months_between(self.start, self.end)

    @property
    def last_day(self) -> datetime.date:
        return month_end(self.end)

    def as_of(self, today: datetime.date) -> datetime.date:
        """The month arrears are aged at: the period's last month, or this month if the period is still running."""
        return min(self.end, month_start(today))

    def previous(self) -> "Period":
        return _shifted(self, -1)

    def next(self) -> "Period":
        return _shifted(self, 1)


def _span(kind: str) -> int:
    return {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[kind]


def _shifted(period: Period, steps: int) -> Period:
    months = _span(period.kind) * steps
    return Period(period.kind, add_months(period.start, months), add_months(period.end, months))


def make_period(kind: str, year: int, number: int = 1) -> Period:
    """The ``number``-th month or quarter of ``year`` (ignored for a year)."""
    if kind == PeriodKind.YEAR:
        start = datetime.date(year, 1, 1)
    elif kind == PeriodKind.QUARTER:
        start = datetime.date(year, 3 * (number - 1) + 1, 1)
    else:
        start = datetime.date(year, number, 1)
    return Period(kind, start, add_months(start, _span(kind) - 1))


def default_period(today: datetime.date) -> Period:
    """This year so far: the collection rate officials follow."""
    return make_period(PeriodKind.YEAR, today.year)


def parse_period(value, today: datetime.date, *, field: str = "period") -> Period:
    """The period written in ``value`` (empty: this year). Errors: ``period_invalid``, ``period_in_future``."""
    text = "".join(str(value or "").split()).upper()
    if not text:
        return default_period(today)
    period = None
    if len(text) <= 10:
        if match := _YEAR.match(text):
            period = _checked(PeriodKind.YEAR, int(match.group(1)), 1)
        elif match := _QUARTER.match(text):
            year, quarter = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
            period = _checked(PeriodKind.QUARTER, int(year), int(quarter))
        elif match := _MONTH.match(text):
            year, month = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
            period = _checked(PeriodKind.MONTH, int(year), int(month))
    if period is None:
        raise ReportError(_("Write the period as a year (2025), a quarter (2025-Q2) or a month (05/2025)."),
                          code="period_invalid", field=field)
    if period.start > month_start(today):
        raise ReportError(_("The period %(period)s has not started yet.") % {"period": period.label}, code="period_in_future",
                          field=field)
    return period


def _checked(kind: str, year: int, number: int) -> Period | None:
    if not FIRST_YEAR <= year <= LAST_YEAR or not 1 <= number <= 12:
        return None
    return make_period(kind, year, number)


def parse_month(value, today: datetime.date, *, field: str = "as_of") -> datetime.date:
    """A month ("05/2025", "2025-05" or an ISO date): the *as of* month of arrears and reminders.
    Empty: this month. Errors: ``month_invalid``, ``month_in_future``."""
    if isinstance(value, datetime.date):
        month = month_start(value)
    else:
        text = "".join(str(value or "").split())
        if not text:
            return month_start(today)
        month = None
        if len(text) <= 10:
            if match := _MONTH.match(text):
                year, number = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
                if FIRST_YEAR <= int(year) <= LAST_YEAR and 1 <= int(number) <= 12:
                    month = datetime.date(int(year), int(number), 1)
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                try:
                    month = month_start(datetime.date.fromisoformat(text))
                except ValueError:
                    month = None
        if month is None:
            raise ReportError(_("Write the month as mm/yyyy."), code="month_invalid", field=field)
    if month > month_start(today):
        raise ReportError(_("The month %(month)s has not started yet.") % {"month": f"{month:%m/%Y}"}, code="month_in_future",
                          field=field)
    return month
