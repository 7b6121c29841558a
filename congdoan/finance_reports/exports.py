"""Reports as .xlsx workbooks (XlsxWriter in ``constant_memory`` mode: each row goes to disk as it is
written, so a province's thousands of employers cost no memory) and as PDF (``pdf.table_pdf``).

Each report is described once as sheets of headings and rows (``Sheet``); the workbook and the PDF
are drawn from that description, so both show the same figures as the page. Text cells are written
with ``write_string`` so a name starting with "=" stays text, never a formula; money is whole đồng.
"""

import datetime
import tempfile
from dataclasses import dataclass, field

import xlsxwriter
from django.utils.translation import gettext as _

from congdoan.finance_reports import pdf
from congdoan.finance_reports.choices import PDF_MAX_ROWS, RevenueSource
from congdoan.finance_reports.selectors import BUCKET_LABELS, SOURCES

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Sheet:
    """One table of a report: ``rows`` of cells (int: money or a count, date: a month, str: text)."""

    name: str
    headings: list[str]
    rows: list[list] = field(default_factory=list)
    totals: list | None = None
    widths: list[int] | None = None


@dataclass
class Report:
    title: str
    subtitle: str
    sheets: list[Sheet]
    note: str = ""
    slug: str = "bao-cao"


def write_xlsx(report: Report):
    """The report as an .xlsx file: an open temporary file, positioned at its start."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    workbook = xlsxwriter.Workbook(handle, {"constant_memory": True})
    bold = workbook.add_format({"bold": True})
    number = workbook.add_format({"num_format": "#,##0"})
    number_bold = workbook.add_format({"num_format": "#,##0", "bold": True})
    month = workbook.add_format({"num_format": "mm/yyyy"})

    def put(sheet, r, c, value, fmt_number, fmt_text=None):
        if isinstance(value, bool) or value is None:
            sheet.write_string(r, c, "" if value is None else str(value), fmt_text)
        elif isinstance(value, int):
            sheet.write_number(r, c, value, fmt_number)
        elif isinstance(value, datetime.date):
            sheet.write_datetime(r, c, datetime.datetime(value.year, value.month, value.day), month)
        else:
            sheet.write_string(r, c, str(value), fmt_text)

    for spec in report.sheets:
        sheet = workbook.add_worksheet(spec.name[:31])
        for c, width in enumerate(spec.widths or [18] * len(spec.headings)):
            sheet.set_column(c, c, width)
        sheet.write_string(0, 0, report.title, bold)
        sheet.write_string(1, 0, report.subtitle)
        for c, heading in enumerate(spec.headings):
            sheet.write_string(3, c, heading, bold)
        r = 4
        for row in spec.rows:
            for c, value in enumerate(row):
                put(sheet, r, c, value, number)
            r += 1
        if spec.totals is not None:
            for c, value in enumerate(spec.totals):
                put(sheet, r, c, value, number_bold, bold)
    workbook.close()
    handle.seek(0)
    return handle


def write_pdf(report: Report, *, compress: bool = True) -> bytes:
    """The report's first sheet as a PDF table (at most PDF_MAX_ROWS rows: the .xlsx has them all)."""
    spec = report.sheets[0]
    rows = spec.rows[:PDF_MAX_ROWS]
    note = report.note
    if len(spec.rows) > PDF_MAX_ROWS:
        note = (note + " " if note else "") + _("Only the first %(n)s rows are printed: export to Excel for all of them.") % {
            "n": f"{PDF_MAX_ROWS:,}".replace(",", ".")}

    def cell(value):
        return value.strftime("%m/%Y") if isinstance(value, datetime.date) else value

    numeric = {i for i, value in enumerate(spec.totals or (rows[0] if rows else [])) if isinstance(value, int) and not isinstance(value, bool)}
    return pdf.table_pdf(title=report.title, subtitle=report.subtitle, headings=spec.headings,
                         rows=[[cell(v) for v in row] for row in rows], totals=spec.totals, numeric=numeric,
                         widths=tuple(spec.widths) if spec.widths else None, note=note, compress=compress)


