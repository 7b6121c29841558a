"""The SQL that landed migrations build with ``core.statement_checks`` never changes: a migration's SQL is history
(a changed builder would install another function on a new database than on one migrated before)."""

import hashlib
from importlib import import_module

import pytest

from congdoan.core.statement_checks import missing_probe

LANDED = {
    ("congdoan.payments.migrations.0007_reference_checks_by_distinct_values", "LINE_CHECK"):
        "ff8abadc0e5c2b12565faa7bd9740b1d0a1d2ae2d3a78541b72866a18c6e7237",
    ("congdoan.payments.migrations.0007_reference_checks_by_distinct_values", "ALLOCATION_CHECK"):
        "bfcdf93952e670fbdd249e382b976f2db2602b57e7ca8aa79eb63e6fc18c487d",
    ("congdoan.finance.migrations.0020_reference_checks_by_distinct_values", "ENTRY_CHECK"):
        "b153abb9d6f9fb5f4d77dbd46dfb3600c727ba1c0c33e17844e05c19bfb3b75c",
    ("congdoan.finance.migrations.0020_reference_checks_by_distinct_values", "RECEIPT_CHECK"):
        "1c370ee803a1029c657b88196494c09c269b0ea215fed9a6cbbef08bbc45d548",
    ("congdoan.payments.migrations.0008_allocation_lines_checked_by_range", "ALLOCATION_CHECK"):
        "bf2ccd51738e2e196cc298753b379a196ff4116825fde93349d3adb685318cdc",
    ("congdoan.members.migrations.0006_member_references_per_statement", "MEMBER_CHECK"):
        "2a3c103b53a5cdf94b2f47bd20fd5b9b7653fa41f450d1c48fa9ed0e734a63d6",
}


@pytest.mark.parametrize(("module", "name"), sorted(LANDED))
def test_the_sql_of_a_landed_check_is_what_it_was(module, name):
    assert hashlib.sha256(getattr(import_module(module), name).encode()).hexdigest() == LANDED[module, name]


def test_only_a_single_id_column_is_probed_by_its_run():
    with pytest.raises(ValueError):
        missing_probe("rows", [("account_id, unit_id", "t", "r.id = v.account_id AND r.unit_id = v.unit_id")],
                      dense=("account_id, unit_id",))
    with pytest.raises(ValueError):
        missing_probe("rows", [("member_id", "members_member", "r.code = v.member_id")], dense=("member_id",))
    with pytest.raises(TypeError):
        missing_probe("rows", [("line_id", "t", "r.id = v.line_id")], dense="line_id")
