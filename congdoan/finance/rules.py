"""Reading the rules: what was in force on a date.

``RuleBook`` loads every rule once (a few dozen rows) and answers "the value of this kind (for this
level or employer type) on this date": the record with the latest ``valid_from`` not after the date.
Selectors build one per call, so a change of rule is seen by the next request.
"""

import bisect
import datetime
from dataclasses import dataclass

from congdoan.finance.choices import SHARE_KIND_OF, SHARE_LEVELS, RuleKind, Source
from congdoan.finance.models import Rule, UnitDuesRate
from congdoan.finance.money import apply_rate


@dataclass(frozen=True)
class DuesTerms:
    """The dues rule of a month: rate (bp of the salary), floor and cap in đồng."""

    rate_bp: int
    floor: int
    cap: int | None


class RuleBook:
    def __init__(self, rows=None):
        if rows is None:
            rows = Rule.objects.order_by("valid_from", "pk").values_list("kind", "level", "employer_type", "valid_from", "value")
        self._series: dict[tuple[str, str, str], tuple[list, list]] = {}
        for kind, level, employer_type, valid_from, value in rows:
            dates, values = self._series.setdefault((kind, level, employer_type), ([], []))
            dates.append(valid_from)
            values.append(value)

    def value(self, kind: str, on: datetime.date, *, level: str = "", employer_type: str = "", default=None):
        series = self._series.get((kind, level, employer_type))
        if not series:
            return default
        dates, values = series
        index = bisect.bisect_right(dates, on) - 1
        return values[index] if index >= 0 else default

    def union_fee_rate(self, on: datetime.date) -> int | None:
        return self.value(RuleKind.UNION_FEE_RATE, on)

    def base_salary(self, on: datetime.date) -> int | None:
        return self.value(RuleKind.BASE_SALARY, on)

    def exempt(self, source: str, employer_type: str, on: datetime.date) -> bool:
        if not employer_type:
            return False
        kind = RuleKind.UNION_FEE_EXEMPT if source == Source.UNION_FEE else RuleKind.DUES_EXEMPT
        return bool(self.value(kind, on, employer_type=employer_type, default=0))

    def exempt_types(self, source: str, on: datetime.date) -> set[str]:
        kind = RuleKind.UNION_FEE_EXEMPT if source == Source.UNION_FEE else RuleKind.DUES_EXEMPT
        return {etype for (k, _level, etype) in self._series if k == kind and self.exempt(source, etype, on)}

    def shares(self, source: str, on: datetime.date) -> dict[str, int]:
        """{level: basis points} in force on ``on`` for money of ``source``; empty when none is."""
        kind = SHARE_KIND_OF[source]
        shares = {}
        for level in SHARE_LEVELS:
            value = self.value(kind, on, level=level)
            if value:
                shares[level] = value
        return shares

    def dues_terms(self, on: datetime.date) -> DuesTerms | None:
        rate = self.value(RuleKind.DUES_RATE, on)
        if rate is None:
            return None
        base = self.base_salary(on)
        floor_bp = self.value(RuleKind.DUES_FLOOR, on, default=0)
        cap_bp = self.value(RuleKind.DUES_CAP, on)
        floor = apply_rate(base, floor_bp) if base and floor_bp else 0
        cap = apply_rate(base, cap_bp) if base and cap_bp is not None else None
        return DuesTerms(rate, floor, cap)


def unit_rates(unit_ids) -> dict[int, tuple[list, list]]:
    """{grassroots unit id: (valid_from dates, rates)} of the units' own dues rates."""
    series: dict[int, tuple[list, list]] = {}
    for unit_id, valid_from, rate in (UnitDuesRate.objects.filter(unit_id__in=list(unit_ids))
                                      .order_by("valid_from").values_list("unit_id", "valid_from", "rate_bp")):
        dates, rates = series.setdefault(unit_id, ([], []))
        dates.append(valid_from)
        rates.append(rate)
    return series


def unit_rate_on(series, unit_id: int, on: datetime.date) -> int:
    """The unit's own dues rate on ``on`` (0: none, the general rate applies)."""
    found = series.get(unit_id)
    if not found:
        return 0
    dates, rates = found
    index = bisect.bisect_right(dates, on) - 1
    return rates[index] if index >= 0 else 0


def member_dues(terms: DuesTerms, salary: int, own_rate_bp: int = 0) -> tuple[int, int]:
    """(standard dues, extra kept by the grassroots union) for a month's salary.

    The standard part is the general rate of the salary, raised to the floor and lowered to the cap
    (both from the base salary). A unit's own higher rate adds (own − general rate) × salary on top,
    not capped: the members voted it, and the extra stays with their grassroots union.
    """
    standard = apply_rate(salary, terms.rate_bp)
    standard = max(standard, terms.floor)
    if terms.cap is not None:
        standard = min(standard, terms.cap)
    extra = apply_rate(salary, own_rate_bp - terms.rate_bp) if own_rate_bp > terms.rate_bp else 0
    return standard, extra
