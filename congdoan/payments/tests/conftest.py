import csv
import datetime
import io
import unicodedata

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile

from congdoan.payments import ledger
from congdoan.payments.models import BankAccount, BankLayout

VCB_HEADERS = ["STT", "Ngày giao dịch", "Số tham chiếu", "Số tiền ghi nợ", "Số tiền ghi có", "Số dư", "Mô tả"]


@pytest.fixture(autouse=True)
def _payments_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ROOT_URLCONF = "congdoan.payments.tests.urls"


class FakeLedger:
    """Plays finance's part: records posted receipts, closes months, knows what is owed."""

    def __init__(self):
        self.posted: dict[str, dict] = {}
        self.closed: set[tuple[int, datetime.date]] = set()
        self.owed: dict[tuple[int, datetime.date], int] = {}
        self.refuse: dict[str, tuple[str, str]] = {}  # external_id -> (code, message)

    def post_receipt(self, *, actor, allocation):
        from congdoan.core.errors import DomainError

        if allocation.external_id in self.refuse:
            code, message = self.refuse[allocation.external_id]
            raise DomainError(message, code=code)
        if (allocation.unit_id, allocation.paid_on.replace(day=1)) in self.closed:
            raise DomainError("closed", code="month_closed")
        self.posted.setdefault(allocation.external_id, {"amount": allocation.amount, "unit": allocation.unit_id,
                                                         "source": allocation.source, "paid_on": allocation.paid_on})

    def post_allocations(self, *, actor, allocations):
        """The bulk form, one ``ledger.post_receipt`` at a time (tests replace that one to refuse receipts)."""
        from congdoan.core.errors import DomainError

        result = {"posted": 0, "existing": 0, "refused": {}}
        for allocation in allocations.order_by("pk").select_related("unit", "transaction"):
            try:
                ledger.post_receipt(actor=actor, allocation=allocation)
            except DomainError as exc:
                result["refused"][allocation.pk] = exc
            else:
                result["posted"] += 1
        return result

    def closed_months(self, unit_ids, start, end):
        return {(u, m) for u, m in self.closed if u in set(unit_ids) and start <= m <= end}

    def union_fee_owed(self, unit_ids, start, end):
        return {(u, m): a for (u, m), a in self.owed.items() if u in set(unit_ids) and start <= m <= end}


@pytest.fixture
def fake_ledger(monkeypatch):
    fake = FakeLedger()
    monkeypatch.setattr(ledger, "available", lambda: True)
    monkeypatch.setattr(ledger, "post_receipt", fake.post_receipt)
    monkeypatch.setattr(ledger, "post_allocations", fake.post_allocations)
    monkeypatch.setattr(ledger, "closed_months", fake.closed_months)
    monkeypatch.setattr(ledger, "union_fee_owed", fake.union_fee_owed)
    monkeypatch.setattr(ledger, "payers_by_reference", lambda keys: {})
    return fake


@pytest.fixture
def vcb(db):
    return BankLayout.objects.get(bank_code="VCB")


@pytest.fixture
def account_a(personas, vcb):
    return BankAccount.objects.create(unit=personas.province_a, bank_name="Vietcombank", account_number="0011004123456", layout=vcb)


@pytest.fixture
def account_b(personas, vcb):
    return BankAccount.objects.create(unit=personas.province_b, bank_name="Vietcombank", account_number="0011009999999", layout=vcb)


def vcb_row(txn="FT25152001", date="02/06/2025", credit="1.500.000", debit="", note="KPCD T5/2025 MST 2600123456"):
    return {"txn": txn, "date": date, "credit": credit, "debit": debit, "note": note}


def vcb_csv(rows, *, encoding="utf-8", title=True, headers=None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if title:
        writer.writerow(["NGÂN HÀNG TMCP NGOẠI THƯƠNG VIỆT NAM"])
        writer.writerow(["SAO KÊ TÀI KHOẢN", "", "Số tài khoản: 0011004123456"])
        writer.writerow([])
    writer.writerow(headers or VCB_HEADERS)
    for i, r in enumerate(rows, start=1):
        writer.writerow([i, r["date"], r["txn"], r["debit"], r["credit"], "", r["note"]])
    writer.writerow(["", "Tổng cộng", "", "", "", "", ""])
    text = out.getvalue()
    if encoding == "cp1258":
        return to_cp1258(text)
    return text.encode(encoding)


def to_cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: base letters precomposed, tone marks combining."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        marks = "".join(c for c in parts if c in tones)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        out.append(base + marks)
    return "".join(out).encode("cp1258")


def vcb_xlsx(rows, *, numbers=True) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    sheet = workbook.add_worksheet("Sao ke")
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write(0, 0, "SAO KÊ TÀI KHOẢN")
    sheet.write(1, 0, "Từ ngày 01/06/2025 đến ngày 30/06/2025")
    sheet.write_row(3, 0, VCB_HEADERS)
    for r, row in enumerate(rows, start=4):
        sheet.write_number(r, 0, r - 3)
        if isinstance(row["date"], datetime.date):
            sheet.write_datetime(r, 1, datetime.datetime.combine(row["date"], datetime.time()), date_format)
        else:
            sheet.write_string(r, 1, row["date"])
        sheet.write_string(r, 2, row["txn"])
        for col, key in ((3, "debit"), (4, "credit")):
            value = row[key]
            if isinstance(value, (int, float)) and numbers:
                sheet.write_number(r, col, value)
            elif value != "":
                sheet.write_string(r, col, str(value))
        sheet.write_string(r, 6, row["note"])
    workbook.close()
    return buffer.getvalue()


CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


def camt_entry(*, ref="VCB2506020001", amount="1500000", ccy="VND", indicator="CRDT", date="2025-06-02",
               note="KPCD T5/2025 MST 2600123456", debtor="CONG TY MAY SONG HONG") -> str:
    return f"""<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>{date}</Dt></BookgDt><ValDt><Dt>{date}</Dt></ValDt><AcctSvcrRef>{ref}</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs><RltdPties><Dbtr><Nm>{debtor}</Nm></Dbtr></RltdPties>
<RmtInf><Ustrd>{note}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""


def camt_xml(entries, *, account="0011004123456", ns=CAMT_NS) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{ns}"><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2025-06-03T08:00:00</CreDtTm></GrpHdr>
<Stmt><Id>S1</Id><CreDtTm>2025-06-03T08:00:00</CreDtTm><Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>VND</Ccy></Acct>
{''.join(entries)}</Stmt></BkToCstmrStmt></Document>""".encode()


def mt940_text(transactions, *, account="0011004123456") -> bytes:
    body = [":20:STMT250602", f":25:{account}", ":28C:00001/001", ":60F:C250601VND0,"]
    for tx in transactions:
        body.append(tx)
    body.append(":62F:C250602VND0,")
    return ("\r\n".join(body) + "\r\n-").encode()


def mt940_tx(*, date="250602", mark="C", amount="1500000,", ref="FT25152001", note="KPCD T5/2025 MST 2600123456"):
    return f":61:{date}{date[2:]}{mark}{amount}NTRFNONREF//{ref}\r\n:86:{note}"


def upload(content: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)
