import datetime

import pytest

from congdoan.finance import services
from congdoan.organizations.models import Unit

D = datetime.date


@pytest.fixture
def p(personas):
    """The personas, with the employer of PA-G1 known by its tax code 2600123456."""
    return personas


@pytest.fixture
def declare(p):
    """Declare a salary fund for an employer and month as its grassroots chair (or another actor)."""
    def _declare(unit=None, month=D(2025, 5, 1), fund=100_000_000, actor=None):
        return services.declaration_save(actor=actor or p.national_chair, unit=unit or p.grassroots_a, month=month, si_salary_fund=fund)
    return _declare


def set_employer_type(unit, employer_type):
    Unit.objects.filter(pk=unit.pk).update(employer_type=employer_type)
    unit.refresh_from_db()
    return unit
