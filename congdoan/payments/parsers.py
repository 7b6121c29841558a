"""Reading bank statements: .xlsx/.csv through a saved ``BankLayout`` (here), ISO 20022 camt.053
(camt053_reader.py) and SWIFT MT940 (mt940_reader.py). Nothing here touches the database.

Every reader yields ``Line`` records for credit lines (money in); debit lines are counted and
skipped. A problem with one line goes to the ErrorLog with the line (row) number, the column
and the value; a problem with the whole file raises StatementFileError. Amounts are integer đồng.
"""

import codecs
import csv
import datetime
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.utils.translation import gettext as _

from congdoan.core.errors import DomainError
from congdoan.core.text import normalize_search

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: the header row of a bank export sits below a title block: look this many rows down
HEADER_SEARCH_ROWS = 30
MAX_TXN_ID = 64
MAX_NOTE = 500
MAX_STORED_ERRORS = 1000


class StatementFileError(DomainError):
    """The statement as a whole cannot be read (type, encoding, headers, account)."""


@dataclass(slots=True)
class Line:
    line_no: int
    txn_id: str
    booked_on: datetime.date
    amount: int
    description: str
    payer_name: str = ""


class ErrorLog:
    """Line errors: the first MAX_STORED_ERRORS kept, all counted."""

    def __init__(self):
        self.items: list[dict] = []
        self.count = 0

    def add(self, row, column: str, code: str, message: str, value="") -> None:
        self.count += 1
        if len(self.items) < MAX_STORED_ERRORS:
            self.items.append({"row": row, "column": str(column or ""), "code": code, "message": str(message),
                               "value": "" if value is None else str(value)[:100]})

    def sorted_items(self) -> list[dict]:
        return sorted(self.items, key=lambda e: (e["row"] is not None, e["row"] or 0))


