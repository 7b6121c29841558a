"""The JSON API: keys, scoping on every endpoint, errors with codes, the schema, query counts,
sensitive fields and their audited read.

Every endpoint is called for real through the test client with an API key, as a program would.
"""

import datetime
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from congdoan.accounts.models import ApiToken
from congdoan.accounts.services import api_token_create, api_token_revoke
from congdoan.api import api as ninja_api
from congdoan.audit.models import AuditEntry
from congdoan.core.testing import make_member
from congdoan.members.citizen_id import check_citizen_id
from congdoan.members.models import Member, MembershipEvent
from congdoan.organizations.models import Unit

pytestmark = pytest.mark.django_db

USERS = ("national_chair", "province_a_chair", "province_b_chair", "grassroots_a_chair", "accountant_a", "outsider", "member_user")


@pytest.fixture
def keys(personas):
    """One API key per persona."""
    return {who: api_token_create(actor=personas.users[who], name=f"test {who}")[1] for who in USERS}


class Api:
    """Calls the API with a persona's key (or none), the way a program would."""

    def __init__(self, keys):
        self.keys = keys
        self.client = Client(enforce_csrf_checks=True)

    def __call__(self, method, url, who=None, body=None, key=None, **headers):
        if who is not None or key is not None:
            headers["Authorization"] = f"Bearer {key or self.keys[who]}"
        kwargs = {"headers": headers}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        response = getattr(self.client, method.lower())(url, **kwargs)
        response.data = response.json() if response.get("Content-Type", "").startswith("application/json") else None
        # the JSON escapes non-ASCII letters: search the decoded text for names
        response.text = json.dumps(response.data, ensure_ascii=False)
        return response


@pytest.fixture
def call(keys):
    return Api(keys)


def db_state():
    """Everything an API call could write (audit rows of reads included)."""
    return (
        list(Unit.objects.order_by("pk").values_list("pk", "code", "name", "path", "status", "worker_count", "updated_at")),
        list(Member.objects.order_by("pk").values_list("pk", "code", "full_name", "citizen_id", "phone", "unit_id", "updated_at")),
        MembershipEvent.objects.count(), AuditEntry.objects.count(),
    )


def a_markers(p) -> list[str]:
    """Strings only province A's data produces."""
    markers = ["Công ty May Sông Hồng", "2600123456", "0912345678", "PA-U", "PA-G1", "PA-G2"]
    for key in ("province_a", "upper_a", "grassroots_a", "sub_union_a", "grassroots_a2"):
        markers.append(p.units[key].name)
    for key in ("member_a", "member_a2"):
        member = Member.objects.get(pk=p.members[key].pk)
        markers += [member.full_name, member.code, member.citizen_id]
    return markers


def in_subtree(path: str, roots) -> bool:
    return any(path.startswith(r) for r in roots)


# --- authentication ---------------------------------------------------------------------------

def test_a_key_is_stored_only_as_its_hash(personas):
    token, key = api_token_create(actor=personas.province_a_chair, name="HR sync")
    stored = ApiToken.objects.filter(pk=token.pk).values()[0]
    assert key.startswith("cdt_") and len(key) >= 40
    assert key not in json.dumps(stored, default=str)
    assert stored["key_hash"] == ApiToken.hash_key(key) and stored["prefix"] == key[:12]
    entry = AuditEntry.objects.get(action="api_token.created", object_id=str(token.pk))
    assert entry.actor == personas.province_a_chair and entry.unit_path == personas.province_a.path
    assert key not in json.dumps(entry.changes)


