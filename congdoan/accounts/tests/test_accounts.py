"""Accounts: Argon2, brute-force lockout, TOTP, the member's own pages and card, role grants,
and the Vietnamese-first interface. Logins go through the real login page."""

import re
import time

import pytest

from congdoan.core.testing import use_english
from django.conf import settings
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

import congdoan.settings as real_settings
from congdoan.accounts.models import RoleAssignment, User
from congdoan.accounts.services import role_grant
from congdoan.audit.models import AuditEntry
from congdoan.core import scoping
from congdoan.core.errors import NotFoundInScope
from congdoan.core.qr import qr_svg
from congdoan.core.testing import PASSWORD, make_user
from congdoan.members.models import Member

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture
def en(client):
    """Messages are asserted in English, the msgid language, so translations cannot break the tests."""
    use_english(client)
    return client


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def token_for(device, steps_ahead=0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


# --- passwords and lockout -------------------------------------------------------------------

def test_production_settings_hash_with_argon2():
    # the test conftest swaps in MD5 for speed; the real settings module keeps Argon2 first
    assert real_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_login_with_an_argon2_password(db, en, settings):
    settings.PASSWORD_HASHERS = real_settings.PASSWORD_HASHERS
    user = User.objects.create_user(username="chu_tich", password=PASSWORD)
    assert user.password.startswith("argon2$")
    response = en.post(LOGIN, {"username": "chu_tich", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert en.session["_auth_user_id"] == str(user.pk)


def test_wrong_password_is_refused(personas, en):
    response = en.post(LOGIN, {"username": "province_a_chair", "password": "sai-mat-khau"})
    assert response.status_code == 200 and not logged_in(en)
    assert "Please enter a correct username and password." in response.content.decode()


def test_lockout_after_the_failure_limit_even_with_the_right_password(personas, en):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == real_settings.AXES_FAILURE_LIMIT
    for attempt in range(limit):
        response = en.post(LOGIN, {"username": "province_a_chair", "password": f"sai-{attempt}"})
    assert response.status_code == 429
    response = en.post(LOGIN, {"username": "province_a_chair", "password": PASSWORD})
    assert response.status_code == 429 and not logged_in(en)
    assert "Too many failed attempts" in response.content.decode()
    # the lock is on this username from this address: another official still logs in
    assert en.post(LOGIN, {"username": "province_b_chair", "password": PASSWORD}).status_code == 302


def test_failures_below_the_limit_do_not_lock(personas, en):
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        en.post(LOGIN, {"username": "province_a_chair", "password": f"sai-{attempt}"})
    assert en.post(LOGIN, {"username": "province_a_chair", "password": PASSWORD}).status_code == 302
    assert logged_in(en)


# --- two-step login --------------------------------------------------------------------------

@pytest.fixture
def totp_user(personas, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code would otherwise delay the next try by seconds
    return personas.province_a_chair, TOTPDevice.objects.create(user=personas.province_a_chair, name="totp", confirmed=True)


def test_totp_user_needs_a_valid_code(totp_user, en):
    user, device = totp_user
    response = en.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200 and not logged_in(en)
    assert "Enter the 6-digit code from your authenticator app." in response.content.decode()

    valid = {token_for(device, s) for s in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in valid)
    response = en.post(LOGIN, {"username": user.username, "password": PASSWORD, "otp_token": wrong})
    assert response.status_code == 200 and not logged_in(en)
    assert "The authenticator code is wrong or expired." in response.content.decode()

    response = en.post(LOGIN, {"username": user.username, "password": PASSWORD, "otp_token": token_for(device)})
    assert response.status_code == 302 and logged_in(en)
    assert en.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert en.get("/").wsgi_request.user.is_verified()


def test_totp_code_cannot_be_replayed(totp_user, en):
    user, device = totp_user
    code = token_for(device)
    assert en.post(LOGIN, {"username": user.username, "password": PASSWORD, "otp_token": code}).status_code == 302
    en.logout()
    assert en.post(LOGIN, {"username": user.username, "password": PASSWORD, "otp_token": code}).status_code == 200
    assert not logged_in(en)


def test_security_page_turns_two_step_login_on_and_off(personas, en, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = personas.grassroots_a_chair
    en.force_login(user)
    assert 'value="start"' in en.get("/accounts/security/").content.decode()

    assert en.post("/accounts/security/", {"action": "start"}).status_code == 302
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    html = en.get("/accounts/security/").content.decode()
    assert "<svg" in html and 'value="confirm"' in html

    response = en.post("/accounts/security/", {"action": "confirm", "token": "12345x"})
    assert response.status_code == 200 and "The code is wrong or expired. Try the newest one." in response.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed

    response = en.post("/accounts/security/", {"action": "confirm", "token": token_for(device)}, follow=True)
    assert "Two-step login is on." in response.content.decode() and 'value="disable"' in response.content.decode()
    assert TOTPDevice.objects.get(pk=device.pk).confirmed

    en.logout()
    assert en.post(LOGIN, {"username": user.username, "password": PASSWORD}).status_code == 200 and not logged_in(en)
    device.refresh_from_db()
    assert en.post(LOGIN, {"username": user.username, "password": PASSWORD, "otp_token": token_for(device, 1)}).status_code == 302

    response = en.post("/accounts/security/", {"action": "disable"}, follow=True)
    assert "Two-step login is off." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()


# --- the member's own pages and card ---------------------------------------------------------

def test_member_logs_in_and_sees_own_record_and_card(personas, client):
    use_english(client)
    member = Member.objects.get(pk=personas.member_a.pk)
    response = client.post(LOGIN, {"username": "member_user", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/members/me/"
    html = response.content.decode()
    assert member.full_name in html and member.code in html and member.citizen_id in html

    response = client.get("/members/me/card/")
    assert response.status_code == 200
    html = response.content.decode()
    verify_url = response.context["verify_url"]
    assert verify_url.startswith("http://testserver/members/card/")
    assert "<svg" in html and qr_svg(verify_url) in html  # the QR encodes exactly the verify URL

    client.logout()  # the check page is public: anyone who scans the card opens it
    response = client.get(verify_url.removeprefix("http://testserver"), headers={"accept-language": "en"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Valid member card" in html and member.full_name in html and member.code in html
    assert member.citizen_id not in html and member.phone not in html


def test_tampered_or_foreign_card_token_is_invalid(personas, client):
    use_english(client)
    client.force_login(personas.member_user)
    path = client.get("/members/me/card/").context["verify_url"].removeprefix("http://testserver")
    token = path.rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    foreign = signing.dumps({"c": personas.member_a.code}, compress=True)  # signed, but not for cards
    client.logout()
    for bad in (tampered, foreign, "khong-hop-le"):
        response = client.get(f"/members/card/{bad}/", headers={"accept-language": "en"})
        assert response.status_code == 404
        assert "This card could not be verified" in response.content.decode()
        assert personas.member_a.full_name not in response.content.decode()


def test_card_of_a_member_who_left_says_so(personas, client):
    use_english(client)
    client.force_login(personas.member_user)
    path = client.get("/members/me/card/").context["verify_url"].removeprefix("http://testserver")
    Member.objects.filter(pk=personas.member_a.pk).update(status="left")
    html = client.get(path, headers={"accept-language": "en"}).content.decode()
    assert "This member is no longer active" in html and "Valid member card" not in html


def test_officials_without_membership_have_no_own_pages(personas, client):
    client.force_login(personas.province_a_chair)
    assert client.get("/members/me/").status_code == 404
    assert client.get("/members/me/card/").status_code == 404


# --- role grants -----------------------------------------------------------------------------

def grant(client, username, unit, role="committee_member"):
    return client.post("/accounts/roles/", {"username": username, "unit": unit.pk, "role": role})


def test_chair_grants_a_role_in_his_subtree(personas, en):
    en.force_login(personas.grassroots_a_chair)
    response = grant(en, "outsider", personas.sub_union_a)
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(user=personas.outsider)
    assert (assignment.unit, assignment.role, assignment.granted_by) == (personas.sub_union_a, "committee_member", personas.grassroots_a_chair)
    assert AuditEntry.objects.filter(action="role.granted", object_id=str(assignment.pk), unit_path=personas.sub_union_a.path).exists()
    en.force_login(personas.outsider)
    assert en.get(f"/units/{personas.sub_union_a.pk}/").status_code == 200


@pytest.mark.parametrize("granter,unit", [
    ("province_b_chair", "grassroots_a"),   # another province
    ("grassroots_a_chair", "upper_a"),      # above his own unit
    ("grassroots_a_chair", "grassroots_a2"),  # a sibling
    ("accountant_a", "grassroots_a"),       # his own unit, but no right to manage roles
])
def test_grant_outside_the_granters_rights_is_refused(personas, en, granter, unit):
    en.force_login(personas.users[granter])
    before = RoleAssignment.objects.count(), AuditEntry.objects.count()
    response = grant(en, "outsider", personas.units[unit], role="chair")
    assert response.status_code == 200
    assert "Select a valid choice" in response.context["form"].errors["unit"][0]
    if not scoping.can(personas.users[granter], "view", personas.units[unit].path):
        assert personas.units[unit].name not in response.content.decode()
    assert (RoleAssignment.objects.count(), AuditEntry.objects.count()) == before


def test_committee_member_and_accountant_are_offered_no_grant_form(personas, en):
    committee = make_user("committee_a", unit=personas.grassroots_a, role="committee_member")
    for user in (committee, personas.accountant_a):
        en.force_login(user)
        response = en.get("/accounts/roles/")
        assert response.status_code == 200 and not response.context["can_manage"]
        assert 'name="username"' not in response.content.decode()
        before = RoleAssignment.objects.count()
        assert grant(en, "outsider", personas.grassroots_a).status_code == 200
        assert RoleAssignment.objects.count() == before


def test_role_grant_service_refuses_outside_scope(personas):
    with pytest.raises(NotFoundInScope):
        role_grant(actor=personas.province_b_chair, user=personas.outsider, unit=personas.grassroots_a, role="chair")
    with pytest.raises(NotFoundInScope):
        role_grant(actor=personas.accountant_a, user=personas.outsider, unit=personas.grassroots_a, role="chair")
    assert not RoleAssignment.objects.filter(user=personas.outsider).exists()


def test_grant_errors_are_clear(personas, en):
    en.force_login(personas.grassroots_a_chair)
    response = grant(en, "nobody", personas.grassroots_a)
    assert "No account has the username “nobody”." in response.context["form"].errors["username"]
    response = grant(en, "accountant_a", personas.grassroots_a, role="accountant")
    assert response.status_code == 200
    assert "Accountant A already holds this role on this unit." in response.content.decode()


@pytest.mark.parametrize("revoker", ["province_b_chair", "accountant_a", "grassroots_a_chair"])
def test_revoke_outside_the_revokers_rights_is_404(personas, client, revoker):
    target = RoleAssignment.objects.get(user=personas.province_a_chair)  # on the province: above grassroots A
    client.force_login(personas.users[revoker])
    assert client.post(f"/accounts/roles/{target.pk}/revoke/").status_code == 404
    assert RoleAssignment.objects.get(pk=target.pk).revoked_at is None


def test_revoke_in_scope_takes_the_access_away(personas, client):
    target = RoleAssignment.objects.get(user=personas.accountant_a)
    client.force_login(personas.grassroots_a_chair)
    assert client.post(f"/accounts/roles/{target.pk}/revoke/").status_code == 302
    client.force_login(personas.accountant_a)
    assert client.get(f"/members/{personas.member_a.pk}/").status_code == 404


def test_role_list_queries_do_not_grow(personas, client):
    client.force_login(personas.province_b_chair)
    client.get("/accounts/roles/")
    with CaptureQueriesContext(connection) as one:
        response = client.get("/accounts/roles/")
    assert response.context["page"].paginator.count == 1
    users = User.objects.bulk_create([User(username=f"can_bo_{i}", full_name=f"Cán bộ {i}", password="!") for i in range(49)])
    RoleAssignment.objects.bulk_create([RoleAssignment(user=u, unit=personas.grassroots_b, role="staff", granted_by=personas.province_b_chair)
                                        for u in users])
    with CaptureQueriesContext(connection) as many:
        response = client.get("/accounts/roles/")
    assert response.context["page"].paginator.count == 50
    assert len(many.captured_queries) == len(one.captured_queries)


# --- Vietnamese first ------------------------------------------------------------------------

def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def test_vietnamese_by_default_english_on_request(db, client):
    """Pages are Vietnamese whatever the browser asks for; English is the user's explicit choice."""
    assert html_lang(client.get(LOGIN)) == "vi"
    assert html_lang(client.get(LOGIN, headers={"accept-language": "fr"})) == "vi"
    assert html_lang(client.get(LOGIN, headers={"accept-language": "en-US,en;q=0.9"})) == "vi"
    client.post("/i18n/setlang/", {"language": "en", "next": LOGIN})
    english = client.get(LOGIN)
    assert html_lang(english) == "en" and english["Content-Language"] == "en"


def test_language_switch_is_remembered(db, client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": LOGIN})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert html_lang(client.get(LOGIN)) == "en"
    client.post("/i18n/setlang/", {"language": "vi", "next": LOGIN})
    assert html_lang(client.get(LOGIN, headers={"accept-language": "en"})) == "vi"  # the choice beats the browser
