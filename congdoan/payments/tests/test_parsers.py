import datetime
import importlib

import pytest

from congdoan.payments.models import BankLayout
from congdoan.payments.parsers import AmountError, StatementFileError, open_statement, parse_amount
from congdoan.payments.tests.conftest import (
    camt_entry, camt_xml, mt940_text, mt940_tx, to_cp1258, vcb_csv, vcb_row, vcb_xlsx,
)

SEED = importlib.import_module("congdoan.payments.migrations.0002_seed_layouts").LAYOUTS


def layout(code: str, **changes) -> BankLayout:
    fields = next(f for f in SEED if f["bank_code"] == code)
    return BankLayout(**{**fields, "header_row": 0, **changes})


def read(tmp_path, content: bytes, *, name="sao-ke.csv", fmt="table", lay=None, account=""):
    path = tmp_path / name
    path.write_bytes(content)
    statement = open_statement(path, fmt=fmt, layout=lay if lay is not None else layout("VCB"), name=name,
                               expected_account=account)
    lines = list(statement.lines)
    return statement, lines


@pytest.mark.parametrize("text,expected", [
    ("1.234.567", 1234567), ("1,234,567 đ", 1234567), ("1 234 567 VND", 1234567), ("+1.234.567", 1234567),
    ("1234567", 1234567), ("1.234.567,00", 1234567), ("1,234,567.00", 1234567), ("1\u00a0234\u00a0567 VNĐ", 1234567),
    ("500.000đ", 500000), ("1.000", 1000), (1234567, 1234567), (1234567.0, 1234567), ("", None), (None, None),
])
def test_amounts_written_the_vietnamese_way(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text,code", [
    ("0", "amount_zero"), ("0 đ", "amount_zero"), ("-1.234.567", "amount_negative"), ("(500.000)", "amount_negative"),
    ("1.234,5", "amount_fraction"), (1234.5, "amount_fraction"), ("một triệu", "amount_invalid"), ("1.23.4", "amount_invalid"),
    ("1.234,567", "amount_invalid"), ("12,34,567", "amount_invalid"),
])
def test_bad_amounts_are_refused_with_a_code(text, code):
    with pytest.raises(AmountError) as info:
        parse_amount(text)
    assert info.value.code == code


def test_csv_with_title_block_debits_and_footer(tmp_path):
    rows = [vcb_row(), vcb_row(txn="FT25152002", credit="", debit="11.000", note="PHI SMS"),
            vcb_row(txn="FT25152003", credit="250.000 đ", note="Đoàn phí tháng 5 DV0123456789")]
    statement, lines = read(tmp_path, vcb_csv(rows))
    assert statement.errors.count == 0
    assert [(ln.txn_id, ln.amount, ln.booked_on) for ln in lines] == [
        ("FT25152001", 1500000, datetime.date(2025, 6, 2)), ("FT25152003", 250000, datetime.date(2025, 6, 2))]
    assert lines[1].description == "Đoàn phí tháng 5 DV0123456789"
    assert lines[0].line_no == 5  # three title lines, the header on line 4
    assert statement.debit_count == 1


def test_xlsx_with_typed_cells(tmp_path):
    rows = [vcb_row(date=datetime.date(2025, 6, 2), credit=1500000), vcb_row(txn="FT2", date="03/06/2025", credit="2.000.000")]
    statement, lines = read(tmp_path, vcb_xlsx(rows), name="sao-ke.xlsx")
    assert statement.errors.count == 0
    assert [(ln.txn_id, ln.amount, ln.booked_on) for ln in lines] == [
        ("FT25152001", 1500000, datetime.date(2025, 6, 2)), ("FT2", 2000000, datetime.date(2025, 6, 3))]
    assert lines[0].line_no == 5


