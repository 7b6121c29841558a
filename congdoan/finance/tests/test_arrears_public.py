"""``selectors.arrears_of_subtree``, the one public read of a subtree's arrears: on random data (reliefs
of every kind, exempt employer types, receipts for any month, periods ending before and after the
*as of* month) it equals the plain month-by-month arithmetic, period figures included; finance's
arrears report and the finance reports (employer list, collection dashboard) show the same figures;
and no module outside finance calls one of finance's private functions."""

import ast
import datetime
import random
from pathlib import Path

import pytest

from congdoan.finance import selectors, services
from congdoan.finance.money import add_months
from congdoan.finance.tests.conftest import set_employer_type
from congdoan.organizations.services import unit_create

D = datetime.date
AS_OF_AND_PERIODS = [
    (D(2025, 6, 1), (D(2025, 1, 1), D(2025, 12, 1))),  # a year still running: the period ends after as_of
    (D(2025, 12, 1), (D(2025, 10, 1), D(2025, 12, 1))),
    (D(2025, 3, 1), (D(2025, 3, 1), D(2025, 3, 1))),
    (D(2026, 2, 1), (D(2024, 1, 1), D(2024, 12, 1))),  # a period long before as_of
]


@pytest.fixture
def random_world(p, declare):
    """Eight employers of province A over 2024–2025: random declarations (some of an exempt employer
    type), receipts for random months, and an exemption, a reduction and two suspensions."""
    rng = random.Random(11)
    employers = [p.grassroots_a, set_employer_type(p.grassroots_a2, "state_agency")]
    for i in range(6):
        employers.append(unit_create(actor=None, parent=p.upper_a, level="grassroots", code=f"PA-Q{i}", name=f"CĐCS {i}",
                                     employer_type=rng.choice(["fdi", "domestic_private", "cooperative", "state_agency"])))
    n = 0
    for unit in employers:
        for index in range(24):
            month = add_months(D(2024, 1, 1), index)
            if rng.random() < 0.75:
                declare(unit=unit, month=month, fund=rng.randrange(1_000_000, 90_000_000))
            if rng.random() < 0.5:
                n += 1
                services.receipt_post(actor=p.province_a_chair, unit=unit, source="union_fee", payer_reference="",
                                      amount=rng.randrange(1, 2_500_000), paid_on=add_months(month, 1), external_id=f"q:{n}",
                                      period=add_months(D(2024, 1, 1), rng.randrange(0, 26)))
    relief = {"actor": p.province_a_chair, "decision": "QĐ 7/2025"}
    services.fee_relief_create(unit=employers[2], kind="exemption", first_month=D(2025, 2, 1), last_month=D(2025, 4, 1), **relief)
    services.fee_relief_create(unit=employers[3], kind="reduction", first_month=D(2024, 9, 1), last_month=D(2025, 6, 1),
                               reduction_bp=3_000, **relief)
    services.fee_relief_create(unit=employers[4], kind="suspension", first_month=D(2024, 11, 1), last_month=D(2025, 2, 1), **relief)
    services.fee_relief_create(unit=employers[5], kind="suspension", first_month=D(2025, 5, 1), last_month=D(2025, 8, 1), **relief)
    return employers


def plain(ids, as_of, period):
    """The reference: payments' arithmetic month by month, and the period's owed and paid as the
    collection dashboard counted them before (``union_fee_owed``, ``union_fee_paid`` of the period)."""
    from django.db.models import Q

    expected = selectors._arrears_in_python(ids, as_of)
    owed_period = dict.fromkeys(ids, 0)
    for unit_id, _month, amount in selectors.union_fee_owed(unit_ids=ids, start=period[0], end=period[1]):
        owed_period[unit_id] += amount
    paid_period = {pk: sum(by_month.values()) for pk, by_month in selectors.union_fee_paid(Q(unit_id__in=ids), *period).items()}
    return expected, owed_period, paid_period


def figures_of(f) -> tuple:
    return f.owed_total, f.paid_total, f.owed_year, f.paid_year, f.buckets


