"""Budget against actual as an .xlsx workbook (XlsxWriter): by category, and by unit for a subtree.

Text cells are written with ``write_string`` so a name starting with "=" stays text, never a formula.
"""

import io

import xlsxwriter
from django.utils.translation import gettext as _


def budget_vs_actual_xlsx(*, root, year: int, subtree: bool, report: dict) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": "#,##0"})
    money_bold = workbook.add_format({"num_format": "#,##0", "bold": True})
    percent = workbook.add_format({"num_format": "0.0"})
    heading = [_("Budget (đồng)"), _("Spent (đồng)"), _("Left (đồng)"), _("Spent (%)")]

    def figures(sheet, r, row, fmt):
        sheet.write_number(r, 1, row["budgeted"], fmt)
        sheet.write_number(r, 2, row["actual"], fmt)
        sheet.write_number(r, 3, row["left"], fmt)
        if row["percent"] is not None:
            sheet.write_number(r, 4, row["percent"], percent)

    sheet = workbook.add_worksheet(_("By category")[:31])
    sheet.write_string(0, 0, _("Budget against actual"), bold)
    scope = _("with the units below") if subtree else _("this unit only")
    sheet.write_string(1, 0, f"{root.name} ({root.code}) · {year} · {scope}")
    sheet.write_row(3, 0, [_("Spending category"), *heading], bold)
    r = 4
    for row in report["rows"]:
        sheet.write_string(r, 0, row["category"].label)
        figures(sheet, r, row, money)
        r += 1
    sheet.write_string(r, 0, _("Total"), bold)
    figures(sheet, r, report["totals"], money_bold)
    sheet.set_column(0, 0, 42)
    sheet.set_column(1, 4, 16)

    if report["children"]:
        sheet = workbook.add_worksheet(_("By unit")[:31])
        sheet.write_row(0, 0, [_("Unit"), *heading, _("Code")], bold)
        for r, row in enumerate(report["children"], start=1):
            name = row["unit"].name + (f" ({_('own figures')})" if row["own"] else "")
            sheet.write_string(r, 0, name)
            figures(sheet, r, row, money)
            sheet.write_string(r, 5, row["unit"].code)
        sheet.set_column(0, 0, 48)
        sheet.set_column(1, 5, 16)
    workbook.close()
    return buffer.getvalue()
