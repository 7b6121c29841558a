"""Opening an uploaded member file: .xlsx through python-calamine-plus (streamed), .csv as UTF-8 text.

Either way the result is a Table: the header cells as written, and an iterator of
(row number as the spreadsheet shows it, cells). File-level problems raise ImportFileError
with a stable code; nothing here touches the database.
"""

import codecs
import csv
import io
import itertools
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from congdoan.core.errors import DomainError
from congdoan.imports.columns import HEADER_LOOKUP, IGNORED_HEADERS, normalize_header

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: stream names (UTF-16LE in the OLE directory) of an Office file encrypted with a password
ENCRYPTION_MARKERS = ("EncryptionInfo".encode("utf-16-le"), "EncryptedPackage".encode("utf-16-le"))
#: the header may sit below a title ("DANH SÁCH ĐOÀN VIÊN ..."): look this many non-empty rows down
HEADER_SEARCH_ROWS = 10


class ImportFileError(DomainError):
    """The file as a whole cannot be read (type, encoding, encryption, size, headers)."""


@dataclass
class Table:
    kind: str  # "xlsx" or "csv"
    headers: list[str]
    header_row: int
    col_offset: int
    rows: Iterator[tuple[int, list]]
    total: int  # estimated number of data rows (for progress)


def _is_blank(cells) -> bool:
    for cell in cells:
        if cell is not None and cell != "" and not (isinstance(cell, str) and not cell.strip()):
            return False
    return True


def _header_score(cells) -> int:
    score = 0
    for cell in cells:
        key = normalize_header(cell)
        if key in HEADER_LOOKUP or key in IGNORED_HEADERS:
            score += 1
    return score