@pytest.mark.parametrize("as_of,period", AS_OF_AND_PERIODS)
def test_the_public_selector_equals_the_plain_arithmetic(p, random_world, as_of, period):
    ids = [u.pk for u in random_world]
    expected, owed_period, paid_period = plain(ids, as_of, period)
    found = selectors.arrears_of_subtree(p.province_a.path, as_of, period=period)
    assert set(found) <= {u.pk for u in random_world}
    for pk in ids:
        f = found.get(pk) or selectors.SubtreeArrears(pk)
        assert figures_of(f) == figures_of(expected[pk]), (pk, as_of)
        assert (f.owed_period, f.paid_period) == (owed_period[pk], paid_period.get(pk, 0)), (pk, as_of, period)
    assert sum(f.arrears for f in found.values()) > 0 and sum(owed_period.values()) > 0
    # the SQL alone (no employer skipped) agrees too, for the employers without a relief
    sql = selectors._arrears_in_sql(p.province_a.path, as_of, set(), period=period)
    for unit in random_world[:2] + random_world[6:]:
        f = sql.get(unit.pk) or selectors.SubtreeArrears(unit.pk)
        assert figures_of(f) + (f.owed_period, f.paid_period) == figures_of(expected[unit.pk]) + (
            owed_period[unit.pk], paid_period.get(unit.pk, 0))
    # without a period the figures are the same, the period's left at 0
    alone = selectors.arrears_of_subtree(p.province_a.path, as_of)
    assert {pk: figures_of(f) for pk, f in alone.items() if f.owed_total or f.paid_total} == {
        pk: figures_of(f) for pk, f in found.items() if f.owed_total or f.paid_total}
    assert not any(f.owed_period or f.paid_period for f in alone.values())


@pytest.mark.parametrize("as_of,period", AS_OF_AND_PERIODS)
def test_the_arrears_report_and_the_finance_reports_agree(p, random_world, as_of, period):
    from congdoan.finance_reports import selectors as reports
    from congdoan.finance_reports.periods import Period

    report = selectors.arrears_report(user=p.province_a_chair, root=p.province_a, as_of=as_of)
    theirs = Period("quarter", *period)  # the kind only names the period; its months are these
    rows = reports.employer_rows(user=p.province_a_chair, root=p.province_a, period=theirs, as_of=as_of)
    mine = {r["pk"]: figures_of(r["f"]) for r in report["rows"]}
    assert mine == {r.pk: figures_of(r.arrears) for r in rows if r.employer_type}
    assert len(mine) == 8 and report["totals"]["arrears"] > 0
    totals = reports.employer_totals(rows)
    assert totals["arrears"] == report["totals"]["arrears"] and totals["in_arrears"] == report["totals"]["in_arrears"]
    for key, bucket in report["totals"]["buckets"].items():
        assert totals[key] == bucket["amount"]


def test_the_dashboard_shows_the_arrears_reports_totals(p, random_world, client):
    report = selectors.arrears_report(user=p.province_a_chair, root=p.province_a, as_of=D(2025, 12, 1))
    client.force_login(p.province_a_chair)
    dashboard = client.get(f"/finance-reports/?unit={p.province_a.pk}&period=2025").context["report"].total
    assert (dashboard.arrears.value, dashboard.in_arrears.value) == (report["totals"]["arrears"], report["totals"]["in_arrears"])
    assert [(a.value, n.value) for a, n in dashboard.buckets] == [(b["amount"], b["count"]) for b in report["totals"]["buckets"].values()]


def test_arrears_of_subtree_keeps_to_its_subtree(p, random_world, declare):
    declare(unit=p.grassroots_b, month=D(2025, 3, 1))
    found = selectors.arrears_of_subtree(p.upper_a.path, D(2025, 12, 1))
    assert p.grassroots_b.pk not in found and p.grassroots_a.pk in found
    assert set(selectors.arrears_of_subtree(p.province_b.path, D(2025, 12, 1))) == {p.grassroots_b.pk}


def _private_uses(path: Path) -> list[str]:
    """Names starting with "_" that a module takes from congdoan.finance (``finance._x`` through an
    imported finance module, or ``from congdoan.finance.x import _y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module == "congdoan.finance" or (node.module or "").startswith("congdoan.finance.")):
            for name in node.names:
                if name.name.startswith("_") and not name.name.startswith("__"):
                    found.append(f"{node.module}.{name.name}")
                aliases.add(name.asname or name.name)
        elif isinstance(node, ast.Import):
            for name in node.names:
                if name.name.startswith("congdoan.finance"):
                    aliases.add(name.asname or name.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and ast.unparse(node.value) in aliases):
            found.append(f"{ast.unparse(node.value)}.{node.attr}")
    return found


def test_no_module_outside_finance_calls_a_private_function_of_finance():
    root = Path(selectors.__file__).resolve().parent.parent
    finance = root / "finance"
    offenders = {str(path.relative_to(root)): uses for path in sorted(root.rglob("*.py"))
                 if finance not in path.parents and (uses := _private_uses(path))}
    assert offenders == {}


def test_the_private_use_check_finds_one(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from congdoan.finance import selectors as finance\nfrom congdoan.finance.money import _x\n"
                      "finance._arrears_in_sql('00', None, set())\n", encoding="utf-8")
    assert _private_uses(module) == ["congdoan.finance.money._x", "finance._arrears_in_sql"]

