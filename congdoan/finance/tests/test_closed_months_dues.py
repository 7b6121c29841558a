"""What a closed month owed does not change: a dues exemption or a salary that would change the dues
of a month closed in the books of the member's union is refused (service, page and salary import)."""

import datetime

import pytest

from congdoan.finance import importing, selectors, services
from congdoan.finance.errors import FinanceError
from congdoan.finance.models import DuesExemption, MemberSalary
from congdoan.finance.tests.test_member_dues import xlsx

D = datetime.date


@pytest.fixture
def closed_march(p):
    services.period_close(actor=p.accountant_a, unit=p.grassroots_a, month=D(2025, 3, 1))
    return p


def owed(member, month):
    (row,) = selectors.member_dues_owed(member_ids=[member.pk], start=month, end=month)
    return row


def test_an_exemption_covering_a_closed_month_is_refused(closed_march):
    p = closed_march
    before = owed(p.member_a, D(2025, 3, 1))
    for first, last in ((D(2025, 3, 1), D(2025, 3, 1)), (D(2025, 1, 1), D(2025, 6, 1)), (D(2024, 1, 1), None)):
        with pytest.raises(FinanceError) as exc:
            services.dues_exemption_create(actor=p.accountant_a, member=p.member_a, first_month=first, last_month=last,
                                           reason="Nghỉ không lương")
        assert (exc.value.code, exc.value.field) == ("period_closed", "first_month")
        assert "03/2025" in str(exc.value)
    assert not DuesExemption.objects.filter(member=p.member_a).exists()
    assert owed(p.member_a, D(2025, 3, 1)) == before


def test_an_exemption_of_open_months_only_is_accepted(closed_march):
    p = closed_march
    services.dues_exemption_create(actor=p.accountant_a, member=p.member_a, first_month=D(2025, 4, 1), last_month=None,
                                   reason="Nghỉ không lương")
    services.dues_exemption_create(actor=p.accountant_a, member=p.member_a, first_month=D(2024, 1, 1),
                                   last_month=D(2024, 12, 1), reason="Nghỉ ốm dài ngày")  # before the closed month
    assert DuesExemption.objects.filter(member=p.member_a).count() == 2


def test_a_salary_from_a_closed_month_or_before_it_is_refused(closed_march):
    p = closed_march
    for month in (D(2025, 3, 1), D(2025, 1, 1)):
        with pytest.raises(FinanceError) as exc:
            services.member_salary_set(actor=p.accountant_a, member=p.member_a, valid_from=month, salary=9_000_000)
        assert (exc.value.code, exc.value.field) == ("period_closed", "valid_from")
    assert not MemberSalary.objects.filter(member=p.member_a).exists()
    services.member_salary_set(actor=p.accountant_a, member=p.member_a, valid_from=D(2025, 4, 1), salary=9_000_000)
    assert MemberSalary.objects.filter(member=p.member_a).count() == 1


def test_the_salary_import_names_the_rows_that_would_change_a_closed_month(closed_march):
    p = closed_march
    data = xlsx([(p.member_a.code, None, "8.000.000", D(2025, 2, 1)), (p.member_a.code, None, "8.500.000", D(2025, 5, 1))])
    with pytest.raises(importing.SalaryImportError) as exc:
        importing.read_salaries(actor=p.accountant_a, data=data, name="luong.xlsx")
    (error,) = exc.value.errors
    assert (error["row"], error["code"], error["value"]) == (4, "period_closed", "02/2025")
    assert "03/2025" in error["message"]
    rows, _digest = importing.read_salaries(actor=p.accountant_a, data=xlsx([(p.member_a.code, None, "8.500.000", D(2025, 5, 1))]),
                                            name="luong.xlsx")
    assert [(member.pk, month) for _row, member, month, _salary in rows] == [(p.member_a.pk, D(2025, 5, 1))]


def test_the_page_shows_the_refusal_on_the_field(closed_march, client):
    from django.urls import reverse

    p = closed_march
    client.force_login(p.accountant_a)
    url = reverse("finance:member_dues", kwargs={"member": p.member_a.pk})
    response = client.post(url, {"action": "exemption", "exemption-first_month": "02/2025", "exemption-last_month": "04/2025",
                                 "exemption-reason": "Nghỉ không lương"})
    assert response.status_code == 422
    assert "03/2025" in response.content.decode()
    assert response.context["exemption_form"].errors.get("first_month")
    assert not DuesExemption.objects.exists()