def _find_header(numbered_rows: Iterator[tuple[int, list]]) -> tuple[int, list, list]:
    """(header row number, header cells, rows read past it that must still be processed)."""
    looked = []
    for row_no, cells in numbered_rows:
        if _is_blank(cells):
            continue
        looked.append((row_no, cells))
        if _header_score(cells) >= 3:
            break
        if len(looked) >= HEADER_SEARCH_ROWS:
            break
    if not looked:
        raise ImportFileError(_("The file is empty."), code="file_empty")
    best = max(range(len(looked)), key=lambda i: (_header_score(looked[i][1]), -i))
    if _header_score(looked[best][1]) == 0:
        best = 0  # no known header anywhere: report the first row's cells as unknown headers
    header_no, header = looked[best]
    return header_no, header, looked[best + 1:]


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def sniff(path: Path, name: str = "") -> str:
    """'xlsx' or 'csv' from the content (the name only breaks ties); raises ImportFileError."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise ImportFileError(_("The file is empty."), code="file_empty")
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLE_MAGIC):
        if _has_encryption_marker(path):
            raise ImportFileError(_("The file is protected with a password. Open it in Excel, remove the password "
                                    "(File › Info › Protect Workbook) and upload it again."), code="file_encrypted")
        raise ImportFileError(_("This is an old Excel file (.xls). Save it as an Excel workbook (.xlsx) or as "
                                "CSV UTF-8 and upload it again."), code="file_type")
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError(_("The file is damaged or is not an Excel workbook."), code="file_unreadable")
    return "csv"


def _has_encryption_marker(path: Path) -> bool:
    overlap = max(len(m) for m in ENCRYPTION_MARKERS)
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            block = tail + chunk
            if any(m in block for m in ENCRYPTION_MARKERS):
                return True
            tail = block[-overlap:]
    return False


def open_table(path, *, name: str = "") -> Table:
    path = Path(path)
    kind = sniff(path, name)
    return _open_xlsx(path) if kind == "xlsx" else _open_csv(path)


def _open_xlsx(path: Path) -> Table:
    """The first sheet, streamed row by row (python-calamine-plus): the first row exists after
    a millisecond instead of after the whole sheet is parsed (8 s for a million rows with
    python-calamine), so reading overlaps the checks and the database from the first chunk.
    Rows come from the sheet's row 1 and column A whatever its first used cell (empty rows
    included), so a row's number and a cell's letter are the spreadsheet's own. A workbook the
    streaming reader does not take (not xlsx/xlsm inside) is loaded whole, as before."""
    from python_calamine_plus import CalamineError, CalamineWorkbook, PasswordError, StreamingNotSupported

    height = None  # rows known up front (a workbook loaded whole)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        if not workbook.sheet_names:
            raise _sheet_empty()
        # the members are on the first sheet (the template keeps its instructions on the second)
        try:
            rows, col_offset = workbook.stream_sheet_by_index(0), 0
        except StreamingNotSupported:
            sheet = workbook.get_sheet_by_index(0)
            # iter_rows starts at the sheet's first row (empty ones included) and at its first used column
            rows, col_offset = sheet.iter_rows(), (sheet.start or (0, 0))[1]
            height = (sheet.start or (0, 0))[0] + sheet.height
    except ImportFileError:
        raise
    except PasswordError as exc:
        raise ImportFileError(_("The file is protected with a password. Remove the password and upload it again."),
                              code="file_encrypted") from exc
    except Exception as exc:  # calamine raises several kinds (zip, XML, format): all mean "cannot read"
        raise _unreadable() from exc
    numbered = _numbered_xlsx_rows(rows, CalamineError)
    try:
        header_no, header, pending = _find_header(numbered)
    except ImportFileError as exc:
        if exc.code == "file_empty":
            raise _sheet_empty() from exc
        raise
    total = max(0, (height or declared_last_row(path) or header_no + len(pending)) - header_no)
    return Table("xlsx", [_header_text(h) for h in header], header_no, col_offset, itertools.chain(pending, numbered), total)


def _sheet_empty() -> ImportFileError:
    return ImportFileError(_("The first sheet of the workbook is empty."), code="file_empty")


def _unreadable() -> ImportFileError:
    return ImportFileError(_("The file is damaged or is not an Excel workbook."), code="file_unreadable")


def _numbered_xlsx_rows(rows, calamine_error) -> Iterator[tuple[int, list]]:
    """(spreadsheet row number, cells); a sheet damaged past its first rows is reported when reached."""
    try:
        yield from enumerate(rows, 1)
    except (calamine_error, ValueError, OverflowError) as exc:  # XML or zip errors inside the sheet, a cell beyond a type
        raise _unreadable() from exc


_SHEET_REL = re.compile(rb'<(?:\w+:)?sheet\b[^>]*?\br:id="([^"]+)"')
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?[A-Z]+\$?(\d+)(?::\$?[A-Z]+\$?(\d+))?"')


def declared_last_row(path: Path) -> int | None:
    """The last row the first sheet declares (its ``<dimension ref="A1:O1000001">``), read from the
    first kilobytes of the sheet's XML: the progress bar's total before the rows are read. None
    when the workbook does not say (some writers leave it out); the count then grows as rows come."""
    try:
        with zipfile.ZipFile(path) as archive:
            first = _SHEET_REL.search(archive.read("xl/workbook.xml"))
            rels = archive.read("xl/_rels/workbook.xml.rels")
            if first is None:
                return None
            target = re.search(rb'<Relationship\b[^>]*?\bId="' + re.escape(first.group(1)) + rb'"[^>]*?\bTarget="([^"]+)"', rels) \
                or re.search(rb'<Relationship\b[^>]*?\bTarget="([^"]+)"[^>]*?\bId="' + re.escape(first.group(1)) + rb'"', rels)
            if target is None:
                return None
            name = target.group(1).decode()
            name = name.lstrip("/") if name.startswith("/") else posixpath.normpath(posixpath.join("xl", name))
            with archive.open(name) as sheet:
                head = sheet.read(4096)
    except (KeyError, OSError, zipfile.BadZipFile, UnicodeDecodeError):
        return None
    found = _DIMENSION.search(head)
    if found is None:
        return None
    return int(found.group(2) or found.group(1))


def _header_text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _open_csv(path: Path) -> Table:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        lines = _utf16_lines(path)  # Excel's "Unicode text"
    else:
        lines = _utf8_lines(path)
    total = _count_lines(path)
    first_line = next(lines, "")
    if "\x00" in first_line:
        raise ImportFileError(_("The file is neither an Excel workbook (.xlsx) nor a CSV text file."), code="file_type")
    delimiter = max([",", ";", "\t"], key=first_line.count)
    reader = csv.reader(_chain([first_line], lines), delimiter=delimiter)

    def numbered():
        try:
            for cells in reader:
                yield reader.line_num, cells
        except csv.Error as exc:
            raise ImportFileError(_("The CSV file is malformed near line %(line)s.") % {"line": reader.line_num},
                                  code="file_unreadable") from exc

    rows = numbered()
    header_no, header, pending = _find_header(rows)
    return Table("csv", [h.strip() for h in header], header_no, 0, _chain(pending, rows), max(0, total - header_no))


def _utf8_lines(path: Path):
    """Lines decoded one at a time, so that a byte that is not UTF-8 is reported with its line number."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _not_utf8(number) from exc


def _utf16_lines(path: Path):
    try:
        text = path.read_bytes().decode("utf-16")
    except UnicodeDecodeError as exc:
        raise ImportFileError(_("The file is damaged: it is not valid Unicode text."), code="file_encoding") from exc
    yield from io.StringIO(text, newline="")


def _not_utf8(line: int) -> ImportFileError:
    return ImportFileError(
        _("The file is not UTF-8 text (first unreadable character on line %(line)s). In Excel, save it as "
          "“CSV UTF-8 (Comma delimited)” or as an Excel workbook (.xlsx).") % {"line": line},
        code="file_encoding",
    )


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)