def test_windows_1258_csv_through_its_layout(tmp_path):
    content = to_cp1258("Ngày GD,Số chứng từ,Phát sinh nợ,Phát sinh có,Diễn giải\r\n"
                        "02/06/2025,AGR001,,\"1.200.000\",Nộp đoàn phí Nguyễn Thị Hồng Nhung\r\n")
    statement, lines = read(tmp_path, content, lay=layout("VBA"))
    assert statement.errors.count == 0
    assert lines[0].description == "Nộp đoàn phí Nguyễn Thị Hồng Nhung"
    assert lines[0].amount == 1200000


def test_utf8_file_under_a_windows_1258_layout_is_refused(tmp_path):
    content = "Ngày GD,Số chứng từ,Phát sinh nợ,Phát sinh có,Diễn giải\r\n02/06/2025,A1,,100000,Công đoàn\r\n".encode()
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, content, lay=layout("VBA"))
    assert info.value.code == "file_encoding"
    assert "UTF-8" in str(info.value.message)


def test_wrong_encoding_points_at_line_and_column(tmp_path):
    content = vcb_csv([vcb_row(), vcb_row(txn="FT2", note="Đoàn phí")], encoding="cp1258")
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, content)
    assert info.value.code == "file_encoding"
    assert "dòng 1, cột" in str(info.value.message)


@pytest.mark.parametrize("content,name,code", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "sao-ke.xls", "file_type"),
    (b"PK\x03\x04 not really a zip", "sao-ke.xlsx", "file_unreadable"),
    (b"just some words\r\nwithout any header\r\n", "sao-ke.csv", "header_missing"),
    (b"<?xml version='1.0'?><Document/>", "sao-ke.csv", "file_type"),
    (b"", "sao-ke.csv", "file_empty"),
])
def test_wrong_format_gives_a_clear_file_error(tmp_path, content, name, code):
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, content, name=name)
    assert info.value.code == code
    assert str(info.value.message)


def test_layout_of_another_bank_names_the_missing_columns(tmp_path):
    content = vcb_csv([vcb_row()])
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, content, lay=layout("BIDV"))
    assert info.value.code == "header_missing"
    assert "BIDV" in str(info.value.message) and "“Ghi có”" in str(info.value.message)


def test_fixed_header_row_that_does_not_hold_the_headers(tmp_path):
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, vcb_csv([vcb_row()]), lay=layout("VCB", header_row=2))
    assert info.value.code == "header_missing"
    assert "Dòng 2" in str(info.value.message)
    statement, lines = read(tmp_path, vcb_csv([vcb_row()]), lay=layout("VCB", header_row=4))
    assert len(lines) == 1


def test_line_errors_name_the_line_column_and_value(tmp_path):
    rows = [vcb_row(txn="A1", credit="0"), vcb_row(txn="A2", credit="-500.000"), vcb_row(txn="A3", date="31/02/2025"),
            vcb_row(txn="", credit="100.000"), vcb_row(txn="A5", credit="abc"), vcb_row(txn="A6")]
    statement, lines = read(tmp_path, vcb_csv(rows))
    assert [ln.txn_id for ln in lines] == ["A6"]
    errors = {e["code"]: e for e in statement.errors.items}
    assert set(errors) == {"amount_zero", "amount_negative", "date_invalid", "txn_id_missing", "amount_invalid"}
    assert errors["amount_zero"]["row"] == 5 and errors["amount_zero"]["column"] == "Số tiền ghi có (E5)"
    assert errors["amount_negative"]["value"] == "-500.000"
    assert errors["date_invalid"]["row"] == 7 and "dd/mm/yyyy" in errors["date_invalid"]["message"]


