"""Rules as data (seeded, effective-dated, edited by the national level only) and what is owed."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from congdoan.audit.models import AuditEntry
from congdoan.core.errors import NotFoundInScope
from congdoan.finance import selectors, services
from congdoan.finance.errors import FinanceError
from congdoan.finance.models import FeeRelief, Rule, SalaryFundDeclaration, UnitDuesRate
from congdoan.finance.money import apply_rate, largest_remainder
from congdoan.finance.rules import RuleBook
from congdoan.finance.tests.conftest import set_employer_type

D = datetime.date


# -- money -------------------------------------------------------------------------------------------------
def test_rates_round_to_the_nearest_dong_halves_up():
    assert apply_rate(123_456_789, 200) == 2_469_136  # 2,469,135.78
    assert apply_rate(25, 200) == 1  # 0.5 → 1
    assert apply_rate(24, 200) == 0  # 0.48 → 0
    assert apply_rate(2_340_000, 50) == 11_700
    with pytest.raises(TypeError):
        apply_rate(100.0, 200)


@given(total=st.integers(0, 10**13), weights=st.lists(st.integers(0, 10_000), min_size=1, max_size=6).filter(lambda w: sum(w) > 0))
def test_largest_remainder_never_loses_a_dong(total, weights):
    parts = largest_remainder(total, list(enumerate(weights)))
    assert sum(parts.values()) == total
    for key, weight in enumerate(weights):
        exact = total * weight / sum(weights)
        assert exact - 1 < parts[key] < exact + 1  # each part within a đồng of its exact quota
        if weight == 0:
            assert parts[key] == 0


def test_largest_remainder_gives_leftover_to_largest_remainders_then_first_listed():
    assert largest_remainder(10, [("a", 1), ("b", 1), ("c", 1)]) == {"a": 4, "b": 3, "c": 3}
    assert largest_remainder(100, [("g", 7500), ("u", 1000), ("p", 1000), ("n", 500)]) == {"g": 75, "u": 10, "p": 10, "n": 5}
    assert largest_remainder(7, [("g", 7500), ("u", 1000), ("p", 1000), ("n", 500)]) == {"g": 5, "u": 1, "p": 1, "n": 0}  # quotas 5.25, 0.7, 0.7, 0.35


# -- rules ----------------------------------------------------------------------------------------------------
def test_rules_are_seeded_with_their_legal_basis(db):
    book = RuleBook()
    assert book.union_fee_rate(D(2025, 7, 1)) == 200
    assert book.value("dues_rate", D(2025, 7, 1)) == 50
    assert book.value("dues_rate", D(2025, 6, 30)) == 100
    assert book.base_salary(D(2024, 6, 30)) == 1_800_000
    assert book.base_salary(D(2024, 7, 1)) == 2_340_000
    assert book.exempt("union_fee", "state_agency", D(2025, 6, 1))
    assert not book.exempt("union_fee", "state_agency", D(2025, 5, 31))
    assert not book.exempt("union_fee", "fdi", D(2025, 6, 1))
    assert book.shares("union_fee", D(2025, 7, 1)) == {"grassroots": 7500, "upper_grassroots": 1000, "province": 1000, "national": 500}
    assert book.shares("dues", D(2025, 7, 1))["grassroots"] == 7000
    terms = book.dues_terms(D(2025, 7, 1))
    assert (terms.rate_bp, terms.floor, terms.cap) == (50, 11_700, 234_000)
    assert all(rule.legal_basis for rule in Rule.objects.all())
    assert Rule.objects.filter(kind="union_fee_rate", legal_basis__contains="50/2024/QH15", valid_from=D(2025, 7, 1)).exists()


def test_only_the_national_level_edits_rules(p):
    for who in ("province_a_chair", "grassroots_a_chair", "accountant_a", "outsider"):
        with pytest.raises(NotFoundInScope):
            services.rule_create(actor=p.users[who], kind="base_salary", value=2_500_000, valid_from=D(2026, 7, 1), legal_basis="NĐ x")
    rule = services.rule_create(actor=p.national_chair, kind="base_salary", value=2_530_000, valid_from=D(2026, 7, 1),
                                legal_basis="Nghị định mới")
    assert RuleBook().base_salary(D(2026, 7, 1)) == 2_530_000 and RuleBook().base_salary(D(2026, 6, 30)) == 2_340_000
    assert AuditEntry.objects.filter(action="finance.rule_created", object_id=str(rule.pk)).exists()


@pytest.mark.parametrize("kwargs,code", [
    ({"kind": "nonsense"}, "rule_unknown"),
    ({"kind": "union_fee_share"}, "use_shares_set"),
    ({"value": -1}, "value_invalid"),
    ({"value": 1.5}, "value_invalid"),
    ({"kind": "union_fee_rate", "value": 10_001}, "rate_too_high"),
    ({"kind": "union_fee_exempt", "value": 1}, "employer_type_required"),
    ({"kind": "union_fee_exempt", "value": 2, "employer_type": "fdi"}, "value_invalid"),
    ({"value": 0}, "value_invalid"),
    ({"legal_basis": "  "}, "legal_basis_required"),
    ({"valid_from": D(2024, 1, 1)}, "rule_before_latest"),
    ({"valid_from": D(2024, 7, 1)}, "rule_exists"),
])
def test_bad_rules_are_refused_with_a_code(p, kwargs, code):
    args = {"kind": "base_salary", "value": 2_600_000, "valid_from": D(2027, 1, 1), "legal_basis": "NĐ", **kwargs}
    before = Rule.objects.count()
    with pytest.raises(FinanceError) as exc:
        services.rule_create(actor=p.national_chair, **args)
    assert exc.value.code == code
    assert Rule.objects.count() == before


def test_shares_are_set_together_and_must_make_100_percent(p):
    shares = {"grassroots": 8000, "upper_grassroots": 800, "province": 800, "national": 400}
    services.shares_set(actor=p.national_chair, kind="union_fee_share", valid_from=D(2026, 7, 1), shares=shares, legal_basis="QĐ mới")
    assert RuleBook().shares("union_fee", D(2026, 7, 1)) == shares
    for bad, code in (({**shares, "national": 500}, "shares_sum"), ({"grassroots": 0, "province": 10_000}, "share_grassroots_zero"),
                      ({**shares, "sub_union": 0}, "share_level_unknown")):
        with pytest.raises(FinanceError) as exc:
            services.shares_set(actor=p.national_chair, kind="union_fee_share", valid_from=D(2026, 8, 1), shares=bad, legal_basis="x")
        assert exc.value.code == code
    with pytest.raises(NotFoundInScope):
        services.shares_set(actor=p.province_a_chair, kind="union_fee_share", valid_from=D(2026, 8, 1), shares=shares, legal_basis="x")


def test_a_version_not_yet_in_force_can_be_corrected(p):
    services.rule_create(actor=p.national_chair, kind="base_salary", value=2_500_000, valid_from=D(2099, 1, 1), legal_basis="dự thảo")
    services.rule_create(actor=p.national_chair, kind="base_salary", value=2_530_000, valid_from=D(2099, 1, 1), legal_basis="NĐ")
    assert list(Rule.objects.filter(kind="base_salary", valid_from=D(2099, 1, 1)).values_list("value", flat=True)) == [2_530_000]


# -- union fee owed -----------------------------------------------------------------------------------------------
def test_union_fee_owed_is_the_rate_of_the_declared_fund(p, declare):
    declare(month=D(2025, 5, 1), fund=123_456_789)
    declare(month=D(2025, 7, 1), fund=100_000_000)
    rows = selectors.union_fee_owed(unit_ids=[p.grassroots_a.pk], start=D(2025, 1, 1), end=D(2025, 12, 1))
    assert sorted(rows) == [(p.grassroots_a.pk, D(2025, 5, 1), 2_469_136), (p.grassroots_a.pk, D(2025, 7, 1), 2_000_000)]
    # a correction replaces the month's figure (and is audited)
    declare(month=D(2025, 5, 1), fund=100_000_000)
    assert dict(((u, m), a) for u, m, a in selectors.union_fee_owed(unit_ids=[p.grassroots_a.pk], start=D(2025, 5, 1),
                                                                     end=D(2025, 5, 1))) == {(p.grassroots_a.pk, D(2025, 5, 1)): 2_000_000}
    assert AuditEntry.objects.filter(action="finance.declaration_changed").count() == 1


def test_state_agencies_owe_nothing_from_june_2025(p, declare):
    agency = set_employer_type(p.grassroots_a2, "state_agency")
    for month in (D(2025, 5, 1), D(2025, 6, 1)):
        declare(unit=agency, month=month, fund=50_000_000)
    owed = {m: a for _u, m, a in selectors.union_fee_owed(unit_ids=[agency.pk], start=D(2025, 1, 1), end=D(2025, 12, 1))}
    assert owed == {D(2025, 5, 1): 1_000_000, D(2025, 6, 1): 0}


def test_reliefs_exempt_reduce_and_suspend(p, declare):
    for month in range(1, 9):
        declare(month=D(2025, month, 1), fund=10_000_000)  # 200,000 a month
    services.fee_relief_create(actor=p.province_a_chair, unit=p.grassroots_a, kind="suspension", first_month=D(2025, 1, 1),
                               last_month=D(2025, 3, 1), decision="QĐ 12/LĐLĐ")
    services.fee_relief_create(actor=p.province_a_chair, unit=p.grassroots_a, kind="reduction", first_month=D(2025, 5, 1),
                               last_month=D(2025, 5, 1), reduction_bp=5000, decision="QĐ 13/LĐLĐ")
    services.fee_relief_create(actor=p.province_a_chair, unit=p.grassroots_a, kind="exemption", first_month=D(2025, 6, 1),
                               last_month=D(2025, 7, 1), decision="QĐ 14/LĐLĐ")
    owed = {m.month: a for _u, m, a in selectors.union_fee_owed(unit_ids=[p.grassroots_a.pk], start=D(2025, 1, 1), end=D(2025, 8, 1))}
    assert owed == {1: 0, 2: 0, 3: 0, 4: 200_000 + 600_000, 5: 100_000, 6: 0, 7: 0, 8: 200_000}
    # the suspended months' fee arrives in April even when the range starts after the suspension
    later = {m.month: a for _u, m, a in selectors.union_fee_owed(unit_ids=[p.grassroots_a.pk], start=D(2025, 4, 1), end=D(2025, 4, 1))}
    assert later == {4: 800_000}


@pytest.mark.parametrize("kwargs,code", [
    ({"last_month": D(2025, 12, 1), "first_month": D(2025, 1, 1)}, None),
    ({"last_month": D(2026, 1, 1), "first_month": D(2025, 1, 1)}, "relief_too_long"),
    ({"last_month": D(2024, 12, 1), "first_month": D(2025, 1, 1)}, "months_reversed"),
    ({"kind": "reduction", "reduction_bp": 0}, "reduction_invalid"),
    ({"kind": "reduction", "reduction_bp": 10_000}, "reduction_invalid"),
    ({"kind": "forgiven"}, "relief_kind_unknown"),
    ({"decision": ""}, "decision_required"),
])
def test_relief_inputs(p, kwargs, code):
    args = {"kind": "exemption", "first_month": D(2025, 1, 1), "last_month": D(2025, 3, 1), "decision": "QĐ 1", **kwargs}
    if code is None:
        services.fee_relief_create(actor=p.province_a_chair, unit=p.grassroots_a, **args)
        return
    with pytest.raises(FinanceError) as exc:
        services.fee_relief_create(actor=p.province_a_chair, unit=p.grassroots_a, **args)
    assert exc.value.code == code
    assert not FeeRelief.objects.exists()


def test_relief_is_decided_above_the_union_and_never_overlaps(p):
    args = {"kind": "exemption", "first_month": D(2025, 1, 1), "last_month": D(2025, 3, 1), "decision": "QĐ 1"}
    with pytest.raises(FinanceError) as exc:
        services.fee_relief_create(actor=p.grassroots_a_chair, unit=p.grassroots_a, **args)
    assert exc.value.code == "relief_not_upper"
    with pytest.raises(NotFoundInScope):
        services.fee_relief_create(actor=p.province_b_chair, unit=p.grassroots_a, **args)
    services.fee_relief_create(actor=p.province_a_chair, unit=p.grassroots_a, **args)
    with pytest.raises(FinanceError) as exc:
        services.fee_relief_create(actor=p.province_a_chair, unit=p.grassroots_a, **{**args, "first_month": D(2025, 3, 1),
                                                                                         "last_month": D(2025, 4, 1)})
    assert exc.value.code == "relief_overlap"


@pytest.mark.parametrize("kwargs,code", [
    ({"si_salary_fund": 0}, "fund_not_positive"),
    ({"si_salary_fund": -1_000}, "fund_not_positive"),
    ({"si_salary_fund": 1.5}, "fund_not_positive"),
    ({"si_salary_fund": "1.234.567"}, "fund_not_positive"),
    ({"month": D(2099, 1, 1)}, "month_future"),
    ({"month": None}, "month_required"),
])
def test_declaration_bad_inputs(p, kwargs, code):
    args = {"unit": p.grassroots_a, "month": D(2025, 5, 1), "si_salary_fund": 100, **kwargs}
    with pytest.raises(FinanceError) as exc:
        services.declaration_save(actor=p.accountant_a, **args)
    assert exc.value.code == code
    assert not SalaryFundDeclaration.objects.exists()


def test_declaration_scope_level_and_closed_month(p, declare):
    with pytest.raises(NotFoundInScope):
        declare(actor=p.province_b_chair)
    with pytest.raises(FinanceError) as exc:
        declare(unit=p.upper_a)
    assert exc.value.code == "not_grassroots"
    declare(month=D(2025, 5, 1))
    services.period_close(actor=p.accountant_a, unit=p.grassroots_a, month=D(2025, 5, 1))
    with pytest.raises(FinanceError) as exc:
        declare(month=D(2025, 5, 1), fund=1)
    assert exc.value.code == "period_closed"
    assert SalaryFundDeclaration.objects.get().si_salary_fund == 100_000_000


# -- dues owed ---------------------------------------------------------------------------------------------------
def dues(p, member, start, end=None):
    return {r["month"]: (r["standard"], r["extra"], r["note"])
            for r in selectors.member_dues_owed(member_ids=[member.pk], start=start, end=end or start)}


def test_dues_cap_floor_and_effective_salary(p):
    member = p.member_a
    services.member_salary_set(actor=p.accountant_a, member=member, valid_from=D(2025, 6, 1), salary=10_000_000)
    services.member_salary_set(actor=p.accountant_a, member=member, valid_from=D(2025, 8, 1), salary=100_000_000)
    services.member_salary_set(actor=p.accountant_a, member=member, valid_from=D(2025, 9, 1), salary=1_000_000)
    assert dues(p, member, D(2025, 5, 1), D(2025, 9, 1)) == {
        D(2025, 5, 1): (0, 0, "no_salary"),  # before July 2025 there is no floor
        D(2025, 6, 1): (100_000, 0, ""),  # 1 % until June 2025
        D(2025, 7, 1): (50_000, 0, ""),  # 0.5 % from July 2025
        D(2025, 8, 1): (234_000, 0, ""),  # capped at 10 % of the base salary 2,340,000
        D(2025, 9, 1): (11_700, 0, ""),  # raised to 0.5 % of the base salary
    }
    assert dues(p, p.member_a2, D(2025, 7, 1)) == {D(2025, 7, 1): (11_700, 0, "no_salary")}


def test_dues_own_rate_and_exemptions(p):
    services.member_salary_set(actor=p.accountant_a, member=p.member_a, valid_from=D(2025, 7, 1), salary=10_000_000)
    services.unit_dues_rate_set(actor=p.grassroots_a_chair, unit=p.grassroots_a, rate_bp=100, valid_from=D(2025, 8, 1), decision="NQ")
    services.dues_exemption_create(actor=p.accountant_a, member=p.member_a, first_month=D(2025, 10, 1), last_month=D(2025, 11, 1),
                                   reason="Nghỉ không lương")
    assert dues(p, p.member_a, D(2025, 7, 1), D(2025, 12, 1)) == {
        D(2025, 7, 1): (50_000, 0, ""), D(2025, 8, 1): (50_000, 50_000, ""), D(2025, 9, 1): (50_000, 50_000, ""),
        D(2025, 10, 1): (0, 0, "exempt_member"), D(2025, 11, 1): (0, 0, "exempt_member"), D(2025, 12, 1): (50_000, 50_000, ""),
    }
    agency = set_employer_type(p.grassroots_a2, "state_agency")
    assert dues(p, p.member_a2, D(2025, 7, 1)) == {D(2025, 7, 1): (0, 0, "exempt_employer")}
    assert agency.employer_type == "state_agency"


def test_unit_dues_rate_inputs(p):
    for kwargs, code in (({"rate_bp": 50}, "rate_not_higher"), ({"rate_bp": 40}, "rate_not_higher"), ({"rate_bp": -1}, "value_invalid"),
                         ({"decision": " "}, "decision_required"), ({"unit": p.upper_a}, "not_grassroots")):
        args = {"unit": p.grassroots_a, "rate_bp": 100, "valid_from": D(2025, 8, 1), "decision": "NQ", **kwargs}
        with pytest.raises(FinanceError) as exc:
            services.unit_dues_rate_set(actor=p.province_a_chair, **args)
        assert exc.value.code == code
    assert not UnitDuesRate.objects.exists()
    with pytest.raises(NotFoundInScope):
        services.unit_dues_rate_set(actor=p.province_b_chair, unit=p.grassroots_a, rate_bp=100, valid_from=D(2025, 8, 1), decision="NQ")
