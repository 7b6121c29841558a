"""The member file layout: Vietnamese column headers as officials write them, and their variants.

The headers are part of the file format (files travel between units and years), so they are fixed
Vietnamese text, not translated; variants without accents, in another case or in English are
accepted. Values of "Giới tính" and "Trình độ học vấn" are matched the same accent-free way.
"""

import re
from dataclasses import dataclass

from congdoan.core.text import normalize_search


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool = False
    aliases: tuple = ()
    width: int = 16


COLUMNS = [
    Column("full_name", "Họ và tên", True, ("ho ten", "ho va ten dem", "full name", "name"), 26),
    Column("date_of_birth", "Ngày sinh", True, ("ngay thang nam sinh", "date of birth", "birth date", "dob"), 12),
    Column("gender", "Giới tính", True, ("gender", "sex", "nam nu"), 9),
    Column("citizen_id", "Số CCCD", True, ("cccd", "so can cuoc", "so can cuoc cong dan", "can cuoc cong dan", "can cuoc",
                                          "so dinh danh", "so dinh danh ca nhan", "citizen id", "citizen id cccd"), 15),
    Column("ethnicity", "Dân tộc", False, ("ethnicity",), 10),
    Column("religion", "Tôn giáo", False, ("religion",), 12),
    Column("education_level", "Trình độ học vấn", False, ("trinh do van hoa", "hoc van", "education", "education level"), 18),
    Column("qualification", "Chuyên môn", False, ("trinh do chuyen mon", "chuyen mon nghiep vu", "qualification",
                                                  "professional qualification"), 16),
    Column("phone", "Số điện thoại", False, ("dien thoai", "sdt", "so dt", "phone", "phone number", "mobile"), 13),
    Column("email", "Email", False, ("e mail", "thu dien tu", "dia chi email"), 24),
    Column("occupation", "Nghề nghiệp", False, ("cong viec", "occupation", "job"), 20),
    Column("union_position", "Chức vụ công đoàn", False, ("chuc vu", "chuc vu cd", "union position"), 18),
    Column("joined_on", "Ngày vào công đoàn", True, ("ngay vao cd", "ngay ket nap", "ngay ket nap cong doan",
                                                    "ngay gia nhap cong doan", "date joined", "joined on",
                                                    "date joined the union"), 12),
    Column("unit_code", "Mã đơn vị", True, ("ma cong doan", "ma cd", "ma cdcs", "ma cong doan co so", "unit code", "unit"), 12),
    Column("code", "Mã đoàn viên", False, ("ma dv", "member code"), 14),
]
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
REQUIRED_KEYS = [c.key for c in COLUMNS if c.required]

#: informative columns that the import reads past (row numbers, notes, what the export adds)
IGNORED_HEADERS = {"stt", "tt", "so tt", "so thu tu", "ghi chu", "note", "notes", "ten don vi", "don vi", "unit name",
                   "trang thai", "status"}

#: columns an export writes after the import columns; the import ignores them
EXPORT_EXTRA_HEADERS = ["Tên đơn vị", "Trạng thái"]

SENSITIVE_KEYS = {"citizen_id", "ethnicity", "religion"}

_PAREN = re.compile(r"\(.*?\)|\[.*?\]")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalize_header(text) -> str:
    """'Ngày sinh (dd/mm/yyyy) *' -> 'ngay sinh'; 'SỐ CCCD' -> 'so cccd'; 'E-mail' -> 'e mail'."""
    text = _PAREN.sub(" ", str(text if text is not None else ""))
    return " ".join(_NON_WORD.sub(" ", normalize_search(text)).split())


HEADER_LOOKUP: dict[str, str] = {}
for _column in COLUMNS:
    for _variant in (_column.header, _column.key.replace("_", " "), *_column.aliases):
        HEADER_LOOKUP[normalize_header(_variant)] = _column.key


GENDER_VALUES = {"nam": "male", "nu": "female", "male": "male", "female": "female", "m": "male", "f": "female"}
GENDER_LABELS = {"male": "Nam", "female": "Nữ"}

#: Vietnamese label written by the export and the template's drop-down, per education level
EDUCATION_LABELS = {
    "primary": "Tiểu học",
    "lower_secondary": "Trung học cơ sở",
    "upper_secondary": "Trung học phổ thông",
    "vocational": "Trung cấp",
    "college": "Cao đẳng",
    "university": "Đại học",
    "postgraduate": "Sau đại học",
}
_EDUCATION_ALIASES = {
    "primary": ("primary school", "th", "cap 1", "5/12"),
    "lower_secondary": ("lower secondary school", "thcs", "cap 2", "9/12"),
    "upper_secondary": ("upper secondary school", "thpt", "cap 3", "12/12", "pho thong trung hoc", "ptth"),
    "vocational": ("vocational training", "trung cap nghe", "so cap", "so cap nghe", "hoc nghe", "cong nhan ky thuat",
                   "trung hoc chuyen nghiep"),
    "college": ("cao dang nghe",),
    "university": ("dai hoc", "cu nhan", "ky su", "bachelor"),
    "postgraduate": ("thac si", "tien si", "ths", "ts", "master", "doctor", "phd"),
}


def _education_key(text: str) -> str:
    return " ".join(normalize_search(text).replace("/", " / ").split()).replace(" / ", "/")


EDUCATION_VALUES: dict[str, str] = {}
for _key, _label in EDUCATION_LABELS.items():
    for _variant in (_key, _key.replace("_", " "), _label, *_EDUCATION_ALIASES[_key]):
        EDUCATION_VALUES[_education_key(_variant)] = _key


def education_value(text: str) -> str | None:
    return EDUCATION_VALUES.get(_education_key(text))


def column_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
