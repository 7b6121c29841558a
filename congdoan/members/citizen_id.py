"""The structure of the 12-digit citizen ID (CCCD), as set by Circular 59/2021/TT-BCA.

Digits 1-3: the province of birth registration; digit 4: gender and century of birth;
digits 5-6: the last two digits of the birth year; digits 7-12: a random number.
"""

import datetime

from django.utils.translation import gettext as _

from congdoan.core.errors import DomainError

PROVINCE_CODES = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn", "008": "Tuyên Quang",
    "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu", "014": "Sơn La", "015": "Yên Bái",
    "017": "Hòa Bình", "019": "Thái Nguyên", "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang",
    "025": "Phú Thọ", "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định", "037": "Ninh Bình",
    "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh", "044": "Quảng Bình", "045": "Quảng Trị",
    "046": "Thừa Thiên Huế", "048": "Đà Nẵng", "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định",
    "054": "Phú Yên", "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng", "070": "Bình Phước",
    "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai", "077": "Bà Rịa - Vũng Tàu", "079": "Hồ Chí Minh",
    "080": "Long An", "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh", "086": "Vĩnh Long",
    "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ", "093": "Hậu Giang",
    "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}

#: first year of the century coded by each pair of gender digits (male, female)
CENTURY_START = {0: 1900, 2: 2000, 4: 2100, 6: 2200, 8: 2300}


class CitizenIdError(DomainError):
    pass


def gender_century_digit(gender: str, birth_year: int) -> int:
    base = (birth_year // 100 - 19) * 2 % 10
    return base + (1 if gender == "female" else 0)


def check_citizen_id(value: str, *, gender: str | None = None, date_of_birth: datetime.date | None = None) -> str:
    """Return the normalized CCCD or raise CitizenIdError pointing at what is wrong."""
    value = (value or "").strip().replace(" ", "")
    if not value.isdigit() or len(value) != 12:
        raise CitizenIdError(_("A citizen ID has exactly 12 digits (got “%(value)s”).") % {"value": value},
                             code="citizen_id_format", field="citizen_id")
    if value[:3] not in PROVINCE_CODES:
        raise CitizenIdError(_("“%(code)s” is not a province code of a citizen ID.") % {"code": value[:3]},
                             code="citizen_id_province", field="citizen_id")
    digit = int(value[3])
    if gender is not None and date_of_birth is not None:
        expected = gender_century_digit(gender, date_of_birth.year)
        if digit != expected:
            raise CitizenIdError(
                _("The 4th digit of the citizen ID (%(digit)s) does not match the gender and birth century (expected %(expected)s).")
                % {"digit": digit, "expected": expected},
                code="citizen_id_gender_century", field="citizen_id",
            )
        if value[4:6] != f"{date_of_birth.year % 100:02d}":
            raise CitizenIdError(
                _("Digits 5-6 of the citizen ID (%(digits)s) do not match the birth year %(year)s.")
                % {"digits": value[4:6], "year": date_of_birth.year},
                code="citizen_id_birth_year", field="citizen_id",
            )
    return value
