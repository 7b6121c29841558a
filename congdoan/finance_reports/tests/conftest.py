"""A small finance world on the personas: declarations, receipts of union fee and dues, a collection
account, an employer contact; and helpers to read PDFs and call the API."""

import datetime
import re
import zlib

import pytest

from congdoan.finance import services as finance
from congdoan.finance_reports.models import EmployerContact

D = datetime.date
FEE = 2_000_000  # 2 % of a 100,000,000 đ salary fund


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "congdoan@example.vn"


def declare(unit, month, fund=100_000_000, actor=None):
    return finance.declaration_save(actor=actor, unit=unit, month=month, si_salary_fund=fund)


def pay(unit, amount, month, *, source="union_fee", paid_on=None, member=None, key=None):
    from congdoan.finance.references import payment_reference_for

    reference = payment_reference_for(kind="member", payer_id=member.pk) if member else ""
    return finance.receipt_post(actor=None, unit=unit, source=source, payer_reference=reference, amount=amount,
                                paid_on=paid_on or month + datetime.timedelta(days=40), period=month,
                                external_id=key or f"test:{unit.pk}:{source}:{month}:{amount}:{member.pk if member else ''}")


@pytest.fixture
def world(personas):
    """Province A: PA-G1 (Công ty May Sông Hồng) declared 01–06/2025 (2,000,000 đ a month) and paid
    2,500,000 đ for 01/2025; PA-G2 declared 03/2025 (200,000 đ), unpaid. Province B: PB-G1 declared
    02/2025 (1,000,000 đ), paid. Dues: 30,000 đ from member_a for 03/2025. A collection account at PA
    and an e-mail address for PA-G1's employer."""
    p = personas
    for month in range(1, 7):
        declare(p.grassroots_a, D(2025, month, 1))
    declare(p.grassroots_a2, D(2025, 3, 1), fund=10_000_000)
    declare(p.grassroots_b, D(2025, 2, 1), fund=50_000_000)
    pay(p.grassroots_a, 2_500_000, D(2025, 1, 1))
    pay(p.grassroots_b, 1_000_000, D(2025, 2, 1))
    pay(p.grassroots_a, 30_000, D(2025, 3, 1), source="dues", member=p.member_a)
    finance.collection_account_set(actor=p.province_a_chair, unit=p.province_a, bank_bin="970436",
                                   account_number="0011004123456", account_name="LDLD TINH A")
    EmployerContact.objects.create(unit=p.grassroots_a, email="ketoan@maysonghong.vn", contact_person="Chị Hoa")
    return p


# -- reading PDFs without a PDF library ------------------------------------------------------------------------
def _objects(content: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """{object number: (dictionary, decoded stream or None)} of a PDF written without object streams;
    streams are cut by their /Length, so binary data (fonts, images) cannot be mistaken for syntax."""
    objects, pos = {}, 0
    header = re.compile(rb"(\d+) 0 obj\s*")
    while (match := header.search(content, pos)) is not None:
        number, start = int(match.group(1)), match.end()
        ends = content.find(b"endobj", start)
        opens = re.compile(rb"stream\r?\n").search(content, start, ends if ends != -1 else len(content))
        if opens is None:
            objects[number] = (content[start:ends], None)
            pos = ends + 6
            continue
        head = content[start:opens.start()]
        length = int(re.search(rb"/Length (\d+)", head).group(1))
        stream = content[opens.end():opens.end() + length]
        if b"/FlateDecode" in head:
            stream = zlib.decompress(stream)
        objects[number] = (head, stream)
        pos = content.find(b"endobj", opens.end() + length) + 6
    return objects


def _unescape(raw: bytes) -> bytes:
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
    return re.sub(rb"\\([nrtbf()\\])", lambda m: escapes.get(m.group(1), m.group(1)), raw)


def pdf_text(content: bytes) -> str:
    """The text of an fpdf2 PDF: the strings of each page, decoded glyph by glyph through the ToUnicode
    map of the font in use (fpdf2 numbers the glyphs of each embedded font from 1, so every font needs
    its own map). Good enough for fpdf2's own output, which is all we read; no PDF library needed."""
    objects = _objects(content)
    maps = {}  # font object number -> {glyph id: text}
    for number, (head, _stream) in objects.items():
        found = re.search(rb"/ToUnicode (\d+) 0 R", head)
        if found:
            cmap = objects[int(found.group(1))][1] or b""
            maps[number] = {int(gid, 16): bytes.fromhex(uni.decode()).decode("utf-16-be")
                            for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S)
                            for gid, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block)}
    names = {}  # resource name (F1) -> font object number
    for head, _stream in objects.values():
        for block in re.findall(rb"/Font\s*<<(.*?)>>", head, re.S):
            for name, number in re.findall(rb"/(\w+)\s+(\d+) 0 R", block):
                names[name] = int(number)
    pages = [int(n) for head, _s in objects.values() if re.search(rb"/Type /Page\b", head)
             for n in re.findall(rb"/Contents (\d+) 0 R", head)]
    lines = []
    for number in pages:
        glyphs = {}
        for match in re.finditer(rb"/(\w+)\s+[\d.]+\s+Tf|\(((?:\\.|[^\\])*?)\)\s*Tj", objects[number][1], re.S):
            if match.group(1) is not None:
                glyphs = maps.get(names.get(match.group(1)), {})
                continue
            raw = _unescape(match.group(2))
            lines.append("".join(glyphs.get(int.from_bytes(raw[i:i + 2], "big"), "?") for i in range(0, len(raw) - 1, 2)))
    return "\n".join(lines)
