"""Automatic matching of a transfer note to the payer who sent it.

The note is normalized (accents stripped, đ → D, upper case) and cut into words of letters
and digits. The candidate keys are every word of 6 to 24 characters that holds a digit, and
every two neighbouring words joined (banks and payers insert spaces and dashes: "DV 0123456789",
"0101234567-001"). A key is a payment reference (from finance), an employer's tax code, or a
member code, compared in the same normalized form. Keys are looked up in the database once per
chunk of lines, so matching costs one query per key kind per chunk, whatever the size of the tree.

A line is matched when its keys name exactly one payer. Keys naming two payers (two employers
with one tax code, or a tax code and a member code of different payers) send the line to the
reconciliation queue with the reason "ambiguous".
"""

import datetime
import re
import unicodedata
from dataclasses import dataclass

from django.db import connection

from congdoan.payments import ledger
from congdoan.payments.choices import PayerKind

MIN_KEY, MAX_KEY = 6, 24
MAX_MEMBER_CODE = 20
_WORD = re.compile(r"[A-Z0-9]+")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
_D = str.maketrans({"đ": "d", "Đ": "D"})
#: "T5/2025", "THANG 05-2025", "KY 5/2025", "05/2025" in a normalized note
_PERIOD = re.compile(r"(?:\b(?:T|THANG|KY)\s*)?(?<![0-9/.-])(0?[1-9]|1[0-2])\s*[/.-]\s*(20\d\d)(?![0-9])")


def normalize_note(text: str) -> str:
    """Upper case, no accents, đ → D; ASCII notes (most bank notes) take the fast path."""
    if text.isascii():
        return text.upper()
    decomposed = unicodedata.normalize("NFD", text.translate(_D))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).upper()


def normalize_key(text: str) -> str:
    """A reference, tax code or member code as compared: normalized, letters and digits only."""
    return _NOT_ALNUM.sub("", normalize_note(text or ""))


def candidates(note_normalized: str, tax_codes=None) -> list[str]:
    """The words that could be a key, and the pairs that are one key split by a space, dot or dash:
    letters followed by a number ("DV 0123456789", "DV.0123456789") and a 10-digit tax code followed
    by its 3-digit branch ("0101234567-001"). With ``tax_codes`` (a set), an all-digit key is kept only
    if it is one of them (``Resolver.tax_codes``)."""
    found = []
    previous = ""
    for word in _WORD.findall(note_normalized):
        size = len(word)
        digits = word.isdigit()
        if MIN_KEY <= size <= MAX_KEY and not word.isalpha() and (not digits or tax_codes is None or word in tax_codes):
            found.append(word)
        if previous and digits and (previous.isalpha() or (size == 3 and len(previous) == 10 and previous.isdigit())):
            joined = previous + word
            if MIN_KEY <= len(joined) <= MAX_KEY and (tax_codes is None or not joined.isdigit() or joined in tax_codes):
                found.append(joined)
        previous = word
    return found


def period_in_note(note_normalized: str, paid_on: datetime.date) -> datetime.date:
    """The month the note says it pays ("T5/2025"), or the month of the payment."""
    match = _PERIOD.search(note_normalized)
    if match:
        month, year = int(match.group(1)), int(match.group(2))
        if 2000 <= year <= paid_on.year + 1:
            return datetime.date(year, month, 1)
    return paid_on.replace(day=1)


@dataclass(frozen=True, slots=True)
class Payer:
    """Who paid: an employer (its grassroots union pays the union fee) or a member (dues)."""

    kind: str  # PayerKind
    id: int  # unit id for an employer, member id for a member
    unit_id: int  # the grassroots unit the money is for
    unit_active: bool


class Resolver:
    """Looks candidate keys up, a chunk of lines at a time, and remembers what it found.

    Tax codes are looked up in memory (every employer's, loaded once); keys holding a letter
    and a digit are looked up among member codes (one query per chunk); every key is offered
    to finance's payment references.
    """

    #: looked-up keys remembered (hits are few; most keys are bank noise that repeats little)
    MAX_REMEMBERED = 1_000_000

    def __init__(self):
        self.seen: set[str] = set()
        self.hits: dict[str, tuple[Payer, ...]] = {}
        self._employers: dict[str, tuple[Payer, ...]] | None = None

    def _employer_index(self) -> dict[str, tuple[Payer, ...]]:
        # every employer with a tax code (a few hundred thousand nationwide at most): one query
        if self._employers is None:
            index: dict[str, list[Payer]] = {}
            with connection.cursor() as cur:
                cur.execute("SELECT id, employer_tax_code, status FROM organizations_unit WHERE employer_tax_code <> ''")
                for unit_id, tax_code, status in cur.fetchall():
                    key = normalize_key(tax_code)
                    index.setdefault(key, []).append(Payer(PayerKind.EMPLOYER, unit_id, unit_id, status == "active"))
            self._employers = {k: tuple(v) for k, v in index.items()}
        return self._employers

    def tax_codes(self) -> set[str]:
        """The employers' tax codes as keys, for ``candidates``: only tax codes are all digits (member codes and
        references hold letters), so an all-digit key that is no employer's tax code names nobody, and the bank's
        own numbers in a note ("MBVCB.8812345678.123456.") are dropped before they are looked up. Loads the
        employers (in the process that reads, before it forks its reader)."""
        return set(self._employer_index())

    def resolve(self, keys: set[str]) -> None:
        """Look up the keys not seen yet."""
        new = [k for k in keys if k not in self.seen]
        if not new:
            return
        if len(self.seen) > self.MAX_REMEMBERED:
            self.seen.clear()
        self.seen.update(new)
        found: dict[str, set[Payer]] = {}
        employers = self._employer_index()
        for key in new:
            payers = employers.get(key)
            if payers:
                found[key] = set(payers)
        member_keys = [k for k in new if len(k) <= MAX_MEMBER_CODE and not k.isdigit()]
        for key, payer in self._members(member_keys):
            found.setdefault(key, set()).add(payer)
        for key, payers in ledger.payers_by_reference(new).items():
            if key in self.seen:
                found.setdefault(key, set()).update(payers)
        for key, payers in found.items():
            self.hits[key] = tuple(payers)

    def _members(self, keys: list[str]):
        if not keys:
            return
        with connection.cursor() as cur:
            step = 50_000 if connection.vendor == "postgresql" else 900
            for start in range(0, len(keys), step):
                batch = keys[start:start + step]
                if connection.vendor == "postgresql":
                    # keys are letters and digits only: one array literal instead of adapting 50,000 strings one by one
                    cur.execute("SELECT m.id, m.code, m.unit_id, u.status FROM members_member m JOIN organizations_unit u "
                                "ON u.id = m.unit_id WHERE m.code = ANY(CAST(%s AS varchar[]))", ["{" + ",".join(batch) + "}"])
                else:
                    marks = ",".join(["%s"] * len(batch))
                    cur.execute("SELECT m.id, m.code, m.unit_id, u.status FROM members_member m JOIN organizations_unit u "
                                f"ON u.id = m.unit_id WHERE m.code IN ({marks})", batch)
                for member_id, code, unit_id, status in cur.fetchall():
                    yield code, Payer(PayerKind.MEMBER, member_id, unit_id, status == "active")

    def payers_of(self, keys) -> set[Payer] | tuple:
        found = None
        hits = self.hits
        for key in keys:
            payers = hits.get(key)
            if payers:
                if found is None:
                    found = set(payers)
                else:
                    found.update(payers)
        return found or ()
