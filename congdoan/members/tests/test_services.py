import datetime

import pytest

from congdoan.core.errors import NotFoundInScope
from congdoan.core.testing import make_member
from congdoan.members import services
from congdoan.members.choices import EventKind, MemberStatus
from congdoan.members.citizen_id import CitizenIdError, check_citizen_id
from congdoan.members.selectors import member_search
from congdoan.members.services import MemberError
from congdoan.organizations.services import unit_dissolve

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value,code", [
    ("12345", "citizen_id_format"),
    ("02509012345a", "citizen_id_format"),
    ("999090123456", "citizen_id_province"),
    ("025190123456", "citizen_id_gender_century"),  # 1 = female, 1900s; record is male 1990
    ("025091123456", "citizen_id_birth_year"),
])
def test_citizen_id_structure(value, code):
    with pytest.raises(CitizenIdError) as exc:
        check_citizen_id(value, gender="male", date_of_birth=datetime.date(1990, 1, 1))
    assert exc.value.code == code


def test_citizen_id_valid_forms():
    assert check_citizen_id("025090123456", gender="male", date_of_birth=datetime.date(1990, 1, 1)) == "025090123456"
    assert check_citizen_id("001301123456", gender="female", date_of_birth=datetime.date(2001, 6, 1)) == "001301123456"


def test_admit_records_event_and_audit(personas):
    member = make_member(personas.grassroots_a, actor=personas.grassroots_a_chair, full_name="Đỗ Thị Hạnh")
    assert member.name_normalized == "do thi hanh"
    assert member.events.get().kind == EventKind.ADMISSION
    from congdoan.audit.models import AuditEntry
    entry = AuditEntry.objects.get(action="member.admitted", object_id=str(member.pk))
    assert entry.changes["citizen_id"] == ["•••", "•••"]


@pytest.mark.parametrize("field,value,code", [
    ("date_of_birth", datetime.date.today() + datetime.timedelta(days=3), "future_date"),
    ("joined_on", datetime.date.today() + datetime.timedelta(days=3), "future_date"),
    ("citizen_id", "0250901", "citizen_id_format"),
])
def test_admit_bad_input(personas, field, value, code):
    data = dict(full_name="Hoàng Văn Nam", gender="male", date_of_birth=datetime.date(1990, 1, 1),
                citizen_id="025090654321", joined_on=datetime.date(2012, 1, 1))
    data[field] = value
    with pytest.raises(MemberError if not field == "citizen_id" else CitizenIdError) as exc:
        services.member_admit(actor=personas.grassroots_a_chair, unit=personas.grassroots_a, **data)
    assert exc.value.code == code


def test_duplicate_citizen_id_and_code(personas):
    data = dict(full_name="Hoàng Văn Nam", gender="male", date_of_birth=datetime.date(1988, 2, 3),
                citizen_id=personas.member_a.citizen_id, joined_on=datetime.date(2012, 1, 1))
    with pytest.raises(MemberError) as exc:
        services.member_admit(actor=personas.grassroots_a_chair, unit=personas.grassroots_a, **data)
    assert exc.value.code == "duplicate_citizen_id"
    data["citizen_id"] = "025088000001"
    with pytest.raises(MemberError) as exc:
        services.member_admit(actor=personas.grassroots_a_chair, unit=personas.grassroots_a, code=personas.member_a.code, **data)
    assert exc.value.code == "duplicate_code"


def test_transfer_flow(personas):
    t = services.member_transfer_request(actor=personas.grassroots_a_chair, member=personas.member_a, to_unit=personas.grassroots_b)
    # the sending side cannot accept for the receiving side
    with pytest.raises(NotFoundInScope):
        services.member_transfer_accept(actor=personas.grassroots_a_chair, transfer=t)
    services.member_transfer_accept(actor=personas.province_b_chair, transfer=t)
    personas.member_a.refresh_from_db()
    assert personas.member_a.unit_id == personas.grassroots_b.pk
    ev = personas.member_a.events.get(kind=EventKind.TRANSFER)
    assert (ev.from_unit_id, ev.to_unit_id) == (personas.grassroots_a.pk, personas.grassroots_b.pk)


def test_transfer_to_dissolved_unit_refused(personas):
    unit_dissolve(actor=personas.national_chair, unit=personas.grassroots_b)
    with pytest.raises(MemberError) as exc:
        services.member_transfer_request(actor=personas.grassroots_a_chair, member=personas.member_a, to_unit=personas.grassroots_b)
    assert exc.value.code == "unit_inactive"


def test_leave_needs_reason_and_keeps_history(personas):
    with pytest.raises(MemberError) as exc:
        services.member_status_change(actor=personas.grassroots_a_chair, member=personas.member_a, kind=EventKind.LEAVING)
    assert exc.value.code == "reason_required"
    services.member_status_change(actor=personas.grassroots_a_chair, member=personas.member_a, kind=EventKind.LEAVING, reason="Nghỉ việc")
    personas.member_a.refresh_from_db()
    assert personas.member_a.status == MemberStatus.LEFT


def test_search_ignores_accents_and_case(personas):
    found = member_search(user=personas.national_chair, q="nguyen van an")
    assert list(found) == [personas.member_a]
    assert list(member_search(user=personas.national_chair, q="NGUYỄN VĂN")) == [personas.member_a]
    assert list(member_search(user=personas.national_chair, q=personas.member_a.citizen_id)) == [personas.member_a]
    assert list(member_search(user=personas.national_chair, q="0912345678")) == [personas.member_a]
    # out of scope: province B's chair finds nothing
    assert list(member_search(user=personas.province_b_chair, q="nguyen van an")) == []
