"""Two exemptions of a member (dues) or two reliefs of an employer (union fee) never cover the same month:
the service refuses the second with a stable code, naming the months already covered, and the pages
show the refusal on the first-month field. Also when two requests arrive at once (PostgreSQL)."""

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.urls import reverse

from congdoan.audit.models import AuditEntry
from congdoan.finance import services
from congdoan.finance.errors import FinanceError
from congdoan.finance.models import DuesExemption, FeeRelief

D = datetime.date


def exempt(p, first, last, member=None, actor=None):
    return services.dues_exemption_create(actor=actor or p.accountant_a, member=member or p.member_a, first_month=first,
                                          last_month=last, reason="Nghỉ không lương")


# -- members' dues exemptions -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("first,last,overlaps", [
    (D(2025, 4, 1), D(2025, 5, 1), False),    # just after
    (D(2024, 10, 1), D(2024, 12, 1), False),  # just before
    (D(2025, 4, 1), None, False),             # open, starting just after
    (D(2025, 3, 1), D(2025, 5, 1), True),     # shares the last month
    (D(2024, 11, 1), D(2025, 1, 1), True),    # shares the first month
    (D(2025, 2, 1), D(2025, 2, 1), True),     # inside
    (D(2024, 11, 1), D(2025, 6, 1), True),    # around
    (D(2025, 2, 1), None, True),              # open, starting inside
    (D(2024, 12, 1), None, True),             # open, starting before
])
def test_an_exemption_may_not_overlap_a_closed_one(p, first, last, overlaps):
    exempt(p, D(2025, 1, 1), D(2025, 3, 1))
    if not overlaps:
        exempt(p, first, last)
        assert DuesExemption.objects.filter(member=p.member_a).count() == 2
        return
    with pytest.raises(FinanceError) as exc:
        exempt(p, first, last)
    assert (exc.value.code, exc.value.field) == ("exemption_overlap", "first_month")
    assert "01/2025" in str(exc.value) and "03/2025" in str(exc.value)
    assert DuesExemption.objects.filter(member=p.member_a).count() == 1
    assert AuditEntry.objects.filter(action="finance.dues_exemption_created").count() == 1


@pytest.mark.parametrize("first,last,overlaps", [
    (D(2025, 1, 1), D(2025, 5, 1), False),  # ends the month before
    (D(2025, 1, 1), D(2025, 6, 1), True),   # ends in its first month
    (D(2030, 1, 1), D(2030, 2, 1), True),   # long after: still "until further notice"
    (D(2020, 1, 1), None, True),            # open, before it
    (D(2026, 1, 1), None, True),            # open, after it
])
def test_an_exemption_until_further_notice_covers_every_later_month(p, first, last, overlaps):
    exempt(p, D(2025, 6, 1), None)
    if not overlaps:
        exempt(p, first, last)
        return
    with pytest.raises(FinanceError) as exc:
        exempt(p, first, last)
    assert (exc.value.code, exc.value.field) == ("exemption_overlap", "first_month")
    assert "06/2025" in str(exc.value)
    assert exc.value.params["last_month"] is None


def test_the_message_names_the_earliest_exemption_in_the_way(p):
    exempt(p, D(2025, 5, 1), D(2025, 6, 1))
    exempt(p, D(2025, 1, 1), D(2025, 2, 1))
    with pytest.raises(FinanceError) as exc:
        exempt(p, D(2024, 12, 1), D(2025, 12, 1))
    assert "01/2025" in str(exc.value) and "02/2025" in str(exc.value) and "05/2025" not in str(exc.value)


def test_other_members_exemptions_do_not_count(p):
    exempt(p, D(2025, 1, 1), None, actor=p.province_a_chair)
    exempt(p, D(2025, 1, 1), None, member=p.member_a2, actor=p.province_a_chair)
    assert DuesExemption.objects.count() == 2


