"""Realistic Vietnamese demo data: names, citizen IDs, dates, employers.

Used by the demo seed, the tests' factories and the benchmarks, all from one seeded RNG.
"""

import datetime
import random

from congdoan.members.citizen_id import PROVINCE_CODES, gender_century_digit

SURNAMES = ["Nguyễn"] * 38 + ["Trần"] * 11 + ["Lê"] * 9 + ["Phạm"] * 7 + ["Hoàng"] * 5 + ["Huỳnh"] * 4 + [
    "Phan", "Phan", "Vũ", "Vũ", "Võ", "Võ", "Đặng", "Đặng", "Bùi", "Bùi", "Đỗ", "Đỗ", "Hồ", "Ngô", "Dương", "Lý",
    "Đinh", "Trịnh", "Đoàn", "Lâm", "Mai", "Tô", "Hà", "Cao", "Chu", "Lương", "Tạ", "Quách"]
MIDDLE_MALE = ["Văn", "Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Công", "Thành", "Xuân", "Hoàng", "Ngọc", "Tiến", "Anh"]
MIDDLE_FEMALE = ["Thị", "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Hồng", "Bảo", "Phương", "Mai"]
GIVEN_MALE = ["An", "Bình", "Cường", "Dũng", "Đạt", "Đức", "Giang", "Hải", "Hiếu", "Hoàng", "Hùng", "Huy", "Khánh",
              "Khoa", "Long", "Mạnh", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Thắng",
              "Thành", "Tiến", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ"]
GIVEN_FEMALE = ["Anh", "Châu", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hằng", "Hạnh", "Hiền", "Hoa", "Hồng", "Huyền",
                "Hương", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương",
                "Quỳnh", "Tâm", "Thảo", "Thu", "Thủy", "Trang", "Uyên", "Vân", "Yến"]
ETHNICITIES = ["Kinh"] * 17 + ["Tày", "Mường", "Thái", "Dao", "Nùng", "H'Mông", "Khmer", "Hoa"]
RELIGIONS = ["Không"] * 8 + ["Phật giáo", "Công giáo"]
OCCUPATIONS = ["Công nhân may", "Công nhân lắp ráp", "Kỹ thuật viên", "Nhân viên văn phòng", "Giáo viên",
               "Kế toán", "Lái xe", "Thợ điện", "Công nhân chế biến", "Nhân viên bán hàng", "Kỹ sư", "Điều dưỡng"]
QUALIFICATIONS = ["", "", "Sơ cấp nghề", "Trung cấp", "Cao đẳng", "Đại học", "Thạc sĩ"]
EDUCATION = ["lower_secondary", "upper_secondary", "upper_secondary", "vocational", "college", "university", "university"]
COMPANY_PREFIX = ["Công ty TNHH", "Công ty Cổ phần", "Công ty TNHH MTV"]
COMPANY_WORDS = ["May", "Dệt", "Điện tử", "Giày da", "Cơ khí", "Thực phẩm", "Gỗ", "Nhựa", "Xây dựng", "Thương mại",
                 "Vận tải", "Bao bì", "Dược phẩm", "Gạch men", "Chè", "Giấy"]
COMPANY_NAMES = ["Pangrim Neotex", "Hưng Thịnh", "Minh Phát", "Sông Thao", "Việt Đức", "Hòa Bình", "Phú Thịnh",
                 "Tân Long", "Đại Việt", "Thành Công", "Hải Hà", "An Phát", "Kim Long", "Nam Sơn", "Trường Sinh",
                 "Hanwha", "Samsung", "Yazaki", "Sumitomo", "Foxconn", "Nhật Minh", "Bình An", "Thái Bình Dương"]
SCHOOLS = ["Trường THCS", "Trường Tiểu học", "Trường THPT", "Trường Mầm non"]
PLACES = ["Việt Trì", "Phù Ninh", "Lâm Thao", "Thanh Ba", "Hạ Hòa", "Cẩm Khê", "Yên Lập", "Tam Nông", "Thanh Sơn",
          "Đoan Hùng", "Tân Sơn", "Thanh Thủy", "Phú Thọ", "Hùng Vương", "Gia Cẩm", "Thụy Vân", "Bạch Hạc"]
PROVINCE_CODE_LIST = sorted(PROVINCE_CODES)


def person_name(rng: random.Random, gender: str) -> str:
    if gender == "male":
        return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_MALE)} {rng.choice(GIVEN_MALE)}"
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_FEMALE)} {rng.choice(GIVEN_FEMALE)}"


