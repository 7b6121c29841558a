"""The printable cash receipt (phiếu thu), drawn with fpdf2 and the DejaVu Sans font shipped in
``fonts/`` (Bitstream Vera licence, see fonts/LICENSE-DejaVu.txt): it covers every Vietnamese
letter and needs nothing installed on the machine."""

from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext as _

FONT_DIR = Path(__file__).resolve().parent / "fonts"

_DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
_SCALES = ["", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ"]


def _three(n: int, full: bool) -> str:
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words = []
    if full or hundreds:
        words += [_DIGITS[hundreds], "trăm"]
    if tens > 1:
        words += [_DIGITS[tens], "mươi"]
        if units == 1:
            words.append("mốt")
        elif units == 4:
            words.append("tư")
        elif units == 5:
            words.append("lăm")
        elif units:
            words.append(_DIGITS[units])
    elif tens == 1:
        words.append("mười")
        if units == 5:
            words.append("lăm")
        elif units:
            words.append(_DIGITS[units])
    elif units:
        if words:
            words.append("linh")
        words.append(_DIGITS[units])
    return " ".join(words)


def amount_in_vietnamese(amount: int) -> str:
    """1234567 -> "Một triệu hai trăm ba mươi tư nghìn năm trăm sáu mươi bảy đồng" (as receipts write it)."""
    if amount == 0:
        return "Không đồng"
    groups = []
    while amount:
        amount, rest = divmod(amount, 1000)
        groups.append(rest)
    words = []
    for index in range(len(groups) - 1, -1, -1):
        value = groups[index]
        if not value:
            continue
        words.append(_three(value, full=index != len(groups) - 1))
        if _SCALES[index]:
            words.append(_SCALES[index])
    text = " ".join(words) + " đồng"
    return text[0].upper() + text[1:]


def _money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"


def cash_receipt_pdf(receipt, allocations) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format=(148, 210), orientation="landscape")  # A5, given in mm (fpdf2 warns on the name)
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(receipt.number)
    pdf.add_page()
    width = pdf.epw
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(width / 2, 5, receipt.unit.name.upper()[:70])
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(width / 2, 5, _("Number: %(number)s") % {"number": receipt.number}, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(width, 9, _("RECEIPT"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.cell(width, 6, _("Date %(date)s") % {"date": receipt.paid_on.strftime("%d/%m/%Y")}, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    def line(label: str, value: str, bold: bool = False):
        pdf.set_font("DejaVu", "", 10)
        pdf.cell(45, 7, label)
        pdf.set_font("DejaVu", "B" if bold else "", 10)
        pdf.multi_cell(width - 45, 7, value, new_x="LMARGIN", new_y="NEXT")

    line(_("Paid by:"), receipt.payer_name)
    reasons = ", ".join(f"{a.get_source_display()} {a.period:%m/%Y} ({_money(a.amount)})" for a in allocations)
    line(_("For:"), reasons)
    line(_("Amount:"), _money(receipt.amount), bold=True)
    if translation.get_language() == "vi":
        line(_("In words:"), amount_in_vietnamese(receipt.amount))
    if receipt.note:
        line(_("Note:"), receipt.note)
    pdf.ln(6)
    pdf.set_font("DejaVu", "B", 9)
    signers = [_("Payer"), _("Cashier"), _("Accountant"), _("Chair")]
    for signer in signers:
        pdf.cell(width / len(signers), 6, signer, align="C")
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 8)
    for _signer in signers:
        pdf.cell(width / len(signers), 5, _("(signature, full name)"), align="C")
    return bytes(pdf.output())
