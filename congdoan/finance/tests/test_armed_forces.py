"""Since 01/06/2025 no union fee and no dues are collected from state administrative units and the armed
forces. An armed forces employer owes for May 2025 and nothing from June on, in every computation of
what is owed (union fee by month, the arrears SQL, members' dues, the reports' grouped dues), and
only because of the rule rows seeded by migration 0012: without them it owes again."""

import datetime

import pytest

from congdoan.core.testing import make_member
from congdoan.finance import member_selectors, selectors, services
from congdoan.finance.models import Rule
from congdoan.finance.rules import RuleBook
from congdoan.finance.tests.conftest import set_employer_type
from congdoan.finance_reports.dues import dues_owed_by_book
from congdoan.members.models import Member
from congdoan.organizations.choices import EmployerType
from congdoan.organizations.models import Unit

D = datetime.date
MAY, JUNE, JULY = D(2025, 5, 1), D(2025, 6, 1), D(2025, 7, 1)
FUND = 50_000_000  # 2 %: 1,000,000 a month
SALARY = 8_000_000  # 1 % until 06/2025: 80,000 a month


@pytest.fixture
def armed(p, declare):
    """PA-G2 as an armed forces unit, its salary fund declared for May to July 2025 and its member
    paid 8,000,000 from May."""
    unit = set_employer_type(p.grassroots_a2, EmployerType.ARMED_FORCES)
    for month in (MAY, JUNE, JULY):
        declare(unit=unit, month=month, fund=FUND)
    services.member_salary_set(actor=p.province_a_chair, member=p.member_a2, valid_from=MAY, salary=SALARY)
    return unit


def drop_rules():
    Rule.objects.filter(employer_type=EmployerType.ARMED_FORCES).delete()


def test_the_rules_are_seeded_like_the_state_agencies(db):
    for kind in ("union_fee_exempt", "dues_exempt"):
        rule = Rule.objects.get(kind=kind, employer_type="armed_forces")
        agency = Rule.objects.get(kind=kind, employer_type="state_agency")
        assert (rule.value, rule.valid_from, rule.level) == (1, JUNE, "")
        assert rule.legal_basis == agency.legal_basis and "lực lượng vũ trang" in rule.legal_basis
        assert "chưa có loại" not in agency.note  # the state agencies' note no longer says the type is missing
    book = RuleBook()
    for source in ("union_fee", "dues"):
        assert book.exempt(source, "armed_forces", JUNE) and book.exempt(source, "armed_forces", D(2030, 1, 1))
        assert not book.exempt(source, "armed_forces", D(2025, 5, 31))
        assert book.exempt_types(source, JUNE) >= {"state_agency", "armed_forces"}
        assert "armed_forces" not in book.exempt_types(source, MAY)


def test_union_fee_owed_for_may_only(p, armed):
    owed = {m: a for _u, m, a in selectors.union_fee_owed(unit_ids=[armed.pk], start=D(2025, 1, 1), end=D(2025, 12, 1))}
    assert owed == {MAY: 1_000_000, JUNE: 0, JULY: 0}
    in_subtree = {m: a for u, m, a in selectors.union_fee_owed_in_subtree(p.province_a.path, MAY, JULY) if u == armed.pk}
    assert in_subtree == {MAY: 1_000_000, JUNE: 0, JULY: 0}
    months = selectors.employer_months(user=p.province_a_chair, employer=armed, as_of=JULY)
    assert sum(row["owed"] for row in months) == 1_000_000


def test_the_arrears_sql_owes_may_only(p, armed):
    report = selectors.arrears_report(user=p.province_a_chair, root=p.province_a, as_of=JULY)
    row = next(r for r in report["rows"] if r["pk"] == armed.pk)
    assert (row["f"].owed_total, row["f"].owed_year) == (1_000_000, 1_000_000)
    drop_rules()
    report = selectors.arrears_report(user=p.province_a_chair, root=p.province_a, as_of=JULY)
    assert next(r for r in report["rows"] if r["pk"] == armed.pk)["f"].owed_total == 3_000_000


def test_members_owe_dues_for_may_only(p, armed):
    rows = {r["month"]: (r["total"], r["note"])
            for r in selectors.member_dues_owed(member_ids=[p.member_a2.pk], start=MAY, end=JULY)}
    assert rows == {MAY: (80_000, ""), JUNE: (0, "exempt_employer"), JULY: (0, "exempt_employer")}
    member = Member.objects.select_related("unit").get(pk=p.member_a2.pk)
    explained = {r["month"]: r["dues"] for r in member_selectors.dues_statement(member, year=2025)["rows"]}
    assert (explained[MAY]["basis"], explained[MAY]["total"]) == ("rate", 80_000)
    assert (explained[JUNE]["basis"], explained[JUNE]["total"]) == ("exempt_employer", 0)


def _grouped(p, start, end):
    grassroots = {u.path: u.pk for u in Unit.objects.in_subtree(p.province_a.path).filter(level="grassroots")}
    members = Member.objects.in_subtree(p.province_a.path)
    return dues_owed_by_book(members=members, root_path=p.province_a.path, start=start, end=end, grassroots_paths=grassroots)


def test_the_reports_grouped_dues_owe_may_only(p, armed):
    # a member without salary owes the floor from 07/2025 (the grouped path), one with a salary his rate
    make_member(armed, full_name="Phạm Văn Cường", joined_on=D(2020, 1, 1))
    assert _grouped(p, MAY, JULY).get(armed.pk, 0) == 80_000
    assert _grouped(p, JUNE, D(2025, 12, 1)).get(armed.pk, 0) == 0
    drop_rules()
    # without the rule rows: June at 1 %, July at 0.5 % for the member with a salary, the floor for the other
    assert _grouped(p, MAY, JULY)[armed.pk] == 80_000 + 80_000 + 40_000 + 11_700


def test_without_the_rule_rows_june_is_owed_again(p, armed):
    drop_rules()
    owed = {m: a for _u, m, a in selectors.union_fee_owed(unit_ids=[armed.pk], start=MAY, end=JULY)}
    assert owed == {MAY: 1_000_000, JUNE: 1_000_000, JULY: 1_000_000}
    rows = {r["month"]: r["total"] for r in selectors.member_dues_owed(member_ids=[p.member_a2.pk], start=MAY, end=JULY)}
    assert rows == {MAY: 80_000, JUNE: 80_000, JULY: 40_000}


def test_a_newer_rule_version_ends_the_exemption(p, armed):
    """The rules page can end the exemption from a month on, like any rule: data, not code."""
    for kind in ("union_fee_exempt", "dues_exempt"):
        services.rule_create(actor=p.national_chair, kind=kind, value=0, valid_from=JULY, employer_type="armed_forces",
                             legal_basis="Văn bản giả định cho kiểm thử")
    owed = {m: a for _u, m, a in selectors.union_fee_owed(unit_ids=[armed.pk], start=MAY, end=JULY)}
    assert owed == {MAY: 1_000_000, JUNE: 0, JULY: 1_000_000}
    rows = {r["month"]: r["total"] for r in selectors.member_dues_owed(member_ids=[p.member_a2.pk], start=MAY, end=JULY)}
    assert rows == {MAY: 80_000, JUNE: 0, JULY: 40_000}
