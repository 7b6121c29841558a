"""Row checks: the rules of members.services.validate_member, applied in memory."""

import datetime

import pytest

from congdoan.core.errors import DomainError
from congdoan.imports.columns import COLUMNS
from congdoan.imports.tests.conftest import member_row
from congdoan.imports.validation import ErrorLog, RowValidator, UnitIndex, parse_date_text, phone_text
from congdoan.members.models import Member
from congdoan.members.services import validate_member
from congdoan.organizations.choices import UnitStatus
from congdoan.organizations.models import Unit

pytestmark = pytest.mark.django_db
KEYS = [c.key for c in COLUMNS]
TODAY = datetime.date(2026, 6, 1)


def validator(scope_unit, today=TODAY):
    log = ErrorLog()
    return RowValidator(columns={k: i for i, k in enumerate(KEYS)}, headers=[c.header for c in COLUMNS], col_offset=0,
                        units=UnitIndex(scope_unit), log=log, today=today), log


def check(v, row: dict, row_no=2):
    record = v.check(row_no, [row.get(k, "") for k in KEYS])
    return record


def codes(log):
    return sorted(e["code"] for e in log.items)


def test_valid_row_gives_a_record(personas):
    v, log = validator(personas.province_a)
    record = check(v, member_row(name="  phạm  thị   hoa ", email="hoa@example.vn", phone="+84 912 000 111"))
    assert log.count == 0
    assert record[1] == "025191000001" and record[3].startswith("DV") and len(record[3]) == 12
    assert record[4] == "phạm thị hoa" and record[5] == "pham thi hoa"
    assert record[6] == datetime.date(1991, 3, 12) and record[7] == "female" and record[12] == "0912000111"
    assert record[17] == personas.grassroots_a.pk


@pytest.mark.parametrize("changes,code,column", [
    ({"name": ""}, "required", "Họ và tên"),
    ({"name": "A" * 129}, "too_long", "Họ và tên"),
    ({"dob": "31/02/1990"}, "invalid_date", "Ngày sinh"),
    ({"dob": "12/03/91"}, "invalid_date", "Ngày sinh"),
    ({"dob": "15/06/2026", "cid": "025326000001"}, "future_date", "Ngày sinh"),
    ({"joined": "02/06/2026"}, "future_date", "Ngày vào công đoàn"),
    ({"joined": "01/01/2005"}, "too_young", "Ngày vào công đoàn"),
    ({"gender": "X"}, "invalid_gender", "Giới tính"),
    ({"cid": "02519100000"}, "citizen_id_format", "Số CCCD"),
    ({"cid": "0251910000011"}, "citizen_id_format", "Số CCCD"),
    ({"cid": "999191000001"}, "citizen_id_province", "Số CCCD"),
    ({"gender": "Nam"}, "citizen_id_gender_century", "Số CCCD"),  # 4th digit 1 = female born in the 1900s
    ({"dob": "12/03/1992"}, "citizen_id_birth_year", "Số CCCD"),
    ({"email": "not-an-email"}, "invalid_email", "Email"),
    ({"education_level": "biết chữ"}, "invalid_choice", "Trình độ học vấn"),
    ({"phone": "0912 000 111 222 333"}, "too_long", "Số điện thoại"),
    ({"unit": ""}, "required", "Mã đơn vị"),
])
def test_row_errors_point_at_row_column_and_reason(personas, changes, code, column):
    v, log = validator(personas.province_a)
    check(v, member_row(**changes), row_no=7)
    v.finish()
    assert codes(log) == [code]
    error = log.items[0]
    assert error["row"] == 7 and error["column"] == column and error["cell"].endswith("7") and error["message"]


def test_every_error_of_a_row_is_listed(personas):
    v, log = validator(personas.province_a)
    check(v, member_row(name="", dob="xx", gender="?", cid="12", joined="", unit="NOPE"))
    v.finish()
    assert codes(log) == sorted(["invalid_date", "invalid_gender", "required", "required", "unit_not_found", "citizen_id_format"])


def test_units_unknown_outside_dissolved_and_wrong_level(personas):
    Unit.objects.filter(pk=personas.grassroots_a2.pk).update(status=UnitStatus.DISSOLVED)
    v, log = validator(personas.province_a)
    check(v, member_row(unit="NOPE"), row_no=2)
    check(v, member_row(unit="PB-G1", cid="025191000002"), row_no=3)   # province B: exists, outside the subtree
    check(v, member_row(unit="PA-G2", cid="025191000003"), row_no=4)   # dissolved
    check(v, member_row(unit="PA-U", cid="025191000004"), row_no=5)    # upper-grassroots: holds no members
    check(v, member_row(unit="pa-g1-s", cid="025191000005"), row_no=6)  # sub-union, code in lower case: fine
    v.finish()
    assert sorted((e["row"], e["code"]) for e in log.items) == [
        (2, "unit_not_found"), (3, "unit_out_of_scope"), (4, "unit_inactive"), (5, "unit_level")]


