"""Money arithmetic in whole đồng: rates in basis points, months, and splitting an amount without
losing a đồng. Pure functions, apart from the database, so that they are easy to test and to read.

Rounding rule (stated once, used everywhere): an amount times a rate is rounded to the nearest
đồng, halves up — ``(amount × bp + 5,000) // 10,000`` for non-negative amounts. A split of an amount
between several parties is not rounded part by part: it is the largest-remainder method, so the
parts always add up to the amount exactly.
"""

import datetime

from congdoan.finance.choices import BP


def apply_rate(amount: int, bp: int) -> int:
    """``amount`` × ``bp``/10,000, rounded to the nearest đồng (halves up)."""
    if not isinstance(amount, int) or not isinstance(bp, int):
        raise TypeError("money is integers")
    if amount < 0:
        return -apply_rate(-amount, bp)
    return (amount * bp + BP // 2) // BP


def largest_remainder(total: int, weights: list[tuple[object, int]]) -> dict:
    """Split ``total`` đồng in proportion to integer ``weights`` [(key, weight)], parts summing exactly to total.

    Each key first gets the floor of its exact quota; the đồng left over go one each to the keys
    with the largest remainders, ties to the key listed first. Keys with weight 0 get 0.
    """
    if not isinstance(total, int) or total < 0:
        raise ValueError("total must be a non-negative integer")
    weight_sum = sum(w for _, w in weights)
    if weight_sum <= 0 or any(w < 0 for _, w in weights):
        raise ValueError("weights must be non-negative and not all zero")
    parts, remainders = {}, []
    for index, (key, weight) in enumerate(weights):
        quota, rest = divmod(total * weight, weight_sum)
        parts[key] = parts.get(key, 0) + quota
        remainders.append((-rest, index, key))
    left = total - sum(parts.values())
    for _, _, key in sorted(remainders)[:left]:
        parts[key] += 1
    return parts


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def month_index(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


def add_months(day: datetime.date, months: int) -> datetime.date:
    index = month_index(day) + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def month_end(day: datetime.date) -> datetime.date:
    return add_months(day, 1) - datetime.timedelta(days=1)


def months_between(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """First days of the months from ``start``'s to ``end``'s, both included."""
    months, month = [], month_start(start)
    while month <= end:
        months.append(month)
        month = add_months(month, 1)
    return months


def vnd(amount: int | None) -> str:
    """1234567 -> "1.234.567 đ"."""
    if amount is None:
        return "—"
    return f"{int(amount):,}".replace(",", ".") + " đ"
