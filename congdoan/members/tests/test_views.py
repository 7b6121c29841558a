"""Member pages: bad input gives a clear message and writes nothing; sensitive fields;
audited reads; query counts that do not grow with rows."""

import datetime
import random

import pytest

from congdoan.core.testing import use_english
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from congdoan.audit.models import AuditEntry
from congdoan.core import demo_data
from congdoan.core.testing import make_user
from congdoan.core.text import normalize_search
from congdoan.members.choices import TransferStatus
from congdoan.members.models import Member, MembershipEvent, TransferRequest
from congdoan.members.services import validate_member
from congdoan.organizations.services import unit_create, unit_dissolve

pytestmark = pytest.mark.django_db


@pytest.fixture
def en(client):
    """Messages are asserted in English, the msgid language, so translations cannot break the tests."""
    use_english(client)
    return client


def bulk_members(unit, n, *, start=700_000):
    """``n`` valid members in ``unit``, straight into the table (demo data, unique CCCDs and codes)."""
    rng, today = random.Random(start), timezone.localdate()
    rows = []
    for serial in range(start, start + n):
        row = demo_data.member_row(rng, serial, today)
        rows.append(Member(unit=unit, code=f"DV{serial:010d}", name_normalized=normalize_search(row["full_name"]), **row))
    return Member.objects.bulk_create(rows)


def written():
    """Row counts a refused write must leave alone (reads of the record are audited, so they do not count)."""
    changes = AuditEntry.objects.exclude(action="member.viewed")
    return Member.objects.count(), MembershipEvent.objects.count(), TransferRequest.objects.count(), changes.count()


def admit_data(p, **changes):
    data = {
        "unit": p.grassroots_a.pk, "code": "", "full_name": "Phạm Thị Lan", "date_of_birth": "1992-04-12",
        "gender": "female", "citizen_id": "025192004321", "ethnicity": "Kinh", "religion": "Không",
        "education_level": "university", "qualification": "", "phone": "0987654321", "email": "",
        "occupation": "Kế toán", "union_position": "", "joined_on": "2016-06-01",
    }
    data.update(changes)
    return data


def test_admit_through_the_page(personas, en):
    """Control for the bad-input cases below: the same body, unchanged, admits the member."""
    en.force_login(personas.grassroots_a_chair)
    before = written()
    response = en.post("/members/new/", admit_data(personas))
    member = Member.objects.get(citizen_id="025192004321")
    assert response.status_code == 302 and response["Location"] == f"/members/{member.pk}/"
    assert member.unit == personas.grassroots_a and member.full_name == "Phạm Thị Lan"
    assert written() == (before[0] + 1, before[1] + 1, before[2], before[3] + 1)


TOMORROW = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


@pytest.mark.parametrize("changes,field,message", [
    ({"citizen_id": "12345"}, "citizen_id", "A citizen ID has exactly 12 digits (got “12345”)."),
    ({"citizen_id": "02519200432X"}, "citizen_id", "A citizen ID has exactly 12 digits (got “02519200432X”)."),
    ({"citizen_id": "999192004321"}, "citizen_id", "“999” is not a province code of a citizen ID."),
    ({"citizen_id": "025092004321"}, "citizen_id",
     "The 4th digit of the citizen ID (0) does not match the gender and birth century (expected 1)."),
    ({"citizen_id": "025193004321"}, "citizen_id", "Digits 5-6 of the citizen ID (93) do not match the birth year 1992."),
    ({"date_of_birth": TOMORROW}, "date_of_birth", "The date of birth cannot be in the future."),
    ({"joined_on": TOMORROW}, "joined_on", "The date of joining cannot be in the future."),
    ({"joined_on": "2000-01-01"}, "joined_on", "A member must be at least 15 years old when joining."),
    ({"full_name": "   "}, "full_name", "This field is required."),
    ({"date_of_birth": "31/02/1992"}, "date_of_birth", "Enter a valid date."),
], ids=["cccd-short", "cccd-letter", "cccd-province", "cccd-gender", "cccd-year", "born-future", "joined-future",
        "too-young", "no-name", "bad-date"])
def test_admit_bad_input(personas, en, changes, field, message):
    en.force_login(personas.grassroots_a_chair)
    before = written()
    response = en.post("/members/new/", admit_data(personas, **changes))
    assert response.status_code == 200
    assert message in response.context["form"].errors[field]
    assert message in response.content.decode()
    assert 'name="full_name"' in response.content.decode()  # the form is shown again
    assert written() == before


def test_admit_duplicate_code_and_citizen_id(personas, en):
    en.force_login(personas.grassroots_a_chair)
    a = Member.objects.get(pk=personas.member_a.pk)
    before = written()
    response = en.post("/members/new/", admit_data(personas, code=a.code.lower()))
    assert response.status_code == 200
    assert f"The member code {a.code} is already used." in response.context["form"].errors["code"]
    same_person = admit_data(personas, gender="male", date_of_birth=a.date_of_birth.isoformat(), citizen_id=a.citizen_id)
    response = en.post("/members/new/", same_person)
    assert response.status_code == 200
    assert f"Another member already has the citizen ID {a.citizen_id}." in response.content.decode()
    assert written() == before


