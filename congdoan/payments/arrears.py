"""Arrears arithmetic, apart from the database so that it is easy to test and to read.

Owed and paid are per month (the first day of the month stands for it). As of month A:
  - the month A itself is not yet due; months before A are;
  - payments cover the oldest months first (first in, first out), whatever month the payer
    named, so an employer who pays late is not shown owing a recent month and clear of an old one;
  - a month's unpaid rest has the age A − month in months, and falls in one bucket of AGE_BUCKETS:
    up to 3 months (1–3), 3–6 (4–6), 6–12 (7–12), over 12 (13 and more).
"""

import datetime
from dataclasses import dataclass, field

from congdoan.payments.choices import AGE_BUCKETS


def month_index(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


def add_months(day: datetime.date, months: int) -> datetime.date:
    index = month_index(day) + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def bucket_of(age: int) -> str | None:
    for key, _label, low, high in AGE_BUCKETS:
        if age >= low and (high is None or age <= high):
            return key
    return None


def unpaid_by_month(owed: dict, paid_total: int, as_of: datetime.date) -> dict:
    """{month: unpaid rest} for the due months (before ``as_of``), payments applied oldest first."""
    left = paid_total
    unpaid = {}
    for month in sorted(owed):
        amount = owed[month]
        covered = min(amount, max(left, 0))
        left -= covered
        if amount - covered > 0 and month < as_of:
            unpaid[month] = amount - covered
    return unpaid


@dataclass
class EmployerArrears:
    unit_id: int
    owed_total: int = 0
    paid_total: int = 0
    owed_year: int = 0
    paid_year: int = 0
    buckets: dict = field(default_factory=dict)

    @property
    def balance(self) -> int:
        return self.owed_total - self.paid_total

    @property
    def arrears(self) -> int:
        return sum(self.buckets.values())

    @property
    def oldest_bucket(self) -> str | None:
        for key, *_ in reversed(AGE_BUCKETS):
            if self.buckets.get(key):
                return key
        return None


def employer_arrears(unit_id: int, owed: dict, paid: dict, as_of: datetime.date) -> EmployerArrears:
    """``owed``/``paid``: {month: amount} up to ``as_of`` included."""
    result = EmployerArrears(unit_id)
    year_start = as_of.replace(month=1)
    result.owed_total = sum(owed.values())
    result.paid_total = sum(paid.values())
    result.owed_year = sum(a for m, a in owed.items() if m >= year_start)
    result.paid_year = sum(a for m, a in paid.items() if m >= year_start)
    for month, amount in unpaid_by_month(owed, result.paid_total, as_of).items():
        key = bucket_of(month_index(as_of) - month_index(month))
        if key:
            result.buckets[key] = result.buckets.get(key, 0) + amount
    return result


def month_table(owed: dict, paid: dict, as_of: datetime.date) -> list[dict]:
    """Per month, oldest first: owed, paid, the running balance, and the unpaid rest's age bucket."""
    months = sorted(set(owed) | set(paid))
    if not months:
        return []
    unpaid = unpaid_by_month(owed, sum(paid.values()), as_of)
    rows, balance = [], 0
    month = months[0]
    while month <= max(months[-1], as_of):
        o, p = owed.get(month, 0), paid.get(month, 0)
        balance += o - p
        rows.append({"month": month, "owed": o, "paid": p, "balance": balance, "unpaid": unpaid.get(month, 0),
                     "bucket": bucket_of(month_index(as_of) - month_index(month)) if unpaid.get(month) else None})
        month = add_months(month, 1)
    return rows
