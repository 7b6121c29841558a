"""Test personas: a small tree and named officials, shared by every app's tests.

    TLD (national)                      national_chair
    ├── PA  province A                  province_a_chair
    │   └── PA-U  upper-grassroots
    │       ├── PA-G1 grassroots        grassroots_a_chair, accountant_a, member_user (member)
    │       │   └── PA-G1-S sub-union
    │       └── PA-G2 grassroots
    └── PB  province B                  province_b_chair
        └── PB-U upper-grassroots
            └── PB-G1 grassroots
    outsider: a login with no role
"""

import datetime
import random
from dataclasses import dataclass, field

from congdoan.accounts.models import RoleAssignment, User
from congdoan.core import demo_data
from congdoan.members.models import Member
from congdoan.members.services import member_admit
from congdoan.organizations.models import Unit
from congdoan.organizations.services import unit_create

PASSWORD = "Mat-khau-2026"


@dataclass
class Personas:
    units: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)

    def __getattr__(self, name):
        for bag in ("units", "users", "members"):
            values = self.__dict__.get(bag, {})
            if name in values:
                return values[name]
        raise AttributeError(name)


def make_user(username, *, unit=None, role=None) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, full_name=username.replace("_", " ").title())
    if unit is not None:
        RoleAssignment.objects.create(user=user, unit=unit, role=role)
    return user


_serial = iter(range(10**6))


def make_member(unit: Unit, *, full_name=None, gender="female", dob=datetime.date(1990, 5, 17), actor=None, **extra) -> Member:
    rng = random.Random(next(_serial))
    serial = next(_serial)
    return member_admit(
        actor=actor, unit=unit, full_name=full_name or demo_data.person_name(rng, gender), gender=gender,
        date_of_birth=dob, citizen_id=demo_data.citizen_id(rng, gender, dob, serial, "025"),
        joined_on=extra.pop("joined_on", datetime.date(2015, 3, 1)), **extra,
    )


def build_personas() -> Personas:
    p = Personas()
    u = p.units
    u["national"] = unit_create(actor=None, parent=None, level="national", code="TLD", name="Tổng Liên đoàn Lao động Việt Nam")
    u["province_a"] = unit_create(actor=None, parent=u["national"], level="province", code="PA", name="Liên đoàn Lao động tỉnh A")
    u["upper_a"] = unit_create(actor=None, parent=u["province_a"], level="upper_grassroots", code="PA-U", name="Liên đoàn Lao động huyện A")
    u["grassroots_a"] = unit_create(actor=None, parent=u["upper_a"], level="grassroots", code="PA-G1", name="Công đoàn cơ sở Công ty May Sông Hồng",
                                    employer_type="fdi", employer_name="Công ty May Sông Hồng", employer_tax_code="2600123456")
    u["sub_union_a"] = unit_create(actor=None, parent=u["grassroots_a"], level="sub_union", code="PA-G1-S", name="Công đoàn bộ phận Xưởng 1")
    u["grassroots_a2"] = unit_create(actor=None, parent=u["upper_a"], level="grassroots", code="PA-G2", name="Công đoàn cơ sở Trường THCS Gia Cẩm",
                                     employer_type="public_service")
    u["province_b"] = unit_create(actor=None, parent=u["national"], level="province", code="PB", name="Liên đoàn Lao động tỉnh B")
    u["upper_b"] = unit_create(actor=None, parent=u["province_b"], level="upper_grassroots", code="PB-U", name="Công đoàn Khu công nghiệp B")
    u["grassroots_b"] = unit_create(actor=None, parent=u["upper_b"], level="grassroots", code="PB-G1", name="Công đoàn cơ sở Công ty Điện tử Bình An",
                                    employer_type="domestic_private")
    us = p.users
    us["national_chair"] = make_user("national_chair", unit=u["national"], role="chair")
    us["province_a_chair"] = make_user("province_a_chair", unit=u["province_a"], role="chair")
    us["province_b_chair"] = make_user("province_b_chair", unit=u["province_b"], role="chair")
    us["grassroots_a_chair"] = make_user("grassroots_a_chair", unit=u["grassroots_a"], role="chair")
    us["accountant_a"] = make_user("accountant_a", unit=u["grassroots_a"], role="accountant")
    us["outsider"] = make_user("outsider")
    m = p.members
    m["member_a"] = make_member(u["grassroots_a"], full_name="Nguyễn Văn An", gender="male", dob=datetime.date(1988, 2, 3), phone="0912345678")
    m["member_a2"] = make_member(u["grassroots_a2"], full_name="Trần Thị Bích", gender="female", dob=datetime.date(1995, 7, 9))
    m["member_b"] = make_member(u["grassroots_b"], full_name="Lê Văn Bình", gender="male", dob=datetime.date(1979, 11, 30))
    us["member_user"] = make_user("member_user")
    Member.objects.filter(pk=m["member_a"].pk).update(user=us["member_user"])
    m["member_a"].refresh_from_db()
    return p


def use_english(client):
    """Make a test client read the pages in English (the msgid language), as the header's language
    switcher does: through the language cookie, which pages honour (they ignore Accept-Language).
    The test client's logout() drops every cookie, so the cookie is set again after it."""
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    logout = client.logout

    def logout_keeping_language():
        logout()
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    client.logout = logout_keeping_language
    return client
