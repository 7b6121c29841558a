"""Salary fund declarations from an Excel workbook (.xlsx, read with python-calamine).

One row per employer and month. Columns are found by their header (accents, case and spacing
ignored), on the first sheet, in the first 10 rows:

* the employer: ``Mã CĐCS`` (the grassroots union's code) or ``Mã số thuế`` (the employer's tax code);
* ``Tháng`` — the month: a date cell, ``05/2025``, ``5/2025`` or ``2025-05``;
* ``Quỹ lương đóng BHXH`` — the social-insurance salary fund in đồng (``1.234.567``, ``1,234,567 đ``…);
* ``Số lao động`` — optional, the workers on social insurance.

The whole file is checked first; any error refuses it all, listing every row with its column, value
and a message; otherwise every row is written in one transaction (services.declarations_import).
"""

import datetime
import hashlib
import io
import re

from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.finance.errors import FinanceError
from congdoan.finance.models import Period
from congdoan.finance.money import month_start
from congdoan.imports.columns import normalize_header
from congdoan.organizations.choices import Level
from congdoan.organizations.models import Unit
from congdoan.payments.parsers import AMOUNT_MESSAGES, AmountError, parse_amount

MAX_ROWS = 50_000
MAX_ERRORS = 1000
HEADER_ROWS = 10
ZIP_MAGIC = b"PK\x03\x04"

HEADERS = {
    "unit": ["ma cdcs", "ma cong doan co so", "ma don vi", "ma cd"],
    "tax_code": ["ma so thue", "mst", "ma so thue doanh nghiep"],
    "month": ["thang", "ky", "thang nam", "ky dong"],
    "fund": ["quy luong dong bhxh", "quy tien luong dong bhxh", "quy tien luong lam can cu dong bhxh", "quy luong bhxh",
             "quy luong"],
    "workers": ["so lao dong", "so lao dong dong bhxh", "so nguoi dong bhxh"],
}
_LOOKUP = {normalize_header(h): key for key, variants in HEADERS.items() for h in variants}
_MONTH = re.compile(r"^(\d{1,2})\s*[/.-]\s*(\d{4})$|^(\d{4})\s*[/.-]\s*(\d{1,2})$")


class DeclarationImportError(FinanceError):
    """The file is refused; ``errors`` lists each problem as {row, column, code, message, value}."""

    def __init__(self, message, *, code: str, errors: list | None = None, total: int = 0):
        super().__init__(message, code=code, field="file")
        self.errors = errors or []
        self.total = total or len(self.errors)


def _labels() -> dict[str, str]:
    return {"unit": _("Grassroots union code"), "tax_code": _("Tax code"), "month": _("Month"),
            "fund": _("Social-insurance salary fund"), "workers": _("Workers")}