def test_admit_into_a_unit_outside_scope_is_refused(personas, en):
    en.force_login(personas.province_b_chair)
    before = written()
    response = en.post("/members/new/", admit_data(personas))  # unit = grassroots A
    assert response.status_code == 200
    assert "Select a valid choice" in response.context["form"].errors["unit"][0]
    assert written() == before


def test_admit_page_ignores_a_malformed_unit_parameter(personas, en):
    en.force_login(personas.grassroots_a_chair)
    assert en.get("/members/new/?unit=abc").status_code == 200


def test_edit_bad_input_keeps_the_record(personas, en):
    en.force_login(personas.grassroots_a_chair)
    a = Member.objects.get(pk=personas.member_a.pk)
    other = Member.objects.get(pk=personas.member_b.pk)
    base = {f: getattr(a, f) or "" for f in ("full_name", "gender", "citizen_id", "ethnicity", "religion", "education_level",
                                             "qualification", "phone", "email", "occupation", "union_position")}
    base.update(date_of_birth=a.date_of_birth.isoformat(), joined_on=a.joined_on.isoformat())
    before = written()
    for changes, field, message in [
        ({"citizen_id": "0250880"}, "citizen_id", "A citizen ID has exactly 12 digits (got “0250880”)."),
        ({"date_of_birth": TOMORROW}, "date_of_birth", "The date of birth cannot be in the future."),
        ({"citizen_id": other.citizen_id, "date_of_birth": other.date_of_birth.isoformat()}, "citizen_id",
         f"Another member already has the citizen ID {other.citizen_id}."),
    ]:
        response = en.post(f"/members/{a.pk}/edit/", {**base, **changes})
        assert response.status_code == 200
        assert message in response.context["form"].errors[field]
    assert written() == before
    fresh = Member.objects.get(pk=a.pk)
    assert (fresh.citizen_id, fresh.date_of_birth) == (a.citizen_id, a.date_of_birth)


def _transfer(client, member, code):
    return client.post(f"/members/{member.pk}/transfer/", {"to_unit": code, "reason": "Chuyển công tác"}, follow=True)


def test_transfer_bad_input_shows_the_reason_and_writes_nothing(personas, en):
    unit_dissolve(actor=personas.province_a_chair, unit=personas.grassroots_a2, reason="Giải thể")
    en.force_login(personas.province_a_chair)
    a = personas.member_a
    before = written()
    for code, message in [
        ("PA-G2", f"The unit {personas.grassroots_a2} is dissolved or merged; choose an active unit."),
        ("pa-g2 ", f"The unit {personas.grassroots_a2} is dissolved or merged; choose an active unit."),
        ("XX-404", "No unit has the code “XX-404”."),
        ("PA-U", "Members are registered in a grassroots union, sub-union or union group, not in "),
        ("PA-G1", f"The member is already in {personas.grassroots_a}."),
    ]:
        response = _transfer(en, a, code)
        assert response.status_code == 200 and response.redirect_chain[-1][0] == f"/members/{a.pk}/"
        html = response.content.decode()
        assert message in html, code
        assert 'name="to_unit"' in html  # the transfer form is on the page again
    assert written() == before


def test_transfer_request_then_accept_through_the_pages(personas, en):
    """Control for the refusals: a valid transfer goes through and the receiving unit accepts it."""
    en.force_login(personas.province_a_chair)
    response = _transfer(en, personas.member_a, "pb-g1")
    assert "Transfer requested; it waits for the receiving unit." in response.content.decode()
    transfer = TransferRequest.objects.get(member=personas.member_a)
    assert transfer.status == TransferStatus.PENDING and transfer.to_unit == personas.grassroots_b
    assert en.post(f"/members/transfers/{transfer.pk}/accept/").status_code == 404  # A cannot accept for B
    en.force_login(personas.province_b_chair)
    assert en.post(f"/members/transfers/{transfer.pk}/accept/").status_code == 302
    assert Member.objects.get(pk=personas.member_a.pk).unit == personas.grassroots_b


def test_status_change_bad_input(personas, en):
    en.force_login(personas.grassroots_a_chair)
    a = personas.member_a
    before = written()
    for data, message in [
        ({"kind": "leaving", "on_date": TOMORROW, "reason": "Nghỉ việc"}, "The date cannot be in the future."),
        ({"kind": "leaving", "on_date": timezone.localdate().isoformat(), "reason": " "}, "Give a reason."),
        ({"kind": "reinstatement", "on_date": timezone.localdate().isoformat()}, "This change is not possible for a member whose status is “Active”."),
    ]:
        response = en.post(f"/members/{a.pk}/status/", data, follow=True)
        assert response.status_code == 200 and message in response.content.decode(), data
    assert written() == before and Member.objects.get(pk=a.pk).status == "active"