def test_duplicates_inside_the_file(personas):
    v, log = validator(personas.province_a)
    first = check(v, member_row(code="X1"), row_no=2)
    again = check(v, member_row(name="Khác", code="X2"), row_no=5)
    same_code = check(v, member_row(cid="025191000002", code="x1"), row_no=6)
    assert first is not None and again is None and same_code is not None
    assert sorted((e["row"], e["code"]) for e in log.items) == [(5, "duplicate_in_file"), (6, "duplicate_code")]
    assert "2" in log.items[0]["message"] or "2" in log.items[1]["message"]


def test_numbers_typed_into_excel_get_their_leading_zeros_back(personas):
    v, log = validator(personas.province_a)
    record = v.check(2, ["Lê Thị Mai", datetime.date(1991, 3, 12), "nu", 25191000001.0, "", "", "", "", 912000111.0, "", "",
                         "", 42156.0, "PA-G1", ""])  # 42156 = the Excel serial day of 01/06/2015
    assert log.count == 0, log.items
    assert record[1] == "025191000001" and record[12] == "0912000111" and record[16] == datetime.date(2015, 6, 1)


@pytest.mark.parametrize("text,expected", [
    ("12/03/1991", datetime.date(1991, 3, 12)), ("1/2/1991", datetime.date(1991, 2, 1)),
    ("12-03-1991", datetime.date(1991, 3, 12)), ("12.03.1991", datetime.date(1991, 3, 12)),
    ("1991-03-12", datetime.date(1991, 3, 12)), ("1991-03-12 00:00:00", datetime.date(1991, 3, 12)),
])
def test_date_formats(text, expected):
    assert parse_date_text(text) == expected


@pytest.mark.parametrize("text", ["12/03/91", "March 1991", "31/31/1991", "1991"])
def test_bad_dates(text):
    with pytest.raises(ValueError):
        parse_date_text(text)


def test_phone_forms():
    assert phone_text("+84 912.000-111") == "0912000111" and phone_text("84912000111") == "0912000111"
    assert phone_text(912000111.0) == "0912000111" and phone_text(None) == ""


PARITY_CASES = [
    {},
    {"name": "   "},
    {"dob": "15/06/2026", "cid": "025326000001"},
    {"joined": "02/06/2026"},
    {"joined": "01/01/2005"},
    {"cid": "02519100000"},
    {"cid": "999191000001"},
    {"gender": "Nam"},
    {"dob": "12/03/1992"},
    {"email": "nope"},
    {"qualification": "Q" * 129},
]


@pytest.mark.parametrize("changes", PARITY_CASES)
def test_same_verdict_as_validate_member(personas, changes, monkeypatch):
    """The first error validate_member raises is among the errors the import reports, and a
    row the import accepts is accepted by validate_member."""
    import congdoan.members.services as member_services
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)
    row = member_row(**changes)
    v, log = validator(personas.province_a)
    record = check(v, row)
    v.finish()
    gender = {"Nữ": "female", "Nam": "male"}[row["gender"]]
    member = Member(full_name=row["full_name"], gender=gender, citizen_id=row["citizen_id"], code="DVX",
                    date_of_birth=parse_date_text(row["date_of_birth"]), joined_on=parse_date_text(row["joined_on"]),
                    email=row["email"], qualification=row["qualification"], unit=personas.grassroots_a)
    try:
        validate_member(member, today=TODAY)
    except DomainError as exc:
        assert exc.code in {e["code"] if e["code"] != "invalid_email" else "invalid" for e in log.items} | (
            {"invalid"} if any(e["code"] in ("too_long", "invalid_email") for e in log.items) else set())
    else:
        assert log.count == 0 and record is not None
    assert member_services.MIN_AGE == 15


def test_age_at_joining_is_counted_as_the_member_services_count_it(personas):
    """The check compares the joining date with the day the member turns MIN_AGE (cached per birth date): the
    same verdict as members.services' year difference, less one before the birthday, 29 February included."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from congdoan.members.services import MIN_AGE

    v, _log = validator(personas.province_a)
    days = st.dates(min_value=datetime.date(1904, 1, 1), max_value=datetime.date(2026, 5, 31))

    @settings(max_examples=400, deadline=None)
    @given(dob=days, joined=days)
    def same(dob, joined):
        by_services = joined.year - dob.year - ((joined.month, joined.day) < (dob.month, dob.day)) < MIN_AGE
        assert (joined < v._of_age_on(dob)) == by_services

    same()
    for dob, joined, young in [("29/02/2004", "28/02/2019", True), ("29/02/2004", "01/03/2019", False),
                               ("29/02/2004", "29/02/2020", False), ("15/06/2000", "14/06/2015", True),
                               ("15/06/2000", "15/06/2015", False)]:
        v, log = validator(personas.province_a)
        check(v, member_row(dob=dob, joined=joined, cid=f"0253{dob[-2:]}000001", gender="Nữ"))
        assert codes(log) == (["too_young"] if young else []), (dob, joined, log.items)
