"""Opening files: types, encodings, damaged and protected files, header variants."""

import pytest

from congdoan.imports.columns import education_value, normalize_header
import io
import re

import xlsxwriter

from congdoan.imports.reader import ImportFileError, declared_last_row, open_table
from congdoan.imports.tests.conftest import HEADERS, csv_bytes, member_row, rewrite_sheet, xlsx_bytes
from congdoan.imports.validation import ErrorLog, map_headers

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows_of(table):
    return [(n, [c for c in cells]) for n, cells in table.rows]


def test_xlsx_rows_keep_spreadsheet_row_numbers(tmp_path):
    table = open_table(write(tmp_path, "a.xlsx", xlsx_bytes([member_row(), member_row(cid="025191000002")])))
    assert table.kind == "xlsx" and table.headers == HEADERS and table.header_row == 1
    rows = rows_of(table)
    assert [n for n, _ in rows] == [2, 3]
    assert rows[0][1][0] == "Phạm Thị Hoa" and rows[1][1][3] == "025191000002"


def test_xlsx_header_below_a_title(tmp_path):
    table = open_table(write(tmp_path, "a.xlsx", xlsx_bytes([member_row()], title="DANH SÁCH ĐOÀN VIÊN CÔNG ĐOÀN")))
    assert table.header_row == 3
    assert [n for n, _ in table.rows] == [4]


@pytest.mark.parametrize("bom", [False, True])
def test_csv_utf8_with_and_without_bom(tmp_path, bom):
    table = open_table(write(tmp_path, "a.csv", csv_bytes([member_row()], bom=bom)))
    assert table.kind == "csv" and table.headers[0] == "Họ và tên"
    assert rows_of(table) == [(2, list(csv_bytes([member_row()]).decode().splitlines()[1].split(",")))]


def test_csv_semicolon_and_utf16(tmp_path):
    semicolon = open_table(write(tmp_path, "a.csv", csv_bytes([member_row()], delimiter=";")))
    assert semicolon.headers == HEADERS
    utf16 = open_table(write(tmp_path, "b.csv", csv_bytes([member_row()], encoding="utf-16", delimiter="\t")))
    assert utf16.headers == HEADERS and rows_of(utf16)[0][1][0] == "Phạm Thị Hoa"


def test_csv_in_a_windows_code_page_is_refused_with_the_line(tmp_path):
    # Windows-1258 / 1252 bytes are not UTF-8: the error names the line and how to save as UTF-8
    good = csv_bytes([member_row(name="Nguyen Van A")])
    bad = good + "Lê Văn Bé,01/01/1990,Nam,025090000009\r\n".encode("cp1258")
    table = open_table(write(tmp_path, "a.csv", bad))
    with pytest.raises(ImportFileError) as exc:
        list(table.rows)
    assert exc.value.code == "file_encoding" and "3" in str(exc.value.message)
    header_only = "Ho và tên,Ngày sinh,Giới tính\r\n".encode("cp1252", errors="replace")
    with pytest.raises(ImportFileError) as exc:
        open_table(write(tmp_path, "b.csv", header_only))
    assert exc.value.code == "file_encoding"


@pytest.mark.parametrize("data,name,code", [
    (b"", "a.csv", "file_empty"),
    (b"\r\n \r\n", "a.csv", "file_empty"),
    (b"PK\x03\x04 this is not really a zip file", "a.xlsx", "file_unreadable"),
    (b"<html>not a workbook</html>", "a.xlsx", "file_unreadable"),
    (OLE_MAGIC + b"\x00" * 200 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 100, "a.xlsx", "file_encrypted"),
    (OLE_MAGIC + b"\x00" * 600, "a.xls", "file_type"),
    (b"\x00\x01\x02binary\x00", "a.csv", "file_type"),
])
def test_file_level_errors(tmp_path, data, name, code):
    with pytest.raises(ImportFileError) as exc:
        table = open_table(write(tmp_path, name, data), name=name)
        list(table.rows)
    assert exc.value.code == code