# --- sensitive fields and audited reads ------------------------------------------------------

@pytest.fixture
def sensitive_member(personas):
    Member.objects.filter(pk=personas.member_a.pk).update(ethnicity="Tày", religion="Phật giáo")
    return Member.objects.get(pk=personas.member_a.pk)


def test_accountant_does_not_see_sensitive_fields(personas, client, sensitive_member):
    m = sensitive_member
    client.force_login(personas.accountant_a)
    html = client.get(f"/members/{m.pk}/").content.decode()
    assert m.full_name in html and m.phone in html
    for secret in (m.citizen_id, "Tày", "Phật giáo"):
        assert secret not in html
    assert client.get(f"/members/{m.pk}/edit/").status_code == 404  # no right to change either
    assert client.get(f"/members/?q={m.citizen_id}").context["page"].paginator.count == 1  # exact search still works
    assert m.citizen_id not in client.get(f"/members/?q={m.full_name}").content.decode()

    client.force_login(personas.grassroots_a_chair)
    html = client.get(f"/members/{m.pk}/").content.decode()
    for secret in (m.citizen_id, "Tày", "Phật giáo"):
        assert secret in html


def test_committee_member_does_not_see_sensitive_fields(personas, client, sensitive_member):
    user = make_user("committee_a", unit=personas.grassroots_a, role="committee_member")
    client.force_login(user)
    response = client.get(f"/members/{sensitive_member.pk}/")
    assert response.status_code == 200 and sensitive_member.citizen_id not in response.content.decode()
    assert not AuditEntry.objects.filter(action="member.viewed").exists()


def test_every_full_read_with_sensitive_access_is_audited(personas, client, sensitive_member):
    m = sensitive_member
    for who in ("grassroots_a_chair", "province_a_chair", "national_chair", "grassroots_a_chair"):
        client.force_login(personas.users[who])
        assert client.get(f"/members/{m.pk}/").status_code == 200
    viewed = AuditEntry.objects.filter(action="member.viewed", object_type="members.member", object_id=str(m.pk))
    assert [e.actor.username for e in viewed.order_by("id")] == ["grassroots_a_chair", "province_a_chair", "national_chair", "grassroots_a_chair"]
    assert all(e.unit_path == personas.grassroots_a.path and e.request_id for e in viewed)


def test_edit_form_read_is_audited(personas, client, sensitive_member):
    client.force_login(personas.grassroots_a_chair)
    html = client.get(f"/members/{sensitive_member.pk}/edit/").content.decode()
    assert sensitive_member.citizen_id in html
    assert AuditEntry.objects.filter(action="member.viewed", object_id=str(sensitive_member.pk)).exists()


# --- query counts ----------------------------------------------------------------------------

def queries(client, url) -> int:
    client.get(url)  # warm caches that are filled once per process
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_member_list_queries_do_not_grow(personas, client):
    client.force_login(personas.grassroots_a_chair)
    one = queries(client, "/members/")
    assert client.get("/members/").context["page"].paginator.count == 1
    bulk_members(personas.grassroots_a, 49)
    assert client.get("/members/").context["page"].paginator.count == 50
    assert queries(client, "/members/") == one
    assert queries(client, "/members/?q=nguyen&gender=female") == one
    assert queries(client, "/members/?age_band=30_39") == one


def test_member_detail_queries_do_not_grow_with_history(personas, client):
    client.force_login(personas.grassroots_a_chair)
    url = f"/members/{personas.member_a.pk}/"
    one = queries(client, url)
    MembershipEvent.objects.bulk_create([
        MembershipEvent(member=personas.member_a, kind="suspension", occurred_on=datetime.date(2020, 1, 1), from_unit=personas.grassroots_a,
                        actor=personas.grassroots_a_chair, reason=f"Lý do {i}") for i in range(49)])
    assert queries(client, url) == one


def test_transfer_list_queries_do_not_grow(personas, client):
    receiving = unit_create(actor=None, parent=personas.upper_b, level="grassroots", code="PB-G2", name="Công đoàn cơ sở Trường Tiểu học Bạch Hạc")
    members = bulk_members(personas.grassroots_b, 50)

    def transfers(batch):
        TransferRequest.objects.bulk_create([TransferRequest(member=m, from_unit=personas.grassroots_b, to_unit=receiving,
                                                             requested_by=personas.province_b_chair) for m in batch])

    client.force_login(personas.province_b_chair)
    transfers(members[:1])
    one = queries(client, "/members/transfers/")
    transfers(members[1:])
    response = client.get("/members/transfers/")
    assert len(response.context["incoming"]) == 50 and len(response.context["outgoing"]) == 50
    assert queries(client, "/members/transfers/") == one


def test_bulk_rows_are_valid_members(personas):
    """The query-count tests rely on bulk rows that the service would accept too."""
    for member in bulk_members(personas.grassroots_a, 5, start=800_000):
        validate_member(member)
