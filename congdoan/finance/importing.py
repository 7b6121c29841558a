"""Salary fund declarations from an Excel workbook (.xlsx, read with python-calamine).

One row per employer and month. Columns are found by their header (accents, case and spacing
ignored), on the first sheet, in the first 10 rows:

* the employer: ``Mã CĐCS`` (the grassroots union's code) or ``Mã số thuế`` (the employer's tax code);
* ``Tháng`` — the month: a date cell, ``05/2025``, ``5/2025`` or ``2025-05``;
* ``Quỹ lương đóng BHXH`` — the social-insurance salary fund in đồng (``1.234.567``, ``1,234,567 đ``…);
* ``Số lao động`` — optional, the workers on social insurance.

The whole file is checked first; any error refuses it all, listing every row with its column, value
and a message; otherwise every row is written in one transaction (services.declarations_import).

Members' social-insurance salaries (the base of their dues) come the same way, one row per member
and month from which the salary applies (``read_salaries``, written by ``member_salaries_import``):

* the member: ``Mã đoàn viên`` (member code) or ``Số CCCD`` (citizen ID);
* ``Lương đóng BHXH`` — the salary in đồng; ``Từ tháng`` — the month it applies from (not a future one).
"""

import datetime
import hashlib
import io
import os
import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record
from congdoan.core import paths as tree
from congdoan.finance import selectors
from congdoan.finance.errors import FinanceError
from congdoan.finance.ledger import _month_text
from congdoan.finance.models import MemberSalary, Period
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


class SheetImportError(FinanceError):
    """The file is refused; ``errors`` lists each problem as {row, column, code, message, value}."""

    def __init__(self, message, *, code: str, errors: list | None = None, total: int = 0):
        super().__init__(message, code=code, field="file")
        self.errors = errors or []
        self.total = total or len(self.errors)


class DeclarationImportError(SheetImportError):
    """A declarations workbook is refused."""


class SalaryImportError(SheetImportError):
    """A members' salaries workbook is refused."""


def _sheet_rows(data: bytes, name: str, refuse) -> list[list]:
    """The cells of the first sheet of an .xlsx file; ``refuse(message, code)`` raises when it is none."""
    from python_calamine import CalamineWorkbook

    if not name.lower().endswith(".xlsx") or not data.startswith(ZIP_MAGIC):
        raise refuse(_("Upload an Excel workbook (.xlsx)."), "file_type")
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        return sheet.to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises several kinds: all mean "cannot read"
        raise refuse(_("The file is damaged or is not an Excel workbook."), "file_unreadable") from exc


def _find_header(rows: list[list], lookup: dict[str, str], complete) -> tuple[int | None, dict[str, int]]:
    """(index of the header row, {column key: column index}): the first of the top rows whose
    headers, read through ``lookup``, satisfy ``complete(found keys)``."""
    for index, row in enumerate(rows[:HEADER_ROWS]):
        found = {}
        for col, cell in enumerate(row):
            key = lookup.get(normalize_header(cell))
            if key and key not in found:
                found[key] = col
        if complete(found):
            return index, found
    return None, {}


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
    digest = hashlib.sha256(data).hexdigest()
    rows = _sheet_rows(data, name, lambda message, code: DeclarationImportError(message, code=code))
    header_at, columns = _find_header(rows, _LOOKUP, lambda found: "month" in found and "fund" in found
                                      and ("unit" in found or "tax_code" in found))
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


# -- members' salaries -------------------------------------------------------------------------------------------------
SALARY_HEADERS = {
    "member_code": ["ma doan vien", "ma dv", "ma so doan vien", "ma the doan vien", "member code"],
    "citizen_id": ["so cccd", "cccd", "so can cuoc", "so can cuoc cong dan", "can cuoc cong dan", "so dinh danh",
                   "so dinh danh ca nhan", "citizen id"],
    "salary": ["luong dong bhxh", "muc luong dong bhxh", "tien luong dong bhxh", "tien luong lam can cu dong bhxh",
               "luong bhxh", "luong", "salary"],
    "month": ["tu thang", "ap dung tu thang", "thang ap dung", "tu thang nam", "thang", "from month"],
}
_SALARY_LOOKUP = {normalize_header(h): key for key, variants in SALARY_HEADERS.items() for h in variants}
#: what is wrong with a salary as written (codes of payments.parsers.parse_amount); the form says the same
SALARY_MESSAGES = {
    "amount_invalid": lambda: _("This is not an amount of money. Write it as 1.234.567 or 1234567."),
    "amount_fraction": lambda: _("A salary in đồng has no decimals."),
    "amount_negative": lambda: _("The salary is negative: it must be greater than zero."),
    "amount_zero": lambda: _("The salary is zero: record an exemption for months without salary."),
    "amount_missing": lambda: _("Give the salary."),
}


