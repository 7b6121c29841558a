import csv
import datetime
import io

import pytest
import xlsxwriter

from congdoan.imports.columns import COLUMNS

HEADERS = [c.header for c in COLUMNS]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ROOT_URLCONF = "congdoan.imports.tests.urls"


def member_row(*, name="Phạm Thị Hoa", dob="12/03/1991", gender="Nữ", cid="025191000001", unit="PA-G1", joined="01/06/2015",
               code="", **extra) -> dict:
    row = {"full_name": name, "date_of_birth": dob, "gender": gender, "citizen_id": cid, "ethnicity": "Kinh",
           "religion": "Không", "education_level": "Đại học", "qualification": "Kế toán", "phone": "0912000111",
           "email": "", "occupation": "Công nhân may", "union_position": "", "joined_on": joined, "unit_code": unit,
           "code": code}
    row.update(extra)
    return row


def xlsx_bytes(rows: list[dict], headers=None, *, title=None) -> bytes:
    headers = headers or HEADERS
    keys = [c.key for c in COLUMNS]
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False})
    sheet = workbook.add_worksheet()
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    start = 0
    if title:
        sheet.write(0, 0, title)
        start = 2
    sheet.write_row(start, 0, headers)
    for r, row in enumerate(rows, start=start + 1):
        for c, key in enumerate(keys[:len(headers)]):
            value = row.get(key, "")
            if isinstance(value, datetime.date):
                sheet.write_datetime(r, c, value, date_format)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            elif value != "":
                sheet.write_string(r, c, value)
    workbook.close()
    return buffer.getvalue()


def csv_bytes(rows: list[dict], *, encoding="utf-8", bom=False, delimiter=",", headers=None) -> bytes:
    headers = headers or HEADERS
    keys = [c.key for c in COLUMNS]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(k, "") for k in keys[:len(headers)]])
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def rewrite_sheet(data: bytes, change) -> bytes:
    """The workbook ``data`` with its first sheet's XML passed through ``change(xml bytes)``."""
    import zipfile

    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            content = source.read(name)
            target.writestr(name, change(content) if name == "xl/worksheets/sheet1.xml" else content)
    return out.getvalue()