@pytest.mark.parametrize("case", ["missing", "not bearer", "wrong", "unknown prefix", "revoked", "expired", "inactive user"])
def test_requests_without_a_usable_key_get_401(case, personas, keys, call):
    user = personas.province_a_chair
    key = keys["province_a_chair"]
    headers = {}
    if case == "not bearer":
        headers["Authorization"] = f"Token {key}"
    elif case == "wrong":
        headers["Authorization"] = f"Bearer {key[:-3]}xyz"
    elif case == "unknown prefix":
        headers["Authorization"] = "Bearer abc"
    elif case == "revoked":
        api_token_revoke(actor=user, token=ApiToken.objects.get(user=user))
        headers["Authorization"] = f"Bearer {key}"
    elif case == "expired":
        ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
        headers["Authorization"] = f"Bearer {key}"
    elif case == "inactive user":
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        headers["Authorization"] = f"Bearer {key}"
    before = db_state()
    for method, url, body in (("GET", "/api/members/", None), ("GET", f"/api/members/{personas.member_a.pk}", None),
                              ("PATCH", f"/api/units/{personas.upper_a.pk}", {"name": "Đổi tên"}),
                              ("POST", "/api/units/", {"parent": personas.upper_a.pk, "level": "grassroots", "code": "X1", "name": "X"})):
        response = call(method, url, body=body, **headers)
        assert response.status_code == 401, (case, method, url, response.content)
        assert response.data["code"] == "unauthorized" and response["WWW-Authenticate"] == "Bearer"
        assert not [m for m in a_markers(personas) if m in response.text]
    assert db_state() == before


def test_a_good_key_acts_as_its_user_and_is_marked_used(personas, call):
    response = call("GET", "/api/units/", "province_a_chair")
    assert response.status_code == 200
    assert {u["code"] for u in response.data["items"]} == {"PA", "PA-U", "PA-G1", "PA-G1-S", "PA-G2"}
    token = ApiToken.objects.get(user=personas.province_a_chair)
    assert token.last_used_at is not None and timezone.now() - token.last_used_at < datetime.timedelta(minutes=1)