def _citizen_id(value) -> str:
    """The 12 digits of a citizen ID cell; a number cell lost the leading zero of "025…"."""
    text = re.sub(r"[\s.]", "", _text(value))
    if isinstance(value, (int, float)) and text.isdigit() and len(text) < 12:
        text = text.zfill(12)
    return text


def read_salaries(*, actor, data: bytes, name: str, today: datetime.date | None = None) -> tuple[list, str]:
    """Check a workbook of members' salaries; return ([(row no, member, from month, salary)], sha256)
    or raise SalaryImportError listing every error with its row, column (as the file heads it), value
    and message. Only members of the actor's FINANCE subtrees are found: any other is unknown."""
    from congdoan.members.models import Member

    digest = hashlib.sha256(data).hexdigest()
    rows = _sheet_rows(data, name, lambda message, code: SalaryImportError(message, code=code))
    header_at, columns = _find_header(rows, _SALARY_LOOKUP, lambda found: "month" in found and "salary" in found
                                      and ("member_code" in found or "citizen_id" in found))
    if header_at is None:
        raise SalaryImportError(_("No header row found: the first sheet needs the columns “Mã đoàn viên” (or “Số CCCD”), "
                                  "“Lương đóng BHXH” and “Từ tháng”."), code="headers_missing")
    headers = {key: _text(rows[header_at][col]) for key, col in columns.items()}
    errors: list[dict] = []
    total_errors = 0

    def error(row_no, key, code, message, value=""):
        nonlocal total_errors
        total_errors += 1
        if len(errors) < MAX_ERRORS:
            errors.append({"row": row_no, "column": headers[key], "code": code, "message": str(message), "value": _text(value)[:100]})

    body = rows[header_at + 1:]

    def cells_of(key):
        return [r[columns[key]] for r in body if key in columns and columns[key] < len(r)]

    codes = {_text(v).upper() for v in cells_of("member_code")} - {""}
    citizen_ids = {_citizen_id(v) for v in cells_of("citizen_id")} - {""}
    members = Member.objects.restrict(actor, Action.FINANCE).select_related("unit")
    by_code = {m.code.upper(): m for m in members.filter(code__in=codes | {c.lower() for c in codes})} if codes else {}
    by_citizen_id = {m.citizen_id: m for m in members.filter(citizen_id__in=citizen_ids)} if citizen_ids else {}
    latest = month_start(today or timezone.localdate())
    checked, seen = [], {}
    for index, row in enumerate(body, start=header_at + 2):
        cells = {key: (row[col] if col < len(row) else None) for key, col in columns.items()}
        if all(_text(v) == "" for v in cells.values()):
            continue
        if len(checked) + total_errors >= MAX_ROWS:
            raise SalaryImportError(_("The file has more than %(n)s rows.") % {"n": f"{MAX_ROWS:,}".replace(",", ".")},
                                    code="too_many_rows")
        ok = True
        member = None
        code_text = _text(cells.get("member_code")).upper()
        citizen_text = _citizen_id(cells.get("citizen_id"))
        if code_text:
            member = by_code.get(code_text)
            if member is None:
                error(index, "member_code", "member_unknown", _("No member of yours has this member code."), code_text)
                ok = False
        if citizen_text:
            if not (len(citizen_text) == 12 and citizen_text.isdigit()):
                error(index, "citizen_id", "citizen_id_invalid", _("A citizen ID (CCCD) has 12 digits."), citizen_text)
                ok = False
            elif (found := by_citizen_id.get(citizen_text)) is None:
                error(index, "citizen_id", "member_unknown", _("No member of yours has this citizen ID."), citizen_text)
                ok = False
            elif member is not None and found.pk != member.pk:
                error(index, "citizen_id", "member_mismatch",
                      _("This citizen ID is another member's than the member code on the same row."), citizen_text)
                ok = False
            else:
                member = found
        if not code_text and not citizen_text:
            error(index, "member_code" if "member_code" in columns else "citizen_id", "member_required",
                  _("Give the member code or the citizen ID."))
            ok = False
        try:
            month = _month(cells.get("month"))
            if not 2000 <= month.year <= 2100:
                raise ValueError
        except ValueError:
            error(index, "month", "month_invalid", _("Write the month as mm/yyyy."), cells.get("month"))
            month, ok = None, False
        if month and month > latest:
            error(index, "month", "month_future", _("This month has not begun: a salary is recorded from a month that has."),
                  cells.get("month"))
            ok = False
        try:
            salary = parse_amount(cells.get("salary"))
            if salary is None:
                raise AmountError("amount_missing")
        except AmountError as exc:
            error(index, "salary", exc.code, SALARY_MESSAGES[exc.code](), cells.get("salary"))
            salary, ok = None, False
        if ok:
            key = (member.pk, month)
            if key in seen:
                error(index, "month", "duplicate_row",
                      _("Row %(row)s already gives this member's salary from this month.") % {"row": seen[key]}, cells.get("month"))
                continue
            seen[key] = index
            checked.append((index, member, month, salary))
    if checked:
        # a salary from a month on changes what each month since owes: none of them may be closed
        # (services.member_salary_set refuses the same)
        closed = selectors.closed_months(unit_ids={m.unit_id for _r, m, _mo, _s in checked},
                                         start=min(mo for _r, _m, mo, _s in checked), end=latest)
        last_closed: dict[int, datetime.date] = {}
        for unit_id, closed_month in closed:
            last_closed[unit_id] = max(closed_month, last_closed.get(unit_id, closed_month))
        for index, member, month, _salary in checked:
            if month <= last_closed.get(member.unit_id, datetime.date.min):
                error(index, "month", "period_closed",
                      _("The month %(month)s is closed in the books of the member's union: what it owed cannot change.") % {
                          "month": _month_text(last_closed[member.unit_id])}, _month_text(month))
    if total_errors:
        raise SalaryImportError(_("The file has %(n)s errors; nothing was imported.") % {"n": total_errors}, code="file_invalid",
                                errors=sorted(errors, key=lambda e: e["row"]), total=total_errors)
    if not checked:
        raise SalaryImportError(_("The file has no salary rows."), code="file_empty")
    return checked, digest


