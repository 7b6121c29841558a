"""VietQR payloads: the text of a bank-transfer QR code that every Vietnamese banking app pays by scanning.

VietQR is NAPAS's profile of the EMVCo "merchant-presented" QR code: a string of data objects, each
``ID (2 digits) + length (2 digits) + value``, ending with a CRC. What we write, in this order:

====  ==========================================================================
00    payload format indicator, "01"
01    point of initiation: "11" static (no amount), "12" dynamic (with an amount)
38    merchant account information (NAPAS):
        00 GUID "A000000727" (NAPAS)
        01 beneficiary organization: 00 bank BIN (6 digits), 01 account number
        02 service code "QRIBFTTA" (transfer to an account)
53    currency, "704" (đồng)
54    amount, whole đồng (only when given)
58    country, "VN"
62    additional data: 08 purpose of the transaction (the transfer note)
63    CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) over everything before it,
      "6304" included, as 4 upper-case hex digits
====  ==========================================================================

The transfer note is reduced to what banks pass through: ASCII letters, digits, spaces and ". / -"
(accents removed, đ → d), at most 25 characters. The tests check the builder against a payload
published with an open-source VietQR generator (subiz/vietqr).
"""

import re
import unicodedata

NAPAS_GUID = "A000000727"
SERVICE_TRANSFER_TO_ACCOUNT = "QRIBFTTA"
CURRENCY_VND = "704"
COUNTRY_VN = "VN"
MAX_PURPOSE = 25

_ACCOUNT = re.compile(r"^[0-9A-Za-z]{1,19}$")
_BIN = re.compile(r"^\d{6}$")
_NOT_SAFE = re.compile(r"[^A-Za-z0-9 ./-]+")


class VietQRError(ValueError):
    """A bank BIN, account or amount that cannot go into a VietQR code; ``code`` is stable."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def crc16_ccitt_false(data: str) -> str:
    """CRC-16/CCITT-FALSE of the UTF-8 bytes of ``data``, as 4 upper-case hex digits."""
    crc = 0xFFFF
    for byte in data.encode("utf-8"):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return f"{crc:04X}"


def tlv(tag: str, value: str) -> str:
    if not 0 < len(value) <= 99:
        raise VietQRError("field_length")
    return f"{tag}{len(value):02d}{value}"


def ascii_note(text: str) -> str:
    """A transfer note every bank passes on: no accents (đ → d); letters, digits, single spaces and ". / -"
    (which keep a month "T05/2025" readable); at most 25 characters."""
    text = unicodedata.normalize("NFD", (text or "").replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = " ".join(_NOT_SAFE.sub(" ", text).split())
    return text[:MAX_PURPOSE].strip()


def build_payload(*, bank_bin: str, account_number: str, amount: int | None = None, purpose: str = "") -> str:
    """The VietQR text for a transfer to ``account_number`` at the bank ``bank_bin`` (NAPAS BIN),
    of ``amount`` đồng when given, with ``purpose`` as the transfer note."""
    if not _BIN.match(bank_bin or ""):
        raise VietQRError("bank_bin_invalid")
    if not _ACCOUNT.match(account_number or ""):
        raise VietQRError("account_invalid")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0 or amount >= 10**13):
        raise VietQRError("amount_invalid")
    beneficiary = tlv("00", bank_bin) + tlv("01", account_number)
    merchant = tlv("00", NAPAS_GUID) + tlv("01", beneficiary) + tlv("02", SERVICE_TRANSFER_TO_ACCOUNT)
    parts = [tlv("00", "01"), tlv("01", "12" if amount else "11"), tlv("38", merchant), tlv("53", CURRENCY_VND)]
    if amount:
        parts.append(tlv("54", str(amount)))
    parts.append(tlv("58", COUNTRY_VN))
    note = ascii_note(purpose)
    if note:
        parts.append(tlv("62", tlv("08", note)))
    body = "".join(parts) + "6304"
    return body + crc16_ccitt_false(body)


def parse_payload(payload: str) -> dict[str, str]:
    """The top-level data objects of a payload ({tag: value}); raises VietQRError on a bad CRC or layout."""
    if len(payload) < 8 or payload[-8:-4] != "6304":
        raise VietQRError("crc_missing")
    if crc16_ccitt_false(payload[:-4]) != payload[-4:].upper():
        raise VietQRError("crc_mismatch")
    return parse_template(payload)


def parse_template(value: str) -> dict[str, str]:
    """The data objects of a payload or of a template inside it (field 38, 62): {tag: value}."""
    fields, index = {}, 0
    while index < len(value):
        tag, size = value[index:index + 2], value[index + 2:index + 4]
        if len(tag) != 2 or not size.isdigit() or index + 4 + int(size) > len(value):
            raise VietQRError("layout_invalid")
        fields[tag] = value[index + 4:index + 4 + int(size)]
        index += 4 + int(size)
    return fields