# -- amounts and dates --------------------------------------------------------------------------
class AmountError(ValueError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


_CURRENCY = re.compile(r"(?i)\s*(vnd|vnđ|đồng|dong|đ|d)\.?\s*$")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")
_GROUPED = re.compile(r"^(\d{1,3})((?P<sep>[.,])\d{3})?((?P=sep)\d{3})*$")


def parse_amount(value) -> int | None:
    """Integer đồng from a cell: 1234567, "1.234.567", "1,234,567 đ", "1 234 567 VND", "+1.234.567",
    "1.234.567,00". None when the cell is empty. Raises AmountError("amount_invalid" |
    "amount_fraction" | "amount_negative" | "amount_zero")."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise AmountError("amount_invalid")
    if isinstance(value, int):
        number = value
    elif isinstance(value, (float, Decimal)):
        if value != value:  # NaN
            raise AmountError("amount_invalid")
        if value != int(value):
            raise AmountError("amount_fraction")
        number = int(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        if text.isdigit():
            number = int(text)
        elif _GROUPED.match(text):  # the usual "1.234.567" or "1,234,567": no need for the slow path
            number = int(text.replace(".", "").replace(",", ""))
        else:
            number = _parse_amount_text(text)
    if number < 0:
        raise AmountError("amount_negative")
    if number == 0:
        raise AmountError("amount_zero")
    return number


def _parse_amount_text(text: str) -> int:
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    text = _CURRENCY.sub("", text)
    text = _SPACES.sub("", text)
    if text[:1] in "+-\u2212":
        negative = negative or text[0] != "+"
        text = text[1:]
    if not text:
        raise AmountError("amount_invalid")
    fraction = ""
    # a last separator followed by one or two digits is the decimal mark ("1.234.567,00", "1,234,567.5")
    tail = re.search(r"[.,](\d{1,2})$", text)
    if tail:
        fraction, text = tail.group(1), text[: tail.start()]
    if text.isdigit():
        integer = int(text)
    elif _GROUPED.match(text):
        integer = int(re.sub(r"[.,]", "", text))
    else:
        raise AmountError("amount_invalid")
    if fraction and int(fraction):
        raise AmountError("amount_fraction")
    return -integer if negative else integer


AMOUNT_MESSAGES = {
    "amount_invalid": lambda: _("This is not an amount of money. Write it as 1.234.567 or 1234567."),
    "amount_fraction": lambda: _("An amount in đồng has no decimals."),
    "amount_negative": lambda: _("The amount is negative: a payment received must be greater than zero."),
    "amount_zero": lambda: _("The amount is zero: a payment received must be greater than zero."),
    "amount_missing": lambda: _("The line has no amount."),
}


class DateParser:
    """Dates as the layout writes them (with or without a time), cached: a statement repeats them."""

    def __init__(self, fmt: str):
        self.fmt = fmt or "%d/%m/%Y"
        self.cache: dict = {}

    def __call__(self, value) -> datetime.date:
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError("number")  # an Excel serial that calamine did not type as a date
        text = str(value).strip()
        found = self.cache.get(text)
        if found is None:
            found = self._parse(text)
            if len(self.cache) < 100_000:
                self.cache[text] = found
        return found

    def _parse(self, text: str) -> datetime.date:
        for candidate in (text, text.split(" ")[0], text.split("T")[0]):
            try:
                return datetime.datetime.strptime(candidate, self.fmt).date()
            except ValueError:
                continue
        raise ValueError(text)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value).strip()


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# -- opening a file -----------------------------------------------------------------------------
@dataclass
class Statement:
    """An open statement: ``lines`` yields Line records, adding line errors to ``errors``."""

    kind: str
    total: int  # estimated number of lines, for progress
    lines: Iterator[Line]
    errors: ErrorLog
    account: str = ""  # the account the file says it is for, when it says
    debit_count: int = 0


def open_statement(path, *, fmt: str, layout=None, name: str = "", expected_account: str = "") -> Statement:
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise StatementFileError(_("The file is empty."), code="file_empty")
    if fmt == "camt053":
        from congdoan.payments.camt053_reader import CamtReader

        return CamtReader(path, expected_account).open()
    if fmt == "mt940":
        from congdoan.payments.mt940_reader import open_mt940

        return open_mt940(path, expected_account)
    if layout is None:
        raise StatementFileError(_("Choose the bank layout of this statement."), code="layout_required", field="layout")
    if head.startswith(ZIP_MAGIC):
        return _TableReader(layout).open_xlsx(path)
    if head.startswith(OLE_MAGIC):
        raise StatementFileError(_("This is an old Excel file (.xls). Save it as an Excel workbook (.xlsx) or as CSV and "
                                   "upload it again."), code="file_type")
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise StatementFileError(_("The file is damaged or is not an Excel workbook."), code="file_unreadable")
    if head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<"):
        raise StatementFileError(_("This looks like an XML file: choose the format “ISO 20022 camt.053”."), code="file_type")
    return _TableReader(layout).open_csv(path)


# -- tables (.xlsx / .csv) through a layout -----------------------------------------------------
class _TableReader:
    def __init__(self, layout):
        self.layout = layout
        self.wanted = {
            "date": layout.date_column, "amount": layout.amount_column, "debit": layout.debit_column,
            "description": layout.description_column, "txn_id": layout.transaction_id_column,
            "payer": layout.payer_column,
        }
        self.required = ("date", "amount", "description", "txn_id")
        self.keys = {role: normalize_search(text) for role, text in self.wanted.items() if text}

    # header -------------------------------------------------------------------------------------
    def _columns(self, cells) -> dict[str, int]:
        found = {}
        normalized = [normalize_search(_cell_text(c)) for c in cells]
        for role, key in self.keys.items():
            if key in normalized:
                found[role] = normalized.index(key)
        return found

    def _find_header(self, numbered) -> tuple[int, dict, list]:
        """(header row number, column index per role, rows read past the header)."""
        looked = []
        wanted_row = self.layout.header_row
        for row_no, cells in numbered:
            looked.append((row_no, cells))
            if wanted_row:
                if row_no == wanted_row:
                    return row_no, self._check_columns(row_no, cells), []
                if row_no > wanted_row:
                    break
                continue
            cols = self._columns(cells)
            if "date" in cols and "amount" in cols:
                return row_no, self._check_columns(row_no, cells), []
            if len(looked) >= HEADER_SEARCH_ROWS:
                break
        if not looked:
            raise StatementFileError(_("The file is empty."), code="file_empty")
        if wanted_row:
            raise StatementFileError(_("The file has no row %(row)s, where the layout %(layout)s expects the column "
                                       "headers.") % {"row": wanted_row, "layout": self.layout.name}, code="header_missing")
        raise StatementFileError(
            _("No row in the first %(n)s rows holds the headers “%(date)s” and “%(amount)s” of the layout %(layout)s. "
              "Check that you chose the right bank layout.") % {
                "n": HEADER_SEARCH_ROWS, "date": self.wanted["date"], "amount": self.wanted["amount"], "layout": self.layout.name},
            code="header_missing")

    def _check_columns(self, row_no: int, cells) -> dict[str, int]:
        cols = self._columns(cells)
        missing = [self.wanted[r] for r in self.required if r not in cols]
        if self.keys.get("debit") and "debit" not in cols:
            missing.append(self.wanted["debit"])
        if missing:
            raise StatementFileError(
                _("Row %(row)s has no column %(missing)s that the layout %(layout)s expects. Check that you chose the "
                  "right bank layout.") % {"row": row_no, "missing": ", ".join(f"“{m}”" for m in missing), "layout": self.layout.name},
                code="header_missing")
        return cols

    # formats ------------------------------------------------------------------------------------
    def open_xlsx(self, path: Path) -> Statement:
        from python_calamine import CalamineWorkbook

        try:
            workbook = CalamineWorkbook.from_path(str(path))
            sheet = workbook.get_sheet_by_index(0) if workbook.sheet_names else None
        except Exception as exc:  # calamine raises several kinds: all mean "cannot read"
            raise StatementFileError(_("The file is damaged or is not an Excel workbook."), code="file_unreadable") from exc
        if sheet is None or not sheet.height:
            raise StatementFileError(_("The first sheet of the workbook is empty."), code="file_empty")
        start = sheet.start or (0, 0)
        numbered = ((i + 1, row) for i, row in enumerate(sheet.iter_rows()))
        header_no, cols, _rest = self._find_header(numbered)
        errors = ErrorLog()
        statement = Statement("xlsx", max(0, start[0] + sheet.height - header_no), iter(()), errors)
        statement.lines = self._lines(numbered, cols, errors, statement, col_offset=start[1])
        return statement

    def open_csv(self, path: Path) -> Statement:
        encoding = (self.layout.encoding or "utf-8").strip().lower()
        raw = path.read_bytes()
        text = _decode_table(raw, encoding, self.layout.name)
        del raw
        lines = text.splitlines(keepends=True)
        total = len(lines)
        header_index, delimiter, best = None, ",", (-1, ",", 0)
        wanted_row = self.layout.header_row
        candidates = [wanted_row - 1] if wanted_row else range(min(HEADER_SEARCH_ROWS, total))
        for i in candidates:
            if i >= total:
                break
            for delim in (",", ";", "\t", "|"):
                found = self._columns(next(csv.reader([lines[i]], delimiter=delim), []))
                if len(found) > best[0]:
                    best = (len(found), delim, i)
                if "date" in found and "amount" in found:
                    header_index, delimiter = i, delim
                    break
            if header_index is not None:
                break
        if header_index is None:
            if wanted_row and wanted_row <= total:
                self._check_columns(wanted_row, next(csv.reader([lines[wanted_row - 1]], delimiter=best[1]), []))
            # let _find_header word the error (no such row, or headers not found)
            self._find_header((i + 1, next(csv.reader([ln]), [])) for i, ln in enumerate(lines[:HEADER_SEARCH_ROWS]))
        header_no = header_index + 1
        cols = self._check_columns(header_no, next(csv.reader([lines[header_index]], delimiter=delimiter)))
        reader = csv.reader(lines[header_no:], delimiter=delimiter)

        def numbered():
            try:
                for cells in reader:
                    yield header_no + reader.line_num, cells
            except csv.Error as exc:
                raise StatementFileError(_("The CSV file is malformed near line %(line)s.") % {"line": header_no + reader.line_num},
                                         code="file_unreadable") from exc

        errors = ErrorLog()
        statement = Statement("csv", max(0, total - header_no), iter(()), errors)
        statement.lines = self._lines(numbered(), cols, errors, statement, col_offset=0)
        return statement

    # rows ---------------------------------------------------------------------------------------
    def _lines(self, numbered, cols, errors: ErrorLog, statement: Statement, *, col_offset: int) -> Iterator[Line]:
        parse_date = DateParser(self.layout.date_format)
        i_date, i_amount, i_note, i_id = cols["date"], cols["amount"], cols["description"], cols["txn_id"]
        i_debit, i_payer = cols.get("debit"), cols.get("payer")
        width = max(cols.values()) + 1
        head = self.wanted

        def where(index: int, row_no: int) -> str:
            return f"{head_by_index[index]} ({column_letter(index + col_offset)}{row_no})"

        head_by_index = {cols[r]: head[r] for r in cols}
        for row_no, cells in numbered:
            if len(cells) < width:
                cells = list(cells) + [None] * (width - len(cells))
            raw_date, raw_id = cells[i_date], cells[i_id]
            txn_id = _cell_text(raw_id)
            date_blank = raw_date is None or (isinstance(raw_date, str) and not raw_date.strip())
            if not txn_id and (date_blank or not _is_date(parse_date, raw_date)):
                continue  # blank, subtotal or footer row ("Tổng cộng", closing balance): no ID, no date
            bad = False
            try:
                credit = parse_amount(cells[i_amount])
            except AmountError as exc:
                credit = None
                if not (exc.code == "amount_zero" and i_debit is not None and _has_value(cells[i_debit])):
                    errors.add(row_no, where(i_amount, row_no), exc.code, AMOUNT_MESSAGES[exc.code](), cells[i_amount])
                    bad = True
            if credit is None and not bad:
                if i_debit is not None and _has_value(cells[i_debit]):
                    statement.debit_count += 1
                    continue  # money out: not a receipt
                errors.add(row_no, where(i_amount, row_no), "amount_missing", AMOUNT_MESSAGES["amount_missing"](), "")
                bad = True
            if date_blank:
                errors.add(row_no, where(i_date, row_no), "date_missing", _("The line has no date."), "")
                bad = True
            else:
                try:
                    booked_on = parse_date(raw_date)
                except ValueError:
                    errors.add(row_no, where(i_date, row_no), "date_invalid",
                               _("This is not a date in the format %(format)s of the layout.") % {"format": _human_format(self.layout.date_format)},
                               raw_date)
                    bad = True
            if not txn_id:
                errors.add(row_no, where(i_id, row_no), "txn_id_missing", _("The line has no bank transaction ID."), "")
                bad = True
            elif len(txn_id) > MAX_TXN_ID:
                errors.add(row_no, where(i_id, row_no), "txn_id_too_long",
                           _("A bank transaction ID has at most %(n)s characters.") % {"n": MAX_TXN_ID}, txn_id)
                bad = True
            if bad:
                continue
            note = _cell_text(cells[i_note])
            payer = _cell_text(cells[i_payer]) if i_payer is not None else ""
            yield Line(row_no, txn_id, booked_on, credit, _nfc(note)[:MAX_NOTE], _nfc(payer)[:200])


def _is_date(parse_date, value) -> bool:
    try:
        parse_date(value)
    except ValueError:
        return False
    return True


def _has_value(cell) -> bool:
    try:
        return parse_amount(cell) is not None
    except AmountError as exc:
        return exc.code != "amount_zero"


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _human_format(fmt: str) -> str:
    return fmt.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy").replace("%y", "yy").replace("%H", "hh").replace("%M", "mi").replace("%S", "ss")


def _decode_table(raw: bytes, encoding: str, layout_name: str) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif raw.startswith(codecs.BOM_UTF8):
        raw, encoding = raw[len(codecs.BOM_UTF8):], "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise StatementFileError(_("The layout %(layout)s names an unknown encoding %(encoding)s.") % {
            "layout": layout_name, "encoding": encoding}, code="layout_encoding") from exc
    if encoding.replace("_", "-") not in ("utf-8", "utf8", "utf-16", "utf16") and not raw.isascii():
        # a legacy single-byte code page decodes any bytes: refuse a file that is really UTF-8,
        # which would otherwise come out as "CÃ´ng ty"
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise StatementFileError(
                _("The file is in UTF-8, but the layout %(layout)s expects the encoding %(encoding)s. Choose the right "
                  "layout or ask the administrator to correct its encoding.") % {"layout": layout_name, "encoding": encoding},
                code="file_encoding")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise StatementFileError(
            _("The file is not in the encoding %(encoding)s that the layout %(layout)s expects: the first unreadable "
              "character is on line %(line)s, column %(column)s.") % {
                "encoding": encoding, "layout": layout_name, "line": line, "column": column},
            code="file_encoding") from exc
    if "\x00" in text[:1000]:
        raise StatementFileError(_("The file is neither an Excel workbook (.xlsx) nor a CSV text file."), code="file_type")
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _decimal_amount(text) -> int:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation as exc:
        raise AmountError("amount_invalid") from exc
    if not value.is_finite():
        raise AmountError("amount_invalid")
    result = parse_amount(value)
    if result is None:
        raise AmountError("amount_missing")
    return result


def _digits(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text or "").upper()