# -- the reports ----------------------------------------------------------------------------------------------
def _source_labels() -> list[str]:
    return [str(RevenueSource(s).label) for s in SOURCES]


def revenue_export(*, root, period, report: dict) -> Report:
    heading = [*_source_labels(), _("Total")]
    by_month = Sheet(_("By month"), [_("Month"), *heading], widths=[12, 18, 18, 18, 18],
                     rows=[[r["month"], *[r[s] for s in SOURCES], r["total"]] for r in report["by_month"]],
                     totals=[_("Total"), *[report["totals"][s] for s in SOURCES], report["totals"]["total"]])
    by_level = Sheet(_("By level"), [_("Level"), *heading], widths=[40, 18, 18, 18, 18],
                     rows=[[str(r["label"]), *[r[s] for s in SOURCES], r["total"]] for r in report["by_level"]],
                     totals=[_("Total"), *[report["totals"][s] for s in SOURCES], report["totals"]["total"]])
    detail = Sheet(_("Detail"), [_("Month"), _("Level"), _("Source"), _("Amount (đồng)")], widths=[12, 40, 18, 18],
                   rows=[[d["month"], str(d["level_label"]), str(RevenueSource(d["source"]).label), d["amount"]] for d in report["detail"]],
                   totals=[_("Total"), "", "", report["totals"]["total"]])
    return Report(_("Revenue by month, level and source"), f"{root.name} ({root.code}) · {period.label}", [by_month, by_level, detail],
                  note=_("Revenue kept by the units of the subtree: their own shares of what was collected."),
                  slug=f"thu-{root.code}-{period.key}")


def employers_export(*, root, period, as_of, rows, totals) -> Report:
    buckets = list(BUCKET_LABELS)
    headings = [_("Employer"), _("Code"), _("Tax code"), _("Union fee owed"), _("Union fee paid"), _("Dues owed"), _("Dues paid"),
                _("In arrears"), *[str(BUCKET_LABELS[k]) for k in buckets]]
    sheet = Sheet(_("Arrears by employer"), headings, widths=[40, 14, 14, 16, 16, 16, 16, 16, 14, 14, 14, 14],
                  rows=[[r.name, r.code, r.tax_code, r.fee_owed, r.fee_paid, r.dues_owed, r.dues_paid, r.arrears.arrears,
                         *[r.arrears.buckets.get(k, 0) for k in buckets]] for r in rows],
                  totals=[_("Total"), "", "", totals["fee_owed"], totals["fee_paid"], totals["dues_owed"], totals["dues_paid"],
                          totals["arrears"], *[totals[k] for k in buckets]])
    return Report(_("Arrears by employer"),
                  _("%(unit)s · %(period)s · arrears as of %(month)s") % {
                      "unit": f"{root.name} ({root.code})", "period": period.label, "month": as_of.strftime("%m/%Y")},
                  [sheet], slug=f"no-dong-{root.code}-{period.key}")


def remittances_export(*, root, period, report: dict) -> Report:
    t = report["totals"]
    sheet = Sheet(_("Remittances"), [_("Unit"), _("Code"), _("Level"), _("Owed to upper levels at the start"), _("Shares added"),
                                     _("Remitted"), _("Owed at the end")], widths=[40, 14, 30, 20, 18, 18, 18],
                  rows=[[r["name"], r["code"], str(r["level_label"]), r["opening"], r["due"], r["remitted"], r["closing"]]
                        for r in report["rows"]],
                  totals=[_("Total"), "", "", t["opening"], t["due"], t["remitted"], t["closing"]])
    return Report(_("Remittances to upper levels"), f"{root.name} ({root.code}) · {period.label}", [sheet],
                  slug=f"nop-cap-tren-{root.code}-{period.key}")