def test_the_page_shows_the_overlap_on_the_first_month(p, client):
    exempt(p, D(2025, 9, 1), D(2025, 10, 1))
    client.force_login(p.grassroots_a_chair)
    response = client.post(reverse("finance:member_dues", kwargs={"member": p.member_a.pk}), {
        "action": "exemption", "exemption-first_month": "10/2025", "exemption-last_month": "", "exemption-reason": "Ốm dài ngày"})
    assert response.status_code == 422
    errors = response.context["exemption_form"].errors
    assert list(errors) == ["first_month"] and "09/2025" in errors["first_month"][0] and "10/2025" in errors["first_month"][0]
    assert errors["first_month"][0] in response.content.decode()
    assert DuesExemption.objects.count() == 1


# -- employers' union fee reliefs -------------------------------------------------------------------------------------
def relieve(p, first, last, unit=None, kind="exemption"):
    return services.fee_relief_create(actor=p.province_a_chair, unit=unit or p.grassroots_a, kind=kind, first_month=first,
                                      last_month=last, reduction_bp=5000 if kind == "reduction" else 0, decision="QĐ 7/LĐLĐ")


@pytest.mark.parametrize("first,last,overlaps", [
    (D(2025, 4, 1), D(2025, 6, 1), False),
    (D(2024, 10, 1), D(2024, 12, 1), False),
    (D(2025, 3, 1), D(2025, 3, 1), True),
    (D(2024, 12, 1), D(2025, 1, 1), True),
    (D(2024, 12, 1), D(2025, 4, 1), True),
])
def test_reliefs_of_an_employer_never_overlap_whatever_their_kind(p, first, last, overlaps):
    relieve(p, D(2025, 1, 1), D(2025, 3, 1), kind="suspension")
    if not overlaps:
        relieve(p, first, last, kind="reduction")
        assert FeeRelief.objects.count() == 2
        return
    with pytest.raises(FinanceError) as exc:
        relieve(p, first, last, kind="reduction")
    assert (exc.value.code, exc.value.field) == ("relief_overlap", "first_month")
    assert FeeRelief.objects.count() == 1


def test_another_employers_relief_does_not_count(p):
    relieve(p, D(2025, 1, 1), D(2025, 3, 1))
    relieve(p, D(2025, 1, 1), D(2025, 3, 1), unit=p.grassroots_a2)
    assert FeeRelief.objects.count() == 2


def test_the_relief_page_shows_the_overlap_on_the_first_month(p, client):
    relieve(p, D(2025, 1, 1), D(2025, 3, 1))
    client.force_login(p.province_a_chair)
    response = client.post(reverse("finance:relief_list"), {"unit": p.grassroots_a.pk, "kind": "suspension", "first_month": "03/2025",
                                                            "last_month": "04/2025", "decision": "QĐ 8"})
    assert response.status_code == 422
    assert list(response.context["form"].errors) == ["first_month"]
    assert FeeRelief.objects.count() == 1


# -- two requests at once ---------------------------------------------------------------------------------------------
@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("what", ["exemption", "relief"])
def test_two_overlapping_requests_at_once_save_one(what):
    """The first request holds its transaction open after saving; the second must wait for it (the row
    lock) and then see its row. Without the lock the second would not see it and save an overlap."""
    from congdoan.core.testing import build_personas

    p = build_personas()

    def create():
        if what == "exemption":
            exempt(p, D(2025, 1, 1), D(2025, 3, 1))
        else:
            relieve(p, D(2025, 1, 1), D(2025, 3, 1))

    saved, second_started = threading.Event(), threading.Event()
    errors, outcome = [], []

    def first():
        try:
            with transaction.atomic():
                create()
                saved.set()
                second_started.wait(5)
                threading.Event().wait(0.5)  # the second is now waiting for the lock (or, without it, done)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            saved.set()
            connection.close()

    def second():
        try:
            saved.wait(5)
            second_started.set()
            create()
            outcome.append("saved")
        except FinanceError as exc:
            outcome.append(exc.code)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert outcome == ["exemption_overlap" if what == "exemption" else "relief_overlap"]
    assert (DuesExemption if what == "exemption" else FeeRelief).objects.count() == 1