def test_the_browser_session_works_and_writes_need_the_csrf_token(personas, call):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.province_a_chair)
    url = f"/api/units/{personas.upper_a.pk}"
    assert client.get(url).json()["code"] == "PA-U"
    before = db_state()
    response = client.patch(url, data=json.dumps({"name": "Tên mới"}), content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    assert db_state() == before
    client.get("/accounts/security/")  # a page sets the CSRF cookie, as in the browser
    token = client.cookies["csrftoken"].value
    response = client.patch(url, data=json.dumps({"name": "Tên mới"}), content_type="application/json",
                            headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.json()["name"] == "Tên mới"
    # a key needs no CSRF token (no cookie is involved), even from the same client
    assert call("PATCH", url, "province_a_chair", {"worker_count": 7}).status_code == 200


# --- scoping: every endpoint, in a loop ---------------------------------------------------------

def object_calls(p):
    """(id, method, url, body) for every endpoint that takes an object, on objects of province A."""
    calls = []
    for key in ("province_a", "upper_a", "grassroots_a", "sub_union_a", "grassroots_a2"):
        unit = p.units[key]
        calls += [(f"unit-read-{key}", "GET", f"/api/units/{unit.pk}", None),
                  (f"unit-update-{key}", "PATCH", f"/api/units/{unit.pk}", {"name": "Bị đổi tên", "worker_count": 1})]
    for key in ("member_a", "member_a2"):
        member = p.members[key]
        calls += [(f"member-read-{key}", "GET", f"/api/members/{member.pk}", None),
                  (f"member-update-{key}", "PATCH", f"/api/members/{member.pk}", {"phone": "0987654321"})]
    calls += [("units-within-a", "GET", f"/api/units/?within={p.upper_a.pk}", None),
              ("members-of-unit-a", "GET", f"/api/members/?unit={p.grassroots_a.pk}", None),
              ("members-of-unit-a-direct", "GET", f"/api/members/?unit={p.grassroots_a.pk}&direct=true", None)]
    return calls


def test_every_object_endpoint_is_404_outside_scope(personas, call):
    p = personas
    calls = object_calls(p)
    before = db_state()
    for who in ("province_b_chair", "outsider", "member_user"):
        for case, method, url, body in calls:
            response = call(method, url, who, body)
            assert response.status_code == 404, f"{who} {case}: {response.status_code}"
            assert response.data == {"code": "not_found", "field": None, "message": response.data["message"], "errors": []}
            assert not [m for m in a_markers(p) if m in response.text], f"{who} {case}"
    # an id that does not exist answers the same
    for method, url in (("GET", "/api/units/987654"), ("GET", "/api/members/987654")):
        assert call(method, url, "province_b_chair").data == call("GET", f"/api/units/{p.upper_a.pk}", "province_b_chair").data
    assert db_state() == before, "a refused call wrote something"
    # the accountant may read his unit but not change it
    assert call("GET", f"/api/members/{p.member_a.pk}", "accountant_a").status_code == 200
    for method, url, body in (("PATCH", f"/api/members/{p.member_a.pk}", {"phone": "0987654321"}),
                              ("PATCH", f"/api/units/{p.grassroots_a.pk}", {"name": "X"})):
        assert call(method, url, "accountant_a", body).status_code == 404
    # control: province A's chair is served on every one of them
    for case, method, url, body in calls:
        assert call(method, url, "province_a_chair", body).status_code == 200, case


def test_creating_into_province_a_from_outside_is_refused(personas, call):
    p = personas
    before = db_state()
    unit_body = {"parent": p.upper_a.pk, "level": "grassroots", "code": "PB-NEW", "name": "Công đoàn cơ sở Mới"}
    member_body = {"unit": p.grassroots_a.pk, "full_name": "Phạm Thị Lan", "date_of_birth": "1992-04-12", "gender": "female",
                   "citizen_id": "025192004321", "joined_on": "2015-01-01"}
    for who in ("province_b_chair", "outsider", "member_user", "accountant_a"):
        response = call("POST", "/api/units/", who, unit_body)
        assert response.status_code == 422 and (response.data["code"], response.data["field"]) == ("not_found", "parent"), who
        response = call("POST", "/api/members/", who, member_body)
        assert response.status_code == 422 and (response.data["code"], response.data["field"]) == ("not_found", "unit"), who
        assert not [m for m in a_markers(p) if m in response.text]
    assert db_state() == before
    # control
    assert call("POST", "/api/members/", "grassroots_a_chair", member_body).status_code == 201


LIST_URLS = [
    "/api/units/", "/api/units/?q=tỉnh A", "/api/units/?q=song hong", "/api/units/?q=PA-G1", "/api/units/?level=grassroots",
    "/api/units/?employer_type=fdi", "/api/units/?status=active", "/api/units/?limit=1&offset=1",
    "/api/members/", "/api/members/?q=Nguyễn Văn An", "/api/members/?q=nguyen van an", "/api/members/?q=0912345678",
    "/api/members/?q=%2B84912345678", "/api/members/?gender=male&status=active&employer_type=fdi",
    "/api/members/?age_band=30_39", "/api/members/?gender=female", "/api/members/?admitted_year=2015",
    "/api/members/?limit=1&offset=1",
]


@pytest.mark.parametrize("url", LIST_URLS)
def test_lists_and_counts_hide_province_a(url, personas, call):
    p = personas
    control = call("GET", url, "national_chair")
    assert control.status_code == 200
    roots = {"province_b_chair": [p.province_b.path], "outsider": [], "member_user": []}
    for who, scope in roots.items():
        response = call("GET", url, who)
        assert response.status_code == 200
        assert not [m for m in a_markers(p) if m in response.text], f"{who} sees A on {url}"
        items = response.data["items"]
        if "/units/" in url:
            paths = [Unit.objects.get(pk=i["id"]).path for i in items]
            expected = [u for u in Unit.objects.filter(pk__in=[i["id"] for i in call("GET", url.replace("limit=1&offset=1", "limit=200"), "national_chair").data["items"]])
                        if in_subtree(u.path, scope)]
        else:
            paths = [Unit.objects.get(pk=i["unit"]["id"]).path for i in items]
            expected = [m for m in Member.objects.filter(pk__in=[i["id"] for i in call("GET", url.replace("limit=1&offset=1", "limit=200"), "national_chair").data["items"]])
                        if in_subtree(m.unit.path, scope)]
        assert all(in_subtree(path, scope) for path in paths), f"{who} gets rows outside his scope on {url}"
        assert response.data["count"] == len(expected), f"{who}: count on {url}"


def test_counts_match_the_scope(personas, call):
    assert call("GET", "/api/members/", "province_b_chair").data["count"] == 1
    assert [m["full_name"] for m in call("GET", "/api/members/", "province_b_chair").data["items"]] == ["Lê Văn Bình"]
    assert call("GET", "/api/members/?q=nguyen", "province_b_chair").data["count"] == 0
    assert call("GET", "/api/units/", "province_b_chair").data["count"] == 3
    assert call("GET", "/api/units/", "national_chair").data["count"] == 9
    assert call("GET", "/api/members/", "province_a_chair").data["count"] == 2
    for who in ("outsider", "member_user"):
        for url in ("/api/units/", "/api/members/", "/api/units/?q=a", "/api/members/?q=an"):
            assert call("GET", url, who).data | {"limit": 0, "offset": 0} == {
                "count": 0, "items": [], "limit": 0, "offset": 0, **({"count_exact": True} if "members" in url else {})}


def test_a_parent_above_the_scope_is_not_named(personas, call):
    data = call("GET", f"/api/units/{personas.province_b.pk}", "province_b_chair").data
    assert data["parent_id"] is None  # the national federation lies above his scope
    assert call("GET", f"/api/units/{personas.upper_b.pk}", "province_b_chair").data["parent_id"] == personas.province_b.pk
    assert call("GET", f"/api/units/{personas.province_b.pk}", "national_chair").data["parent_id"] == personas.national.pk


# --- bad input: 422 with a code and a field, nothing written ------------------------------------

def member_body(p, **changes):
    body = {"unit": p.grassroots_a.pk, "full_name": "Phạm Thị Lan", "date_of_birth": "1992-04-12", "gender": "female",
            "citizen_id": "025192004321", "joined_on": "2015-01-01", "ethnicity": "Kinh"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def bad_inputs(p):
    """(id, method, url, body, expected code, expected field)."""
    future = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    member_b = Member.objects.get(pk=p.member_b.pk)
    a = p.member_a
    unit = {"parent": p.upper_a.pk, "level": "grassroots", "code": "PA-G9", "name": "Công đoàn cơ sở Mới"}
    return [
        ("cccd-short", "POST", "/api/members/", member_body(p, citizen_id="02519200432"), "citizen_id_format", "citizen_id"),
        ("cccd-letters", "POST", "/api/members/", member_body(p, citizen_id="02519200432X"), "citizen_id_format", "citizen_id"),
        ("cccd-province", "POST", "/api/members/", member_body(p, citizen_id="003192004321"), "citizen_id_province", "citizen_id"),
        ("cccd-gender", "POST", "/api/members/", member_body(p, citizen_id="025092004321"), "citizen_id_gender_century", "citizen_id"),
        ("cccd-year", "POST", "/api/members/", member_body(p, citizen_id="025193004321"), "citizen_id_birth_year", "citizen_id"),
        ("cccd-duplicate", "POST", "/api/members/", member_body(p, citizen_id=member_b.citizen_id, gender=member_b.gender,
                                                                 date_of_birth=member_b.date_of_birth.isoformat()),
         "duplicate_citizen_id", "citizen_id"),
        ("member-code-duplicate", "POST", "/api/members/", member_body(p, code=member_b.code), "duplicate_code", "code"),
        ("birth-future", "POST", "/api/members/", member_body(p, date_of_birth=future), "future_date", "date_of_birth"),
        ("joined-future", "POST", "/api/members/", member_body(p, joined_on=future), "future_date", "joined_on"),
        ("too-young", "POST", "/api/members/", member_body(p, joined_on="2001-01-01"), "too_young", "joined_on"),
        ("birth-missing", "POST", "/api/members/", member_body(p, date_of_birth=...), "required", "date_of_birth"),
        ("birth-not-a-date", "POST", "/api/members/", member_body(p, date_of_birth="12/04/1992"), "invalid", "date_of_birth"),
        ("gender-unknown", "POST", "/api/members/", member_body(p, gender="x"), "invalid", "gender"),
        ("unit-not-member-level", "POST", "/api/members/", member_body(p, unit=p.upper_a.pk), "unit_level", "unit"),
        ("unit-unknown", "POST", "/api/members/", member_body(p, unit=987654), "not_found", "unit"),
        ("member-unknown-field", "POST", "/api/members/", member_body(p, status="left"), "unknown_field", "status"),
        ("update-cccd", "PATCH", f"/api/members/{a.pk}", {"citizen_id": "12345"}, "citizen_id_format", "citizen_id"),
        ("update-birth-future", "PATCH", f"/api/members/{a.pk}", {"date_of_birth": future}, "future_date", "date_of_birth"),
        ("update-unit", "PATCH", f"/api/members/{a.pk}", {"unit": p.grassroots_a2.pk}, "unknown_field", "unit"),
        ("update-name-empty", "PATCH", f"/api/members/{a.pk}", {"full_name": "  "}, "required", "full_name"),
        ("update-name-null", "PATCH", f"/api/members/{a.pk}", {"full_name": None}, "invalid", "full_name"),
        ("unit-code-duplicate", "POST", "/api/units/", {**unit, "code": "PB-G1"}, "duplicate_code", "code"),
        ("unit-code-bad", "POST", "/api/units/", {**unit, "code": "pa g9!"}, "invalid", "code"),
        ("unit-level-not-allowed", "POST", "/api/units/", {**unit, "level": "province"}, "level_not_allowed", "level"),
        ("unit-founded-future", "POST", "/api/units/", {**unit, "founded_on": future}, "future_date", "founded_on"),
        ("unit-tax-code", "POST", "/api/units/", {**unit, "employer_tax_code": "12"}, "invalid", "employer_tax_code"),
        ("unit-workers-negative", "POST", "/api/units/", {**unit, "worker_count": -1}, "invalid", "worker_count"),
        ("unit-parent-unknown", "POST", "/api/units/", {**unit, "parent": 987654}, "not_found", "parent"),
        ("unit-update-code-duplicate", "PATCH", f"/api/units/{p.grassroots_a2.pk}", {"code": "PA-G1"}, "duplicate_code", "code"),
        ("unit-update-level", "PATCH", f"/api/units/{p.grassroots_a2.pk}", {"level": "province"}, "unknown_field", "level"),
        ("list-limit", "GET", "/api/members/?limit=0", None, "invalid", "limit"),
        ("list-gender", "GET", "/api/members/?gender=x", None, "invalid", "gender"),
        ("list-unit", "GET", "/api/units/?within=abc", None, "invalid", "within"),
    ]


def test_bad_input_is_422_with_code_and_field_and_nothing_is_written(personas, call):
    before = db_state()
    for case, method, url, body, code, field in bad_inputs(personas):
        response = call(method, url, "province_a_chair", body)
        assert response.status_code == 422, f"{case}: {response.status_code} {response.content[:300]}"
        assert (response.data["code"], response.data["field"]) == (code, field), f"{case}: {response.data}"
        assert response.data["message"], case
        assert db_state() == before, f"{case} wrote something"


def test_a_broken_json_body_is_422(personas, call):
    response = call.client.post("/api/units/", data="{not json", content_type="application/json",
                                headers={"Authorization": f"Bearer {call.keys['province_a_chair']}"})
    assert response.status_code in (400, 422)


def test_messages_follow_accept_language_vietnamese_by_default(personas, call):
    body = member_body(personas, citizen_id="0251920043")
    vi = call("POST", "/api/members/", "province_a_chair", body)
    en = call("POST", "/api/members/", "province_a_chair", body, **{"Accept-Language": "en"})
    assert vi["Content-Language"] == "vi" and en["Content-Language"] == "en"
    for response, lang in ((vi, "vi"), (en, "en")):
        with translation.override(lang):
            try:
                check_citizen_id("0251920043")
            except Exception as exc:  # the same message the service raises, in that language
                expected = str(exc)
        assert response.data["message"] == expected
    assert en.data["message"].startswith("A citizen ID has exactly 12 digits")
    with translation.override("vi"):
        from django.utils.translation import gettext
        assert call("GET", "/api/members/").data["message"] == gettext(
            "Send a valid API key in the header “Authorization: Bearer <key>”, or log in.")


# --- writes that succeed ------------------------------------------------------------------------

def test_create_and_update_a_unit(personas, call):
    p = personas
    response = call("POST", "/api/units/", "province_a_chair", {
        "parent": p.upper_a.pk, "level": "grassroots", "code": "pa-g9", "name": "  Công đoàn cơ sở  Công ty Hòa Bình ",
        "employer_type": "fdi", "worker_count": 120, "founded_on": "2020-05-01"})
    assert response.status_code == 201, response.content
    data = response.data
    assert (data["code"], data["name"], data["parent_id"], data["level"]) == ("PA-G9", "Công đoàn cơ sở Công ty Hòa Bình", p.upper_a.pk, "grassroots")
    assert data["founded_on"] == "2020-05-01" and data["employer_type"] == "fdi"
    unit = Unit.objects.get(pk=data["id"])
    assert unit.path.startswith(p.upper_a.path) and AuditEntry.objects.filter(action="unit.created", object_id=str(unit.pk)).exists()
    response = call("PATCH", f"/api/units/{unit.pk}", "province_a_chair", {"worker_count": 150, "employer_name": None})
    assert response.status_code == 200 and response.data["worker_count"] == 150 and response.data["name"] == data["name"]
    entry = AuditEntry.objects.get(action="unit.updated", object_id=str(unit.pk))
    assert entry.changes == {"worker_count": [120, 150]} and entry.actor == p.province_a_chair
    assert call("GET", f"/api/units/?q=hoa binh&within={p.upper_a.pk}", "province_a_chair").data["count"] == 1


def test_admit_and_update_a_member(personas, call):
    p = personas
    response = call("POST", "/api/members/", "grassroots_a_chair", member_body(p, phone="0903111222"))
    assert response.status_code == 201, response.content
    data = response.data
    member = Member.objects.get(pk=data["id"])
    assert data["code"].startswith("DV") and data["unit"] == {"id": p.grassroots_a.pk, "code": "PA-G1", "name": p.grassroots_a.name}
    assert data["date_of_birth"] == "1992-04-12" and data["status"] == "active"
    assert data["sensitive"] is False and data["citizen_id"] is None  # write answers do not echo it
    assert member.citizen_id == "025192004321" and member.events.get().kind == "admission"
    response = call("PATCH", f"/api/members/{member.pk}", "grassroots_a_chair", {"phone": "0903999888", "religion": "Phật giáo"})
    assert response.status_code == 200 and response.data["phone"] == "0903999888"
    entry = AuditEntry.objects.get(action="member.updated", object_id=str(member.pk))
    assert entry.changes == {"phone": ["0903111222", "0903999888"], "religion": ["•••", "•••"]}
    assert call("GET", "/api/members/?q=pham thi lan", "grassroots_a_chair").data["items"][0]["id"] == member.pk


# --- sensitive fields ----------------------------------------------------------------------------

def test_sensitive_fields_only_for_roles_that_may_see_them_and_audited(personas, call):
    p = personas
    member = Member.objects.get(pk=p.member_a.pk)
    Member.objects.filter(pk=member.pk).update(ethnicity="Tày", religion="Phật giáo")
    viewed = AuditEntry.objects.filter(action="member.viewed", object_id=str(member.pk))

    data = call("GET", f"/api/members/{member.pk}", "accountant_a").data
    assert data["sensitive"] is False and (data["citizen_id"], data["ethnicity"], data["religion"]) == (None, None, None)
    assert data["full_name"] == "Nguyễn Văn An" and viewed.count() == 0  # nothing sensitive read: nothing to log

    data = call("GET", f"/api/members/{member.pk}", "grassroots_a_chair").data
    assert data["sensitive"] is True and (data["citizen_id"], data["ethnicity"], data["religion"]) == (member.citizen_id, "Tày", "Phật giáo")
    entry = viewed.get()
    assert entry.actor == p.grassroots_a_chair and entry.unit_path == p.grassroots_a.path and entry.request_id
    assert member.citizen_id not in json.dumps(entry.changes)

    # lists never carry them, whoever asks
    for who in ("grassroots_a_chair", "accountant_a"):
        text = call("GET", f"/api/members/?q={member.citizen_id}", who).text
        assert member.citizen_id not in text and "Tày" not in text and "Nguyễn Văn An" in text


def test_a_role_without_sensitive_rights_cannot_change_them(personas, call, monkeypatch):
    from congdoan.accounts import choices

    # a role that may change records but not see citizen IDs (none of today's roles is so)
    monkeypatch.setitem(choices.ROLE_ACTIONS, "accountant", frozenset({"view", "change"}))
    before = db_state()
    response = call("PATCH", f"/api/members/{personas.member_a.pk}", "accountant_a", {"citizen_id": "025088001234"})
    assert response.status_code == 422 and (response.data["code"], response.data["field"]) == ("not_allowed", "citizen_id")
    assert db_state() == before
    assert call("PATCH", f"/api/members/{personas.member_a.pk}", "accountant_a", {"phone": "0903000111"}).status_code == 200


# --- pagination and query counts ----------------------------------------------------------------

def add_members(unit, n, actor):
    for i in range(n):
        make_member(unit, gender="male" if i % 2 else "female", actor=actor)


def test_limit_and_offset_walk_the_whole_list(personas, call):
    add_members(personas.grassroots_b, 11, personas.province_b_chair)
    everything = call("GET", "/api/members/?limit=200", "province_b_chair").data
    ids = [m["id"] for m in everything["items"]]
    assert everything["count"] == 12 == len(ids)
    for limit, offset in ((5, 0), (5, 5), (5, 10), (4, 3), (5, 7), (3, 11), (5, 12), (5, 40)):
        data = call("GET", f"/api/members/?limit={limit}&offset={offset}", "province_b_chair").data
        assert [m["id"] for m in data["items"]] == ids[offset:offset + limit], (limit, offset)
        assert data["count"] == 12 and (data["limit"], data["offset"]) == (limit, offset)
    units = [u["id"] for u in call("GET", "/api/units/", "national_chair").data["items"]]
    assert [u["id"] for u in call("GET", "/api/units/?limit=4&offset=3", "national_chair").data["items"]] == units[3:7]


def count_queries(call, url, who):
    call("GET", url, who)  # the key's "last used" is written at most once a minute: warm it
    with CaptureQueriesContext(connection) as ctx:
        response = call("GET", url, who)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.data


@pytest.mark.parametrize("url", ["/api/members/", "/api/members/?q=a", "/api/members/?gender=male&age_band=40_49",
                                 "/api/units/", "/api/units/?level=grassroots"])
def test_query_count_does_not_grow_with_rows(url, personas, call):
    p = personas
    forty_five = timezone.localdate() - datetime.timedelta(days=int(45.5 * 365.25))  # in the band 40-49 whatever the day
    Member.objects.filter(pk=p.member_b.pk).update(date_of_birth=forty_five)
    unit_param = f"{'&' if '?' in url else '?'}{'unit' if 'members' in url else 'within'}={p.grassroots_b.pk}"
    one, data = count_queries(call, url + unit_param, "province_b_chair")
    assert data["count"] == 1 and len(data["items"]) == 1
    add_members(p.grassroots_b, 49, p.province_b_chair)
    for i in range(49):
        Unit.objects.create(parent=p.grassroots_b, level="sub_union", code=f"PB-S{i}", name=f"Công đoàn bộ phận {i}",
                            name_normalized=f"cong doan bo phan {i}", path=f"{p.grassroots_b.path}{i:04d}", depth=5)
    if "gender" in url:
        Member.objects.filter(unit=p.grassroots_b).update(gender="male", date_of_birth=forty_five)
    if "q=a" in url:
        Member.objects.filter(unit=p.grassroots_b).update(full_name="Lê Văn An", name_normalized="le van an")
    if "level" in url:
        Unit.objects.filter(code__startswith="PB-S").update(level="grassroots")
    fifty, data = count_queries(call, url + unit_param, "province_b_chair")
    assert len(data["items"]) == 50, data["count"]
    assert fifty == one, f"{url}: {one} queries for 1 row, {fifty} for 50"
    assert one == 5  # the key with its user, the caller's grants, the subtree's unit, the count, the rows


# --- the schema ---------------------------------------------------------------------------------

def test_the_schema_lists_every_operation_with_its_errors(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    operations = {(method.upper(), path): op for path, ops in schema["paths"].items() for method, op in ops.items()}
    assert set(operations) >= {
        ("GET", "/api/units/"), ("POST", "/api/units/"), ("GET", "/api/units/{unit_id}"), ("PATCH", "/api/units/{unit_id}"),
        ("GET", "/api/members/"), ("POST", "/api/members/"), ("GET", "/api/members/{member_id}"), ("PATCH", "/api/members/{member_id}"),
    }
    # every routed operation of the API object is in the schema (a new router cannot slip out)
    routed = {(m, re.sub(r"\{\w+:", "{", f"/api/{prefix.strip('/')}{path}")) for prefix, router in ninja_api._routers
              for path, view in router.path_operations.items() for op in view.operations for m in op.methods}
    assert routed == set(operations)
    for key, op in operations.items():
        assert {"401", "404", "422"} <= set(op["responses"]), key
        for code in ("401", "404", "422"):
            assert op["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut"), key
        assert {next(iter(s)) for s in op["security"]} == {"ApiKeyAuth", "BrowserSessionAuth"}, key
    error = schema["components"]["schemas"]["ErrorOut"]
    assert {"code", "field", "message"} <= set(error["properties"])
    params = {p["name"] for p in operations[("GET", "/api/members/")]["parameters"]}
    assert {"q", "unit", "gender", "age_band", "status", "employer_type", "limit", "offset"} <= params
    assert client.get("/api/docs").status_code == 200


# --- the key page -------------------------------------------------------------------------------

def test_the_key_page_makes_shows_once_and_revokes(personas, client):
    user = personas.province_a_chair
    client.force_login(user)
    assert client.get("/accounts/security/").content.decode().count("/accounts/tokens/") == 1
    response = client.post("/accounts/tokens/", {"action": "create", "name": "Đồng bộ nhân sự", "lifetime": "30"})
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    key = response.context["new_key"]
    assert key in response.content.decode()
    token = ApiToken.objects.get(user=user)
    assert token.name == "Đồng bộ nhân sự" and 29 <= (token.expires_at - timezone.now()).days <= 30
    assert key not in client.get("/accounts/tokens/").content.decode()  # shown once
    api_client = Client()
    assert api_client.get("/api/units/", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    # another user cannot revoke it (404), the owner can
    client.force_login(personas.province_b_chair)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert client.get(f"/accounts/tokens/{token.pk}/revoke/").status_code == 405
    assert "Đồng bộ nhân sự" not in client.get("/accounts/tokens/").content.decode()
    client.force_login(user)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/")["Location"] == "/accounts/tokens/"
    assert api_client.get("/api/units/", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert list(AuditEntry.objects.filter(object_type="accounts.apitoken").order_by("id").values_list("action", "actor")) == [
        ("api_token.created", user.pk), ("api_token.revoked", user.pk)]


def test_the_key_page_refuses_a_nameless_key_and_ignores_other_posts(personas, client):
    client.force_login(personas.outsider)
    response = client.post("/accounts/tokens/", {"action": "create", "name": "  "})
    assert response.status_code == 200 and not ApiToken.objects.exists() and response.context["new_key"] is None
    client.post("/accounts/tokens/", {"name": "no action"})
    assert not ApiToken.objects.exists()
    # a user with no role still gets a key; it opens nothing
    client.post("/accounts/tokens/", {"action": "create", "name": "test", "lifetime": ""})
    token = ApiToken.objects.get()
    assert token.expires_at is None
    assert AuditEntry.objects.get(action="api_token.created").unit_path == ""
