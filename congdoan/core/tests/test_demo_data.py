"""The demo data that `make run` loads: a realistic Vietnamese tree, valid members, working logins."""

import pytest
from django.core.management import call_command

from congdoan.accounts.models import User
from congdoan.members.citizen_id import check_citizen_id
from congdoan.members.models import Member, MembershipEvent
from congdoan.organizations.models import Unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--if-empty", "--members", "400", "--grassroots", "20", verbosity=0)


def test_demo_tree_has_every_level_and_valid_members(demo):
    levels = set(Unit.objects.values_list("level", flat=True))
    assert levels == {"national", "province", "upper_grassroots", "grassroots", "sub_union", "union_group"}
    assert Unit.objects.filter(level="grassroots").count() == 20
    assert Member.objects.count() == 400
    assert MembershipEvent.objects.filter(kind="admission").count() == 400
    for m in Member.objects.all()[:200]:
        # every demo CCCD passes the same structural check as a real admission
        assert check_citizen_id(m.citizen_id, gender=m.gender, date_of_birth=m.date_of_birth) == m.citizen_id
        assert m.unit.path.startswith(Unit.objects.get(code="TLD").path)
    assert any(c in "".join(Member.objects.values_list("full_name", flat=True)[:50]) for c in "ễăơưđ")


def test_seed_if_empty_runs_once(demo):
    before = (Unit.objects.count(), Member.objects.count())
    call_command("seed_demo", "--if-empty", verbosity=0)
    assert (Unit.objects.count(), Member.objects.count()) == before


def login(client, username):
    """Through the real login page (brute-force throttling needs the request)."""
    return client.post("/accounts/login/", {"username": username, "password": "congdoan2026"})


def test_demo_logins_work_and_dashboard_counts_the_demo(demo, client):
    assert login(client, "phutho.chutich").status_code == 302
    response = client.get("/")
    assert response.status_code == 200
    pto = Unit.objects.get(code="PTO")
    expected = Member.objects.in_subtree(pto.path).filter(status="active").count()
    assert expected > 0
    assert response.context["summary"]["members"]["total"] == expected

    client.logout()
    member = User.objects.get(username="DV0000000001")
    assert login(client, member.username).status_code == 302
    page = client.get("/members/me/")
    assert page.status_code == 200 and member.full_name in page.content.decode()


def test_demo_finance_has_declarations_receipts_and_a_budget(demo):
    from congdoan.budgets.models import Budget, Expense
    from congdoan.finance.models import Receipt, SalaryFundDeclaration

    district = Unit.objects.get(code="PTO-VTR")
    employers = Unit.objects.filter(parent=district, level="grassroots").count()
    assert SalaryFundDeclaration.objects.filter(unit__parent=district).count() == 6 * employers
    receipts = Receipt.objects.all()
    assert 0 < receipts.count() < 6 * employers  # some employers are behind: the arrears pages show them
    assert Budget.objects.filter(unit__code="PTO-VTR-0001", status="approved").exists()
    assert Expense.objects.filter(unit__code="PTO-VTR-0001").count() == 2