def test_camt053_credits_debits_and_batches(tmp_path):
    batch = """<Ntry><Amt Ccy="VND">300000</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2025-06-03</Dt></BookgDt>
<AcctSvcrRef>B1</AcctSvcrRef><NtryDtls>
<TxDtls><Refs><AcctSvcrRef>B1-1</AcctSvcrRef></Refs><Amt Ccy="VND">100000</Amt><RmtInf><Ustrd>DV0123456789</Ustrd></RmtInf></TxDtls>
<TxDtls><Refs><AcctSvcrRef>B1-2</AcctSvcrRef></Refs><Amt Ccy="VND">200000</Amt><RmtInf><Ustrd>DV0000000002</Ustrd></RmtInf></TxDtls>
</NtryDtls></Ntry>"""
    content = camt_xml([camt_entry(), camt_entry(ref="D1", indicator="DBIT"), batch])
    statement, lines = read(tmp_path, content, name="stmt.xml", fmt="camt053", account="0011004123456")
    assert statement.errors.count == 0
    assert [(ln.txn_id, ln.amount, ln.booked_on) for ln in lines] == [
        ("VCB2506020001", 1500000, datetime.date(2025, 6, 2)), ("B1-1", 100000, datetime.date(2025, 6, 3)),
        ("B1-2", 200000, datetime.date(2025, 6, 3))]
    assert lines[0].payer_name == "CONG TY MAY SONG HONG"
    assert statement.debit_count == 1


def test_camt053_line_errors(tmp_path):
    content = camt_xml([camt_entry(ref="E1", amount="0"), camt_entry(ref="E2", ccy="USD"), camt_entry(ref="E3", amount="12.50"),
                        camt_entry(ref="E4")])
    statement, lines = read(tmp_path, content, name="stmt.xml", fmt="camt053")
    assert [ln.txn_id for ln in lines] == ["E4"]
    assert [(e["row"], e["code"]) for e in statement.errors.items] == [(1, "amount_zero"), (2, "currency"), (3, "amount_fraction")]


@pytest.mark.parametrize("content,code", [
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt>", "file_unreadable"),
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pain.001.001.03'/>", "file_type"),
    (b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol2;</Document>""", "file_unreadable"),
])
def test_camt053_bad_files(tmp_path, content, code):
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, content, name="stmt.xml", fmt="camt053")
    assert info.value.code == code


def test_camt053_malformed_xml_points_at_line_and_column(tmp_path):
    content = camt_xml([camt_entry()]).replace(b"<CdtDbtInd>CRDT</CdtDbtInd>", b"<CdtDbtInd>CRDT</Cdt>")
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, content, name="stmt.xml", fmt="camt053")
    assert info.value.code == "file_unreadable"
    assert "dòng 4" in str(info.value.message)


def test_camt053_for_another_account(tmp_path):
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, camt_xml([camt_entry()], account="999"), name="stmt.xml", fmt="camt053", account="0011004123456")
    assert info.value.code == "wrong_account"


def test_mt940(tmp_path):
    content = mt940_text([mt940_tx(), mt940_tx(mark="D", amount="11000,", ref="FEE1", note="PHI"),
                          mt940_tx(ref="FT2", amount="250000,", note="DOAN PHI DV0123456789")])
    statement, lines = read(tmp_path, content, name="stmt.sta", fmt="mt940", account="0011004123456")
    assert statement.errors.count == 0
    assert [(ln.txn_id, ln.amount, ln.booked_on, ln.description) for ln in lines] == [
        ("FT25152001", 1500000, datetime.date(2025, 6, 2), "KPCD T5/2025 MST 2600123456"),
        ("FT2", 250000, datetime.date(2025, 6, 2), "DOAN PHI DV0123456789")]
    assert statement.debit_count == 1


def test_mt940_bad_files(tmp_path):
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, b"Ngay,So tien\r\n01/06/2025,100\r\n", name="stmt.sta", fmt="mt940")
    assert info.value.code == "file_type"
    with pytest.raises(StatementFileError) as info:
        read(tmp_path, mt940_text([mt940_tx()], account="123"), name="stmt.sta", fmt="mt940", account="0011004123456")
    assert info.value.code == "wrong_account"
    statement, lines = read(tmp_path, mt940_text([mt940_tx(amount="0,")]), name="stmt.sta", fmt="mt940")
    assert [e["code"] for e in statement.errors.items] == ["amount_zero"] and lines == []