def _chunks(values: list, size: int = 5_000):
    for index in range(0, len(values), size):
        yield values[index:index + size]


@transaction.atomic
def member_salaries_import(*, actor, rows, file_name: str, file_sha256: str) -> dict:
    """Write checked salary rows [(row no, member, from month, salary)] all or nothing, in bulk.

    The effect is ``services.member_salary_set`` for every row (a month already recorded for a
    member is corrected), with the same audit entry per member whose salary changed, and one entry
    for the file (name, SHA-256, counts). It is written with a few bulk statements rather than row
    by row: one call per row ran at 100–200 rows/s, far too slow for a union's file of thousands.
    The members are checked again inside the transaction: each must still be in the actor's scope.
    """
    from congdoan.audit.models import AuditEntry
    from congdoan.core.errors import NotFoundInScope
    from congdoan.core.middleware import request_id_var
    from congdoan.members.models import Member

    if not rows:
        return {"created": 0, "updated": 0, "unchanged": 0}
    member_ids = sorted({member.pk for _r, member, _m, _s in rows})
    months = {month for _r, _m, month, _s in rows}
    in_scope = 0
    for chunk in _chunks(member_ids):
        in_scope += Member.objects.restrict(actor, Action.FINANCE).filter(pk__in=chunk).count()
    if in_scope != len(member_ids):
        raise NotFoundInScope()
    existing = {}
    for chunk in _chunks(member_ids):
        for record in MemberSalary.objects.filter(member_id__in=chunk, valid_from__in=months):
            existing[(record.member_id, record.valid_from)] = record
    new, changed, entries = [], [], []
    request_id = request_id_var.get() or ""
    for _row_no, member, month, salary in rows:
        if not isinstance(salary, int) or isinstance(salary, bool) or salary <= 0:
            raise FinanceError(_("The salary must be an amount in đồng greater than zero."), code="salary_invalid", field="salary")
        record = existing.get((member.pk, month_start(month)))
        before = record.salary if record else None
        if record is None:
            new.append(MemberSalary(member=member, valid_from=month_start(month), salary=salary, created_by=actor))
        elif record.salary != salary:
            record.salary = salary
            changed.append(record)
        else:
            continue
        # the entry services.member_salary_set writes (audit.services.audit_record), built for a bulk insert
        entries.append(AuditEntry(actor=actor if getattr(actor, "pk", None) else None, action="finance.member_salary_set",
                                  object_type=member._meta.label_lower, object_id=str(member.pk), object_repr=str(member)[:255],
                                  unit_path=member.unit.path, request_id=request_id,
                                  changes={"salary": [before, salary], "valid_from": month_start(month).isoformat()}))
    MemberSalary.objects.bulk_create(new, batch_size=1_000)
    MemberSalary.objects.bulk_update(changed, ["salary"], batch_size=1_000)
    AuditEntry.objects.bulk_create(entries, batch_size=1_000)
    paths = {member.unit.path for _r, member, _m, _s in rows}
    common = os.path.commonprefix(sorted(paths))
    common = common[: len(common) - len(common) % tree.STEPLEN]
    where = Unit.objects.filter(path=common).first() or rows[0][1].unit
    result = {"created": len(new), "updated": len(changed), "unchanged": len(rows) - len(new) - len(changed)}
    audit_record(actor=actor, action="finance.member_salaries_imported", obj=where, unit_path=where.path,
                 changes={"file": file_name[:200], "sha256": file_sha256, **result})
    return result
