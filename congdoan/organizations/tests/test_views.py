"""Unit pages: bad input gives a clear message and writes nothing; out-of-scope targets are
refused; query counts do not grow with rows."""

import datetime

import pytest

from congdoan.core.testing import use_english
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from congdoan.audit.models import AuditEntry
from congdoan.core import paths as tree
from congdoan.core.text import normalize_search
from congdoan.members.models import Member
from congdoan.organizations.models import Unit

pytestmark = pytest.mark.django_db

TOMORROW = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


@pytest.fixture
def en(client):
    """Messages are asserted in English, the msgid language, so translations cannot break the tests."""
    use_english(client)
    return client


def state():
    """What a refused unit change must leave as it was."""
    return (list(Unit.objects.order_by("pk").values_list("pk", "code", "name", "path", "parent_id", "status", "closed_on")),
            list(Member.objects.order_by("pk").values_list("pk", "unit_id", "status")), AuditEntry.objects.count())


def unit_data(**changes):
    data = {"level": "grassroots", "code": "PA-G3", "name": "Công đoàn cơ sở Công ty Gỗ Minh Phát", "kind": "general",
            "employer_type": "domestic_private", "employer_name": "Công ty Gỗ Minh Phát", "employer_tax_code": "2600987654",
            "worker_count": "120", "address": "Khu 3", "province": "Phú Thọ", "founded_on": "2010-05-01"}
    data.update(changes)
    return data


def bulk_units(parent, n, *, level="grassroots", first=100):
    """``n`` children of ``parent``, straight into the table with valid paths."""
    units = [Unit(parent=parent, level=level, code=f"{parent.code}-X{i:03d}", name=f"Công đoàn cơ sở Công ty Số {i}",
                  name_normalized=normalize_search(f"Công đoàn cơ sở Công ty Số {i}"),
                  path=parent.path + tree.encode_segment(first + i), depth=parent.depth + 1, employer_type="fdi")
             for i in range(n)]
    return Unit.objects.bulk_create(units)


def test_create_unit_through_the_page(personas, en):
    """Control for the bad-input cases: the unchanged body creates the unit."""
    en.force_login(personas.province_a_chair)
    response = en.post(f"/units/{personas.upper_a.pk}/new/", unit_data())
    unit = Unit.objects.get(code="PA-G3")
    assert response.status_code == 302 and response["Location"] == f"/units/{unit.pk}/"
    assert unit.parent == personas.upper_a and unit.path.startswith(personas.upper_a.path)


@pytest.mark.parametrize("changes,field,message", [
    ({"code": "PA-G2"}, "code", "Unit with this Code already exists."),
    ({"code": "pa-g2"}, "code", "Unit with this Code already exists."),
    ({"code": "PB-G1"}, "code", "Unit with this Code already exists."),
    ({"code": "PA G3"}, "code", "Use capital letters, digits, dot, dash or underscore."),
    ({"employer_tax_code": "12345"}, "employer_tax_code", "A tax code has 10 digits, or 10 digits, a dash and 3 digits."),
    ({"founded_on": TOMORROW}, "founded_on", "The founding date cannot be in the future."),
    ({"level": "province"}, "level", "Select a valid choice. province is not one of the available choices."),
    ({"name": ""}, "name", "This field is required."),
], ids=["duplicate-code", "duplicate-code-lowercase", "duplicate-code-other-province", "code-format", "tax-code",
        "founded-future", "level-not-allowed", "no-name"])
def test_create_unit_bad_input(personas, en, changes, field, message):
    en.force_login(personas.province_a_chair)
    before = state()
    response = en.post(f"/units/{personas.upper_a.pk}/new/", unit_data(**changes))
    assert response.status_code == 200
    assert message in response.context["form"].errors[field]
    assert message in response.content.decode() and 'name="code"' in response.content.decode()
    assert state() == before


def test_edit_unit_to_an_existing_code(personas, en):
    en.force_login(personas.grassroots_a_chair)
    before = state()
    response = en.post(f"/units/{personas.grassroots_a.pk}/edit/", unit_data(code="PA-G2", name=personas.grassroots_a.name))
    assert response.status_code == 200
    assert "Unit with this Code already exists." in response.context["form"].errors["code"]
    assert state() == before


def test_dissolve_a_unit_with_active_sub_units(personas, en):
    en.force_login(personas.province_a_chair)
    before = state()
    response = en.post(f"/units/{personas.upper_a.pk}/dissolve/", {"on_date": timezone.localdate().isoformat(), "reason": "Sáp nhập"})
    assert response.status_code == 200
    assert "Move, merge or dissolve its sub-units first." in response.content.decode()
    assert state() == before


def test_dissolve_through_the_page(personas, en):
    """Control: a unit without sub-units dissolves and its members leave."""
    en.force_login(personas.province_a_chair)
    response = en.post(f"/units/{personas.grassroots_a2.pk}/dissolve/", {"on_date": timezone.localdate().isoformat(), "reason": "Giải thể"})
    assert response.status_code == 302
    assert Unit.objects.get(pk=personas.grassroots_a2.pk).status == "dissolved"
    assert Member.objects.get(pk=personas.member_a2.pk).status == "left"


def test_dissolve_in_the_future_is_refused(personas, en):
    en.force_login(personas.province_a_chair)
    before = state()
    response = en.post(f"/units/{personas.grassroots_a2.pk}/dissolve/", {"on_date": TOMORROW, "reason": "Giải thể"})
    assert response.status_code == 200
    assert "The date cannot be in the future." in response.content.decode()
    assert state() == before


@pytest.mark.parametrize("action", ["move", "merge"])
def test_move_or_merge_into_another_province_is_refused(personas, en, action):
    en.force_login(personas.province_b_chair)
    before = state()
    target = personas.upper_a if action == "move" else personas.grassroots_a
    response = en.post(f"/units/{personas.grassroots_b.pk}/{action}/", {"target": target.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.context["form"].errors["target"][0]
    assert state() == before


def test_dissolved_unit_offers_no_actions_and_cannot_get_children(personas, en):
    en.force_login(personas.province_a_chair)
    en.post(f"/units/{personas.grassroots_a2.pk}/dissolve/", {"on_date": timezone.localdate().isoformat()})
    before = state()
    response = en.post(f"/units/{personas.grassroots_a2.pk}/new/", unit_data(level="sub_union", code="PA-G2-S"))
    assert response.status_code == 200
    assert f"The parent unit {Unit.objects.get(pk=personas.grassroots_a2.pk)} is no longer active." in response.content.decode()
    assert state() == before


# --- query counts ----------------------------------------------------------------------------

def queries(client, url):
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_unit_list_queries_do_not_grow(personas, client):
    client.force_login(personas.province_b_chair)
    one, response = queries(client, "/units/?level=grassroots")
    assert response.context["page"].paginator.count == 1
    bulk_units(personas.upper_b, 49)
    many, response = queries(client, "/units/?level=grassroots")
    assert response.context["page"].paginator.count == 50
    assert many == one
    assert queries(client, "/units/?q=cong ty so")[0] == one


def test_unit_detail_queries_do_not_grow_with_children(personas, client):
    client.force_login(personas.province_b_chair)
    url = f"/units/{personas.upper_b.pk}/"
    one, response = queries(client, url)
    assert len(response.context["children"]) == 1
    children = bulk_units(personas.upper_b, 49)
    Member.objects.filter(pk=personas.member_b.pk).update(unit=children[0])
    many, response = queries(client, url)
    assert len(response.context["children"]) == 50
    assert {c.code: c.member_count for c in response.context["children"]}[children[0].code] == 1
    assert many == one