def citizen_id(rng: random.Random, gender: str, dob: datetime.date, serial: int | None = None, province: str | None = None) -> str:
    """A structurally valid CCCD; ``serial`` (0..999999) makes it unique when given."""
    tail = serial if serial is not None else rng.randrange(1_000_000)
    return f"{province or rng.choice(PROVINCE_CODE_LIST)}{gender_century_digit(gender, dob.year)}{dob.year % 100:02d}{tail:06d}"


def birth_date(rng: random.Random, today: datetime.date) -> datetime.date:
    age_days = rng.randint(19 * 365, 59 * 365)
    return today - datetime.timedelta(days=age_days)


def joined_date(rng: random.Random, dob: datetime.date, today: datetime.date) -> datetime.date:
    earliest = dob.replace(year=dob.year + 18) if not (dob.month == 2 and dob.day == 29) else dob.replace(year=dob.year + 18, day=28)
    span = (today - earliest).days
    return earliest + datetime.timedelta(days=rng.randint(0, max(span, 0)))


def phone(rng: random.Random) -> str:
    return rng.choice(["09", "03", "08", "07"]) + "".join(str(rng.randrange(10)) for _ in range(8))


def member_row(rng: random.Random, serial: int, today: datetime.date) -> dict:
    gender = "female" if rng.random() < 0.56 else "male"
    dob = birth_date(rng, today)
    return {
        "full_name": person_name(rng, gender),
        "gender": gender,
        "date_of_birth": dob,
        "citizen_id": citizen_id(rng, gender, dob, serial % 1_000_000, PROVINCE_CODE_LIST[(serial // 1_000_000) % len(PROVINCE_CODE_LIST)]),
        "ethnicity": rng.choice(ETHNICITIES),
        "religion": rng.choice(RELIGIONS),
        "education_level": rng.choice(EDUCATION),
        "qualification": rng.choice(QUALIFICATIONS),
        "phone": phone(rng),
        "occupation": rng.choice(OCCUPATIONS),
        "joined_on": joined_date(rng, dob, today),
    }


def employer(rng: random.Random) -> tuple[str, str]:
    """(employer name, employer type)."""
    roll = rng.random()
    if roll < 0.12:
        return f"{rng.choice(SCHOOLS)} {rng.choice(PLACES)}", "public_service"
    # state agencies and armed forces units (both exempt since 06/2025) share the same 6 % and the same
    # draws, so the rest of a seeded tree is what it was before armed forces units were added
    if roll < 0.16:
        return f"UBND xã {rng.choice(PLACES)}", "state_agency"
    if roll < 0.18:
        return f"Ban Chỉ huy Quân sự {rng.choice(PLACES)}", "armed_forces"
    if roll < 0.25:
        return f"Công ty TNHH MTV {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_NAMES)}", "state_enterprise"
    if roll < 0.45:
        return f"Công ty TNHH {rng.choice(COMPANY_NAMES)} Việt Nam", "fdi"
    if roll < 0.52:
        return f"Hợp tác xã {rng.choice(COMPANY_WORDS)} {rng.choice(PLACES)}", "cooperative"
    return f"{rng.choice(COMPANY_PREFIX)} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_NAMES)}", "domestic_private"


def tax_code(rng: random.Random) -> str:
    return "26" + "".join(str(rng.randrange(10)) for _ in range(8))
