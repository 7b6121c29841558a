"""SWIFT MT940 bank statements through the ``mt-940`` library (see parsers.py for what a reader yields)."""

import datetime
import re
from pathlib import Path

from django.utils.translation import gettext as _

from congdoan.payments.parsers import (
    AMOUNT_MESSAGES, MAX_NOTE, MAX_TXN_ID, AmountError, ErrorLog, Line, Statement, StatementFileError, _digits, _nfc,
    parse_amount,
)

def open_mt940(path: Path, expected_account: str) -> Statement:
    import mt940

    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise StatementFileError(_("The MT940 file is not plain text (first unreadable character on line %(line)s).") % {
            "line": line}, code="file_encoding") from exc
    if not re.search(r"^:20:", text, re.MULTILINE) or not re.search(r"^:61:", text, re.MULTILINE) and not re.search(r"^:6[02][FM]:", text, re.MULTILINE):
        raise StatementFileError(_("This is not a SWIFT MT940 statement (no :20: and :61: fields)."), code="file_type")
    transactions = mt940.models.Transactions()
    try:
        transactions.parse(text)
    except Exception as exc:  # the library raises several kinds for a field it cannot read
        raise StatementFileError(_("The MT940 statement cannot be read: %(problem)s") % {"problem": str(exc)[:200]},
                                 code="file_unreadable") from exc
    account = str(transactions.data.get("account_identification") or "").strip()
    if expected_account and account and _digits(account.split("/")[-1]) != _digits(expected_account) and \
            not _digits(account).endswith(_digits(expected_account)):
        raise StatementFileError(_("This statement is for the account %(found)s, not for %(account)s.") % {
            "found": account, "account": expected_account}, code="wrong_account")
    errors = ErrorLog()
    statement = Statement("mt940", len(transactions), iter(()), errors, account=account)

    def lines():
        for number, tx in enumerate(transactions, start=1):
            data = tx.data
            where = _("transaction %(n)s") % {"n": number}
            status = str(data.get("status") or "")
            if status in ("D", "RC"):  # debit, or the reversal of a credit: money out
                statement.debit_count += 1
                continue
            amount_obj = data.get("amount")
            currency = str(getattr(amount_obj, "currency", None) or data.get("currency") or "VND")
            if currency != "VND":
                errors.add(number, f"{where} · :61:", "currency",
                           _("The amount is in %(currency)s; only đồng (VND) can be received.") % {"currency": currency}, "")
                continue
            try:
                amount = parse_amount(getattr(amount_obj, "amount", None))
                if amount is None:
                    raise AmountError("amount_missing")
            except AmountError as exc:
                errors.add(number, f"{where} · :61:", exc.code, AMOUNT_MESSAGES[exc.code](), getattr(amount_obj, "amount", ""))
                continue
            txn_id = str(data.get("bank_reference") or "").strip()
            customer = str(data.get("customer_reference") or "").strip()
            if not txn_id and customer and customer != "NONREF":
                txn_id = customer
            if not txn_id:
                errors.add(number, f"{where} · :61:", "txn_id_missing", _("The line has no bank transaction ID."), "")
                continue
            booked = data.get("entry_date") or data.get("date")
            note = " ".join(str(data.get("transaction_details") or data.get("extra_details") or "").split())
            yield Line(number, txn_id[:MAX_TXN_ID], datetime.date(booked.year, booked.month, booked.day), amount, _nfc(note)[:MAX_NOTE])

    statement.lines = lines()
    return statement
