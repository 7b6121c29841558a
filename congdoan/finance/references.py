"""Payment references: a stable code per employer and per member, written in the transfer note.

An employer's reference is ``KP`` + its union's id on 8 digits + 2 check digits (``KP0000004271``),
a member's ``DP`` + his id on 10 digits + 2 check digits (``DP000001234583``). The check digits are
ISO 7064 MOD 97-10 (as in an IBAN) over a kind digit and the id, so a mistyped digit, two swapped
digits, or an employer's number read as a member's, is not a reference at all.

The reference is computed from the id, never stored: it cannot change, needs no table, and a batch
of transfer notes is resolved with one query per kind (``payers_by_reference``). Payments
(``congdoan/payments/ledger.py``) calls both functions here.
"""

import re

from congdoan.finance.choices import PayerKind

_PREFIX = {PayerKind.EMPLOYER: "KP", PayerKind.MEMBER: "DP"}
_KIND_DIGIT = {PayerKind.EMPLOYER: "1", PayerKind.MEMBER: "2"}
_WIDTH = {PayerKind.EMPLOYER: 8, PayerKind.MEMBER: 10}
_PATTERN = re.compile(r"^(KP)(\d{8})(\d{2})$|^(DP)(\d{10})(\d{2})$")
_KIND_OF_PREFIX = {v: k for k, v in _PREFIX.items()}
#: the length of a reference by its prefix: keys of other lengths are passed over without parsing
_LENGTH = {prefix: len(prefix) + _WIDTH[kind] + 2 for kind, prefix in _PREFIX.items()}


def _check_digits(kind: str, number: str) -> str:
    return f"{98 - int(_KIND_DIGIT[kind] + number + '00') % 97:02d}"


def payment_reference_for(*, kind: str, payer_id: int) -> str:
    """The payer's reference: ``kind`` "employer" (payer_id = the grassroots union's id) or "member"."""
    if kind not in _PREFIX or not isinstance(payer_id, int) or payer_id <= 0:
        return ""
    number = f"{payer_id:0{_WIDTH[kind]}d}"
    if len(number) > _WIDTH[kind]:
        return ""
    return f"{_PREFIX[kind]}{number}{_check_digits(kind, number)}"


def reference_sql(kind: str, payer_id: str, vendor: str) -> str:
    """SQL computing ``payment_reference_for(kind=<kind column>, payer_id=<id column>)`` in the database, for
    bulk posting (the same digits; tested against the Python for many ids on both databases). Its percent
    signs are doubled: it is executed with parameters."""
    def padded(width: int) -> str:
        return f"lpad(CAST({payer_id} AS text), {width}, '0')" if vendor == "postgresql" else f"printf('%%0{width}d', {payer_id})"

    def two(expression: str) -> str:
        return f"lpad(CAST({expression} AS text), 2, '0')" if vendor == "postgresql" else f"printf('%%02d', {expression})"

    cases = []
    for payer_kind, prefix in _PREFIX.items():
        width = _WIDTH[payer_kind]
        check = two(f"98 - CAST('{_KIND_DIGIT[payer_kind]}' || {padded(width)} || '00' AS bigint) %% 97")
        cases.append(f"WHEN {kind} = '{payer_kind.value}' AND {payer_id} > 0 AND {payer_id} < {10 ** width} "
                     f"THEN '{prefix}' || {padded(width)} || {check}")
    return f"CASE {' '.join(cases)} ELSE '' END"


def parse_reference(text: str) -> tuple[str, int] | None:
    """(kind, payer id) of a reference (upper case, letters and digits only), or None."""
    match = _PATTERN.match((text or "").upper())
    if not match:
        return None
    prefix, number, check = [g for g in match.groups() if g is not None]
    kind = _KIND_OF_PREFIX[prefix]
    if _check_digits(kind, number) != check or int(number) == 0:
        return None
    return kind, int(number)


def payers_by_reference(keys) -> list[tuple[str, str, int, int, bool]]:
    """Rows (reference, kind, payer id, unit id, unit active) for the keys that are references of
    existing payers. An employer's unit is its grassroots union; a member's is the unit he belongs to."""
    from congdoan.members.models import Member
    from congdoan.organizations.models import Unit

    wanted: dict[str, dict[int, str]] = {PayerKind.EMPLOYER: {}, PayerKind.MEMBER: {}}
    length = _LENGTH.get
    for key in keys:  # a statement offers millions of keys, very few of them references
        if length(key[:2].upper()) != len(key):
            continue
        parsed = parse_reference(key)
        if parsed:
            wanted[parsed[0]][parsed[1]] = key
    rows = []
    if wanted[PayerKind.EMPLOYER]:
        for pk, status in Unit.objects.filter(pk__in=list(wanted[PayerKind.EMPLOYER]), level="grassroots").values_list("pk", "status"):
            rows.append((wanted[PayerKind.EMPLOYER][pk], PayerKind.EMPLOYER.value, pk, pk, status == "active"))
    if wanted[PayerKind.MEMBER]:
        for pk, unit_id, status in Member.objects.filter(pk__in=list(wanted[PayerKind.MEMBER])).values_list(
                "pk", "unit_id", "unit__status"):
            rows.append((wanted[PayerKind.MEMBER][pk], PayerKind.MEMBER.value, pk, unit_id, status == "active"))
    return rows
