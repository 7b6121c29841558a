"""Materialized paths for the union tree.

A unit's path is its parent's path plus one fixed-width segment of base-36 digits
(0-9, A-Z). A subtree is the range ``path >= p AND path < successor(p)``: a range
condition uses the B-tree index on both SQLite (where LIKE 'p%' would not) and
PostgreSQL, and since paths hold only digits and capital letters the order is the
same under any collation.
"""

from django.db.models import Q

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
STEPLEN = 4
MAX_CHILDREN = len(ALPHABET) ** STEPLEN


def encode_segment(number: int) -> str:
    if not 0 <= number < MAX_CHILDREN:
        raise ValueError("segment out of range")
    digits = []
    for _ in range(STEPLEN):
        number, rest = divmod(number, len(ALPHABET))
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits))


def decode_segment(segment: str) -> int:
    value = 0
    for ch in segment:
        value = value * len(ALPHABET) + ALPHABET.index(ch)
    return value


def successor(path: str) -> str | None:
    """The smallest string greater than every path that starts with ``path``.

    Increments the last base-36 digit with carry; None when there is none (all Z).
    """
    chars = list(path)
    for i in range(len(chars) - 1, -1, -1):
        pos = ALPHABET.index(chars[i])
        if pos + 1 < len(ALPHABET):
            chars[i] = ALPHABET[pos + 1]
            return "".join(chars[: i + 1])
        chars[i] = ALPHABET[0]
    return None


def subtree_q(field: str, path: str) -> Q:
    """Q for rows whose ``field`` lies in the subtree rooted at ``path`` (itself included)."""
    end = successor(path)
    q = Q(**{f"{field}__gte": path})
    if end is not None:
        q &= Q(**{f"{field}__lt": end})
    return q


def collapse(paths) -> list[str]:
    """Drop paths that lie inside another path of the list (their subtree is already covered)."""
    result: list[str] = []
    for p in sorted(set(paths)):
        if result and p.startswith(result[-1]):
            continue
        result.append(p)
    return result


def subtrees_q(field: str, paths) -> Q:
    """Q for the union of several subtrees; an empty list matches nothing."""
    paths = collapse(paths)
    if not paths:
        return Q(pk__in=[])
    q = Q()
    for p in paths:
        q |= subtree_q(field, p)
    return q


def ancestors_of(path: str) -> list[str]:
    """The paths of every ancestor of ``path``, root first, itself excluded."""
    return [path[:i] for i in range(STEPLEN, len(path), STEPLEN)]
