"""ISO 20022 camt.053 bank statements (see parsers.py for what a reader yields)."""

import datetime
import re
from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from congdoan.payments.parsers import (
    AMOUNT_MESSAGES, MAX_NOTE, MAX_TXN_ID, AmountError, ErrorLog, Line, Statement, StatementFileError, _decimal_amount, _digits,
    _nfc,
)

CAMT_NS = re.compile(r"^\{(urn:iso:std:iso:20022:tech:xsd:camt\.05[23]\.001\.\d+)\}Document$")


class CamtReader:
    """camt.053 (and camt.052) read with a streaming, entity-safe parser (defusedxml): one
    Ntry at a time, each TxDtls of a batch booking becoming its own line."""

    def __init__(self, path: Path, expected_account: str):
        self.path, self.expected_account = path, expected_account

    def open(self) -> Statement:
        import defusedxml.ElementTree as SafeET

        try:
            events = SafeET.iterparse(str(self.path), events=("start", "end"))
            event, root = next(events)
        except StopIteration as exc:
            raise StatementFileError(_("The file is empty."), code="file_empty") from exc
        except Exception as exc:
            raise self._xml_error(exc) from exc
        match = CAMT_NS.match(root.tag)
        if not match:
            raise StatementFileError(_("This is not an ISO 20022 camt.053 bank statement (the document is %(tag)s).") % {
                "tag": root.tag.rsplit("}", 1)[-1]}, code="file_type")
        self.ns = "{" + match.group(1) + "}"
        errors = ErrorLog()
        statement = Statement("camt053", self._estimate(), iter(()), errors)
        statement.lines = self._lines(events, root, errors, statement)
        return statement

    def _estimate(self) -> int:
        count = 0
        with open(self.path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                count += chunk.count(b"<Ntry>")
        return count

    def _xml_error(self, exc) -> StatementFileError:
        position = getattr(exc, "position", None)
        if position:
            return StatementFileError(_("The XML is malformed at line %(line)s, column %(column)s.") % {
                "line": position[0], "column": position[1] + 1}, code="file_unreadable")
        return StatementFileError(_("The file is not a well-formed XML document."), code="file_unreadable")

    def _lines(self, events, root, errors: ErrorLog, statement: Statement) -> Iterator[Line]:
        ns = self.ns
        number = 0
        try:
            for event, elem in events:
                if event != "end":
                    continue
                if elem.tag == ns + "Acct" and statement.account == "":
                    statement.account = (elem.findtext(f"{ns}Id/{ns}Othr/{ns}Id") or elem.findtext(f"{ns}Id/{ns}IBAN") or "").strip()
                    if self.expected_account and statement.account and _digits(statement.account) != _digits(self.expected_account):
                        raise StatementFileError(_("This statement is for the account %(found)s, not for %(account)s.") % {
                            "found": statement.account, "account": self.expected_account}, code="wrong_account")
                elif elem.tag == ns + "Ntry":
                    number += 1
                    yield from self._entry(elem, number, errors, statement)
                    elem.clear()
                    root.clear()  # keep memory flat on large files
        except StatementFileError:
            raise
        except Exception as exc:
            if type(exc).__name__ in ("ParseError", "EntitiesForbidden", "DTDForbidden", "ExternalReferenceForbidden"):
                raise self._xml_error(exc) from exc
            raise

    def _entry(self, ntry, number: int, errors: ErrorLog, statement: Statement) -> Iterator[Line]:
        ns = self.ns
        where = _("entry %(n)s") % {"n": number}
        indicator = (ntry.findtext(ns + "CdtDbtInd") or "").strip()
        if indicator == "DBIT":
            statement.debit_count += 1
            return
        status = (ntry.findtext(ns + "Sts") or ntry.findtext(f"{ns}Sts/{ns}Cd") or "BOOK").strip()
        if status and status not in ("BOOK",):
            return  # pending or information only: the booked entry comes in a later statement
        if indicator != "CRDT":
            errors.add(number, f"{where} · CdtDbtInd", "indicator_invalid", _("The entry is neither a credit (CRDT) nor a debit (DBIT)."), indicator)
            return
        booked_text = (ntry.findtext(f"{ns}BookgDt/{ns}Dt") or ntry.findtext(f"{ns}BookgDt/{ns}DtTm")
                       or ntry.findtext(f"{ns}ValDt/{ns}Dt") or "").strip()
        try:
            booked_on = datetime.date.fromisoformat(booked_text[:10])
        except ValueError:
            errors.add(number, f"{where} · BookgDt", "date_invalid", _("The entry has no valid booking date."), booked_text)
            return
        entry_ref = (ntry.findtext(ns + "AcctSvcrRef") or ntry.findtext(ns + "NtryRef") or "").strip()
        details = ntry.findall(f"{ns}NtryDtls/{ns}TxDtls")
        entry_note = (ntry.findtext(ns + "AddtlNtryInf") or "").strip()
        parts = []
        if len(details) <= 1:
            parts.append((details[0] if details else None, ntry.find(ns + "Amt")))
        else:
            for tx in details:
                amount_el = tx.find(f"{ns}Amt")
                if amount_el is None:  # (an Element without children is falsy: no `or` here)
                    amount_el = tx.find(f"{ns}AmtDtls/{ns}TxAmt/{ns}Amt")
                parts.append((tx, amount_el))
        for index, (tx, amount_el) in enumerate(parts, start=1):
            txn_id = ""
            note, payer = entry_note, ""
            if tx is not None:
                refs = [tx.findtext(f"{ns}Refs/{ns}AcctSvcrRef"), tx.findtext(f"{ns}Refs/{ns}TxId"),
                        tx.findtext(f"{ns}Refs/{ns}EndToEndId")]
                txn_id = next((r.strip() for r in refs if r and r.strip() and r.strip() != "NOTPROVIDED"), "")
                unstructured = " ".join(t.strip() for t in (el.text or "" for el in tx.iterfind(f"{ns}RmtInf/{ns}Ustrd")) if t.strip())
                structured = " ".join((el.text or "").strip() for el in tx.iterfind(f"{ns}RmtInf/{ns}Strd/{ns}CdtrRefInf/{ns}Ref"))
                note = " ".join(x for x in (unstructured, structured) if x) or entry_note
                payer = (tx.findtext(f"{ns}RltdPties/{ns}Dbtr/{ns}Nm") or tx.findtext(f"{ns}RltdPties/{ns}Dbtr/{ns}Pty/{ns}Nm") or "").strip()
            if len(parts) == 1:
                txn_id = entry_ref or txn_id
            elif not txn_id and entry_ref:
                txn_id = f"{entry_ref}/{index}"
            line_where = where if len(parts) == 1 else f"{where}.{index}"
            if amount_el is None:
                errors.add(number, f"{line_where} · Amt", "amount_missing", AMOUNT_MESSAGES["amount_missing"](), "")
                continue
            currency = amount_el.get("Ccy", "VND")
            if currency != "VND":
                errors.add(number, f"{line_where} · Amt", "currency",
                           _("The amount is in %(currency)s; only đồng (VND) can be received.") % {"currency": currency}, amount_el.text)
                continue
            try:
                amount = _decimal_amount(amount_el.text)
            except AmountError as exc:
                errors.add(number, f"{line_where} · Amt", exc.code, AMOUNT_MESSAGES[exc.code](), amount_el.text)
                continue
            if not txn_id:
                errors.add(number, f"{line_where} · AcctSvcrRef", "txn_id_missing", _("The line has no bank transaction ID."), "")
                continue
            if len(txn_id) > MAX_TXN_ID:
                errors.add(number, f"{line_where} · AcctSvcrRef", "txn_id_too_long",
                           _("A bank transaction ID has at most %(n)s characters.") % {"n": MAX_TXN_ID}, txn_id)
                continue
            yield Line(number, txn_id, booked_on, amount, _nfc(" ".join(note.split()))[:MAX_NOTE], _nfc(payer)[:200])