def _month(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.replace(day=1)
    match = _MONTH.match(str(value or "").strip())
    if not match:
        raise ValueError
    month, year = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
    return datetime.date(int(year), int(month), 1)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_declarations(*, actor, data: bytes, name: str) -> tuple[list, str]:
    """Check a workbook; return ([(row no, unit, month, fund, workers)], sha256) or raise DeclarationImportError."""
    from python_calamine import CalamineWorkbook

    digest = hashlib.sha256(data).hexdigest()
    if not name.lower().endswith(".xlsx") or not data.startswith(ZIP_MAGIC):
        raise DeclarationImportError(_("Upload an Excel workbook (.xlsx)."), code="file_type")
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises several kinds: all mean "cannot read"
        raise DeclarationImportError(_("The file is damaged or is not an Excel workbook."), code="file_unreadable") from exc
    header_at, columns = None, {}
    for index, row in enumerate(rows[:HEADER_ROWS]):
        found = {}
        for col, cell in enumerate(row):
            key = _LOOKUP.get(normalize_header(cell))
            if key and key not in found:
                found[key] = col
        if "month" in found and "fund" in found and ("unit" in found or "tax_code" in found):
            header_at, columns = index, found
            break
    if header_at is None:
        raise DeclarationImportError(_("No header row found: the first sheet needs the columns “Mã CĐCS” (or “Mã số thuế”), "
                                       "“Tháng” and “Quỹ lương đóng BHXH”."), code="headers_missing")
    labels = _labels()
    errors: list[dict] = []
    total_errors = 0

    def error(row_no, key, code, message, value=""):
        nonlocal total_errors
        total_errors += 1
        if len(errors) < MAX_ERRORS:
            errors.append({"row": row_no, "column": labels[key], "code": code, "message": str(message), "value": _text(value)[:100]})

    body = rows[header_at + 1:]
    codes = {_text(r[columns["unit"]]).upper() for r in body if "unit" in columns and columns["unit"] < len(r)} - {""}
    taxes = {_text(r[columns["tax_code"]]) for r in body if "tax_code" in columns and columns["tax_code"] < len(r)} - {""}
    taxes |= {t.zfill(10) for t in taxes if t.isdigit() and len(t) < 10}
    units = Unit.objects.restrict(actor, Action.FINANCE).filter(level=Level.GRASSROOTS)
    by_code = {u.code.upper(): u for u in units.filter(code__in=codes)} if codes else {}
    by_tax = {}
    if taxes:
        for unit in units.filter(employer_tax_code__in=taxes | {t.replace(" ", "") for t in taxes}):
            by_tax.setdefault(re.sub(r"[^0-9]", "", unit.employer_tax_code), []).append(unit)
    this_month = month_start(timezone.localdate())
    checked, seen = [], {}
    for index, row in enumerate(body, start=header_at + 2):
        cells = {key: (row[col] if col < len(row) else None) for key, col in columns.items()}
        if all(_text(v) == "" for v in cells.values()):
            continue
        if len(checked) + total_errors >= MAX_ROWS:
            raise DeclarationImportError(_("The file has more than %(n)s rows.") % {"n": f"{MAX_ROWS:,}".replace(",", ".")},
                                         code="too_many_rows")
        ok = True
        unit = None
        code_text = _text(cells.get("unit")).upper()
        tax_text = re.sub(r"[^0-9]", "", _text(cells.get("tax_code")))
        if isinstance(cells.get("tax_code"), (int, float)) and 0 < len(tax_text) < 10:
            tax_text = tax_text.zfill(10)  # a number cell lost the leading zero of "0101234567"
        if code_text:
            unit = by_code.get(code_text)
            if unit is None:
                error(index, "unit", "unit_unknown", _("No grassroots union of yours has this code."), code_text)
                ok = False
        elif tax_text:
            found = by_tax.get(tax_text, [])
            if len(found) == 1:
                unit = found[0]
            else:
                error(index, "tax_code", "unit_unknown" if not found else "tax_code_ambiguous",
                      _("No grassroots union of yours has this tax code.") if not found
                      else _("Several grassroots unions have this tax code: write the union's code instead."), tax_text)
                ok = False
        else:
            error(index, "unit", "unit_required", _("Give the grassroots union's code or the employer's tax code."))
            ok = False
        if unit is not None and not unit.is_active:
            error(index, "unit", "unit_dissolved", _("%(unit)s is dissolved or merged.") % {"unit": unit}, code_text or tax_text)
            ok = False
        try:
            month = _month(cells.get("month"))
            if not 2000 <= month.year <= 2100:
                raise ValueError
        except ValueError:
            error(index, "month", "month_invalid", _("Write the month as mm/yyyy."), cells.get("month"))
            month, ok = None, False
        if month and month > this_month:
            error(index, "month", "month_future", _("This month has not begun."), cells.get("month"))
            ok = False
        try:
            fund = parse_amount(cells.get("fund"))
            if fund is None:
                raise AmountError("amount_missing")
        except AmountError as exc:
            error(index, "fund", exc.code, AMOUNT_MESSAGES[exc.code](), cells.get("fund"))
            fund, ok = None, False
        workers = None
        if "workers" in cells and _text(cells["workers"]):
            text = _text(cells["workers"]).replace(".", "").replace(",", "")
            if text.isdigit():
                workers = int(text)
            else:
                error(index, "workers", "workers_invalid", _("The number of workers must be a whole number."), cells["workers"])
                ok = False
        if ok:
            key = (unit.pk, month)
            if key in seen:
                error(index, "month", "duplicate_row", _("Row %(row)s already declares this employer and month.") % {"row": seen[key]},
                      cells.get("month"))
                continue
            seen[key] = index
            checked.append((index, unit, month, fund, workers))
    if checked:
        closed = set(Period.objects.filter(unit_id__in={u.pk for _r, u, _m, _f, _w in checked},
                                           month__in={m for _r, _u, m, _f, _w in checked}).values_list("unit_id", "month"))
        for row_no, unit, month, _f, _w in checked:
            if (unit.pk, month) in closed:
                error(row_no, "month", "period_closed", _("This month is closed in the books of %(unit)s.") % {"unit": unit.code},
                      month.strftime("%m/%Y"))
    if total_errors:
        raise DeclarationImportError(_("The file has %(n)s errors; nothing was imported.") % {"n": total_errors}, code="file_invalid",
                                     errors=sorted(errors, key=lambda e: e["row"]), total=total_errors)
    if not checked:
        raise DeclarationImportError(_("The file has no declaration rows."), code="file_empty")
    return checked, digest
