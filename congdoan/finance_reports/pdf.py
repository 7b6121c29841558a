"""PDFs of finance reports: the reminder notice to an employer and the printable reports.

Drawn with fpdf2 and the DejaVu Sans font shipped with payments (``congdoan/payments/fonts``), so
Vietnamese prints on any machine; the VietQR code is a PNG drawn by segno. ``compress=False``
(tests only) leaves the page streams readable.
"""

import io

import segno
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from congdoan.payments.pdf import FONT_DIR, amount_in_vietnamese

FONT = "DejaVu"


def money(amount: int | None) -> str:
    """1234567 -> "1.234.567 đ" (the Vietnamese grouping, as on the pages)."""
    if amount is None:
        return "—"
    return f"{int(amount):,}".replace(",", ".") + " đ"


def _document(*, orientation: str = "portrait", compress: bool = True, title: str = ""):
    from fpdf import FPDF

    pdf = FPDF(orientation=orientation, unit="mm", format="A4")
    pdf.set_compression(compress)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(title)
    pdf.set_creator("Công đoàn số")
    pdf.add_page()
    return pdf


def qr_png(payload: str, scale: int = 6) -> io.BytesIO:
    """The QR code of ``payload`` as a PNG (segno, with the standard 4-module quiet zone)."""
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    return buffer


def reminder_pdf(facts: dict, *, sender, contact=None, compress: bool = True) -> bytes:
    """The reminder notice of ``selectors.reminder_facts``: who owes what for which months, the total,
    the payment reference and the VietQR code of the total. ``sender``: the unit that reminds."""
    employer = facts["employer"]
    pdf = _document(compress=compress, title=_("Union fee reminder %(reference)s") % {"reference": facts["reference"]})
    width = pdf.epw
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(width * 0.6, 5, sender.name.upper(), align="L", new_x="RIGHT", new_y="TOP")
    pdf.set_font(FONT, "", 10)
    pdf.cell(width * 0.4, 5, _("Date %(date)s") % {"date": timezone.localdate().strftime("%d/%m/%Y")}, align="R",
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(width, 8, _("REMINDER: UNION FEE IN ARREARS"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.cell(width, 6, _("as of %(month)s") % {"month": facts["as_of"].strftime("%m/%Y")}, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)

    def line(label: str, value: str, bold: bool = False):
        pdf.set_font(FONT, "", 10)
        pdf.cell(45, 6, label)
        pdf.set_font(FONT, "B" if bold else "", 10)
        pdf.multi_cell(width - 45, 6, value, align="L", new_x="LMARGIN", new_y="NEXT")

    line(_("To:"), employer.employer_name or employer.name, bold=True)
    if employer.employer_tax_code:
        line(_("Tax code:"), employer.employer_tax_code)
    if employer.address:
        line(_("Address:"), employer.address)
    if contact is not None and contact.contact_person:
        line(_("Attention of:"), contact.contact_person)
    line(_("Grassroots union:"), f"{employer.name} ({employer.code})")
    pdf.ln(3)
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(width, 5.5, _(
        "Under the Law on Trade Unions, the employer pays the union fee of 2%% of the salary fund on which social "
        "insurance is paid, every month. As of %(month)s, our books show the following months unpaid:")
        % {"month": facts["as_of"].strftime("%m/%Y")}, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT, "", 10)
    with pdf.table(col_widths=(30, 50, 50, 50), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"), line_height=6,
                   headings_style=_heading_style()) as table:
        table.row([_("Month"), _("Union fee"), _("Paid"), _("Unpaid")])
        for month in facts["months"]:
            table.row([month["month"].strftime("%m/%Y"), money(month["owed"]), money(month["owed"] - month["unpaid"]),
                       money(month["unpaid"])])
    pdf.ln(3)
    line(_("Total to pay:"), money(facts["amount"]), bold=True)
    if translation.get_language() == "vi":
        line(_("In words:"), amount_in_vietnamese(facts["amount"]))
    line(_("Payment reference:"), facts["reference"], bold=True)
    account = facts["account"]
    if account is not None:
        line(_("Account:"), f"{account.account_number} · {account.account_name}")
        if facts["bank_name"]:
            line(_("Bank:"), facts["bank_name"])
    pdf.ln(2)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(width, 5, _("Write the payment reference in the transfer note so that the payment is matched to you at once."),
                   align="L", new_x="LMARGIN", new_y="NEXT")
    if facts["payload"]:
        size = 45
        if pdf.get_y() + size + 12 > pdf.h - pdf.b_margin:
            pdf.add_page()
        top = pdf.get_y() + 2
        pdf.image(qr_png(facts["payload"]), x=pdf.l_margin + (width - size) / 2, y=top, w=size, h=size)
        pdf.set_y(top + size + 1)
        pdf.multi_cell(width, 5, _("Scan with any banking app (VietQR): the account, amount and reference fill in."), align="C",
                       new_x="LMARGIN", new_y="NEXT")
    elif account is None:
        pdf.multi_cell(width, 5, _("Ask your union for the account to pay to."), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(width, 5, _("If you have paid in the meantime, thank you, and please disregard this notice."),
                   align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(FONT, "B", 10)
    pdf.cell(width, 6, _("ON BEHALF OF THE UNION"), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _bold():
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD")


def _heading_style():
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(235, 237, 240))


def table_pdf(*, title: str, subtitle: str, headings: list[str], rows: list[list], totals: list | None = None,
              numeric: set[int] = frozenset(), widths: tuple | None = None, note: str = "", compress: bool = True) -> bytes:
    """A report as a landscape A4 table: ``rows`` of cells (ints are money, right-aligned, with the
    Vietnamese grouping), the headings repeated on every page, a bold total row at the end."""
    pdf = _document(orientation="landscape", compress=compress, title=title)
    width = pdf.epw
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(width, 7, title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(width, 5, subtitle, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FONT, "", 8)
    align = tuple("RIGHT" if i in numeric else "LEFT" for i in range(len(headings)))

    def text(value) -> str:
        if isinstance(value, bool) or value is None:
            return "" if value is None else str(value)
        if isinstance(value, int):
            return f"{value:,}".replace(",", ".")
        return str(value)

    with pdf.table(col_widths=widths, text_align=align, line_height=5, headings_style=_heading_style(), repeat_headings=1) as table:
        table.row(headings)
        for row in rows:
            table.row([text(v) for v in row])
        if totals is not None:
            table.row([text(v) for v in totals], style=_bold())
    if note:
        pdf.ln(2)
        pdf.set_font(FONT, "", 8)
        pdf.multi_cell(width, 4.5, note, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 7)
    pdf.cell(width, 6, _("Printed %(when)s · Công đoàn số") % {"when": timezone.localtime().strftime("%d/%m/%Y %H:%M")},
             new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
