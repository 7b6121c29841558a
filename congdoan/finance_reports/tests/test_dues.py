"""Dues owed per grassroots union, summed by the database (dues.py), equal finance's member-by-member
arithmetic (``member_dues_owed``) on random members: salaries changing in the period (0 đ included),
exemptions (open-ended or not, two covering the same month), a union's own higher rate, an employer
type exempt from 06/2025, members joining during the period, members no longer active, members of a
sub-union and of union groups (under the grassroots union and under the sub-union)."""

import datetime
import random
from collections import defaultdict

import pytest

from congdoan.accounts.choices import Action
from congdoan.core.testing import make_member
from congdoan.finance import selectors as finance
from congdoan.finance.models import DuesExemption, MemberSalary, UnitDuesRate
from congdoan.finance.money import add_months
from congdoan.finance_reports.dues import dues_owed_by_book
from congdoan.finance_reports.tests.conftest import D
from congdoan.members.models import Member
from congdoan.organizations.models import Unit
from congdoan.organizations.services import unit_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("start,end", [(D(2025, 1, 1), D(2025, 12, 1)), (D(2025, 4, 1), D(2025, 6, 1)), (D(2025, 7, 1), D(2025, 7, 1))])
def test_grouped_dues_equal_finance_member_by_member(personas, seed, start, end):
    p = personas
    rng = random.Random(seed)
    state = unit_create(actor=None, parent=p.upper_a, level="grassroots", code="PA-SA", name="CĐCS Sở Tài chính",
                        employer_type="state_agency")
    group = unit_create(actor=None, parent=p.sub_union_a, level="union_group", code="PA-G1-S-T1", name="Tổ công đoàn 1")
    group2 = unit_create(actor=None, parent=p.grassroots_a2, level="union_group", code="PA-G2-T1", name="Tổ công đoàn giáo viên")
    units = [p.grassroots_a, p.grassroots_a2, p.sub_union_a, state, group, group2]
    UnitDuesRate.objects.create(unit=p.grassroots_a2, rate_bp=100, valid_from=D(2025, 5, 1), decision="Nghị quyết Đại hội")
    for i in range(40):
        member = make_member(rng.choice(units), joined_on=D(2024, 1, 1) + datetime.timedelta(days=rng.randrange(0, 700)))
        roll = rng.random()
        if roll < 0.5:
            # from a month of 2024 or 2025, sometimes mid-month (in force from the month after)
            for month in sorted(rng.sample(range(1, 25), rng.randrange(1, 4))):
                valid_from = D(2024 + (month - 1) // 12, (month - 1) % 12 + 1, rng.choice([1, 1, 15]))
                MemberSalary.objects.create(member=member, valid_from=valid_from, salary=rng.choice([0, 4_000_000, 9_500_000, 60_000_000]))
        if 0.3 < roll < 0.6:
            for _n in range(rng.choice([1, 1, 2])):  # two exemptions may cover the same months
                first = D(2025, rng.randrange(1, 12), 1)
                DuesExemption.objects.create(member=member, first_month=first, reason="Nghỉ không lương",
                                             last_month=None if rng.random() < 0.5 else add_months(first, rng.randrange(0, 6)))
        if rng.random() < 0.1:
            Member.objects.filter(pk=member.pk).update(status="left")
    members = Member.objects.restrict(p.province_a_chair, Action.VIEW).in_subtree(p.province_a.path)
    grassroots = {u.path: u.pk for u in Unit.objects.in_subtree(p.province_a.path).filter(level="grassroots")}
    mine = dues_owed_by_book(members=members, root_path=p.province_a.path, start=start, end=end, grassroots_paths=grassroots)
    books = finance.book_units(members.values_list("unit_id", flat=True))
    unit_of = dict(members.values_list("pk", "unit_id"))
    theirs = defaultdict(int)
    for row in finance.member_dues_owed(member_ids=list(unit_of), start=start, end=end):
        theirs[books[unit_of[row["member"]]]] += row["total"]
    assert {k: v for k, v in mine.items() if v} == {k: v for k, v in theirs.items() if v}
    assert sum(theirs.values()) > 0
    assert {books[unit_of[pk]] for pk in unit_of} >= {p.grassroots_a.pk, p.grassroots_a2.pk}