def test_truncated_xlsx_is_unreadable(tmp_path):
    data = xlsx_bytes([member_row()])
    with pytest.raises(ImportFileError) as exc:
        open_table(write(tmp_path, "a.xlsx", data[: len(data) // 2]))
    assert exc.value.code == "file_unreadable"


def test_empty_first_sheet(tmp_path):
    import io

    import xlsxwriter
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    workbook.add_worksheet()
    workbook.close()
    with pytest.raises(ImportFileError) as exc:
        open_table(write(tmp_path, "a.xlsx", buffer.getvalue()))
    assert exc.value.code == "file_empty"


@pytest.mark.parametrize("variant,key", [
    ("HỌ VÀ TÊN", "full_name"), ("ho va ten", "full_name"), ("Họ và tên *", "full_name"),
    ("Ngày sinh (dd/mm/yyyy)", "date_of_birth"), ("so cccd", "citizen_id"), ("Số căn cước công dân", "citizen_id"),
    ("E-mail", "email"), ("SĐT", "phone"), ("Mã ĐV", "code"), ("ma don vi", "unit_code"), ("Ngày kết nạp", "joined_on"),
])
def test_header_variants(variant, key):
    log = ErrorLog()
    columns = map_headers([variant], 0, log)
    assert columns == {key: 0}


def test_header_errors_list_every_problem():
    log = ErrorLog()
    headers = ["STT", "Họ và tên", "Ngày sinh", "Ngày sinh", "Quê quán", "Số CCCD", "Giới tính", "Mã đơn vị"]
    map_headers(headers, 0, log)
    found = {(e["code"], e["column"], e["cell"]) for e in log.items}
    assert found == {
        ("header_duplicate", "Ngày sinh", "D"),
        ("header_unknown", "Quê quán", "E"),
        ("header_missing", "Ngày vào công đoàn", ""),
    }


def test_value_vocabularies():
    assert normalize_header("  Trình độ   học vấn ") == "trinh do hoc van"
    assert education_value("ĐẠI HỌC") == "university" and education_value("12/12") == "upper_secondary"
    assert education_value("thcs") == "lower_secondary" and education_value("Thạc sĩ") == "postgraduate"
    assert education_value("college") == "college" and education_value("biết chữ") is None


def test_a_real_password_protected_workbook(tmp_path):
    """Made by msoffcrypto-tool 6.1.0 (Agile encryption, password "mat-khau"), as Excel writes them."""
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "encrypted.xlsx"
    with pytest.raises(ImportFileError) as exc:
        open_table(fixture, name="ds.xlsx")
    assert exc.value.code == "file_encrypted" and "mật khẩu" in str(exc.value.message)


def test_xlsx_starting_at_column_b_below_a_title_keeps_rows_and_letters(tmp_path):
    """The streamed sheet starts at A1 whatever its first used cell: row numbers and column letters are the
    spreadsheet's own (the error messages point at them)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    sheet = workbook.add_worksheet()
    sheet.write(1, 1, "DANH SÁCH ĐOÀN VIÊN")  # B2; rows 1 and 3 empty
    sheet.write_row(3, 1, HEADERS)  # B4
    sheet.write_row(4, 1, ["Phạm Thị Hoa", "12/03/1991", "Nữ"])
    sheet.write_number(4, 4, 25191000001)  # a CCCD typed as a number: its leading zero is lost
    workbook.close()
    table = open_table(write(tmp_path, "a.xlsx", buffer.getvalue()))
    assert table.header_row == 4 and table.total == 1
    log = ErrorLog()
    columns = map_headers(table.headers, table.col_offset, log)
    assert log.count == 0
    assert columns["full_name"] == table.headers.index("Họ và tên")
    from congdoan.imports.columns import column_letter
    assert column_letter(table.col_offset + columns["date_of_birth"]) == "C"
    [(row_no, cells)] = rows_of(table)
    assert row_no == 5 and cells[columns["full_name"]] == "Phạm Thị Hoa" and cells[columns["citizen_id"]] == 25191000001


def test_progress_total_is_the_sheets_declared_size(tmp_path):
    data = xlsx_bytes([member_row(cid=f"0251910{i:05d}") for i in range(30)], title="DANH SÁCH")
    path = write(tmp_path, "a.xlsx", data)
    assert declared_last_row(path) == 33
    assert open_table(path).total == 30  # rows below the header on row 3
    # a writer that leaves <dimension> out: no total up front, every row still read
    bare = write(tmp_path, "b.xlsx", rewrite_sheet(data, lambda xml: re.sub(rb"<dimension [^>]*/>", b"", xml)))
    assert declared_last_row(bare) is None
    table = open_table(bare)
    assert table.total == 0 and len(rows_of(table)) == 30
    assert declared_last_row(write(tmp_path, "c.csv", b"a,b\r\n")) is None


def test_a_sheet_damaged_past_its_first_rows_is_reported_when_reached(tmp_path):
    data = xlsx_bytes([member_row(cid=f"0251910{i:05d}") for i in range(300)])

    def damage(xml):
        at = xml.index(b'<row r="200"')
        return xml[:at] + b'<row r="200"><c r="A200" <<' + xml[at + 40:]

    table = open_table(write(tmp_path, "a.xlsx", rewrite_sheet(data, damage)))
    seen = []
    with pytest.raises(ImportFileError) as exc:
        for row_no, _cells in table.rows:
            seen.append(row_no)
    assert exc.value.code == "file_unreadable" and 150 < seen[-1] < 200  # read up to the damage
