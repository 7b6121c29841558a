"""Monthly reminders (``ReminderSchedule``): set only within scope, run once a month from its day on,
never when switched off, and the notices go to the employers in arrears only."""

import pytest
from django.core import mail
from django.utils import timezone

from congdoan.accounts.models import RoleAssignment
from congdoan.audit.models import AuditEntry
from congdoan.core.errors import NotFoundInScope
from congdoan.finance.money import month_start
from congdoan.finance_reports import services, tasks
from congdoan.finance_reports.choices import JobStatus
from congdoan.finance_reports.errors import ReportError
from congdoan.finance_reports.models import EmployerContact, Reminder, ReminderJob, ReminderSchedule
from congdoan.finance_reports.tests.conftest import FEE, D, pay

pytestmark = pytest.mark.django_db
OWED_A = 6 * FEE - 2_500_000  # PA-G1: unpaid of 01–06/2025
URL = "/finance-reports/reminders/"


@pytest.fixture
def paid_up(world):
    """PA-G2 pays its only month and gets an e-mail address: in A's subtree, reachable, owing nothing."""
    pay(world.grassroots_a2, 200_000, D(2025, 3, 1))
    EmployerContact.objects.create(unit=world.grassroots_a2, email="thcs@example.vn")
    return world


def run(capture, today):
    with capture(execute=True):
        return services.reminder_schedules_run(today=today)


def test_saving_a_schedule_is_audited_and_updates_the_same_row(world):
    schedule = services.reminder_schedule_save(actor=world.province_a_chair, root=world.province_a, day_of_month=10, enabled=True)
    assert (schedule.unit, schedule.day_of_month, schedule.enabled, schedule.language, schedule.created_by) == (
        world.province_a, 10, True, "vi", world.province_a_chair)
    entry = AuditEntry.objects.get(action="finance_reports.schedule_saved")
    assert entry.unit_path == world.province_a.path and entry.changes["day_of_month"] == [None, 10]
    services.reminder_schedule_save(actor=world.province_a_chair, root=world.province_a, day_of_month=12, enabled=False,
                                    language="en")
    schedule = ReminderSchedule.objects.get()
    assert (schedule.day_of_month, schedule.enabled, schedule.language) == (12, False, "en")
    assert AuditEntry.objects.filter(action="finance_reports.schedule_saved").count() == 2
    # nothing changed: no audit row
    services.reminder_schedule_save(actor=world.province_a_chair, root=world.province_a, day_of_month=12, enabled=False,
                                    language="en")
    assert AuditEntry.objects.filter(action="finance_reports.schedule_saved").count() == 2


def test_saving_requires_scope(world):
    for actor in (world.province_b_chair, world.outsider, world.member_user, world.accountant_a, None):
        with pytest.raises(NotFoundInScope):
            services.reminder_schedule_save(actor=actor, root=world.province_a, day_of_month=5, enabled=True)
    with pytest.raises(ReportError) as error:
        services.reminder_schedule_save(actor=world.province_a_chair, root=world.sub_union_a, day_of_month=5, enabled=True)
    assert error.value.code == "no_books"
    for day in (0, 29, "5", None):
        with pytest.raises(ReportError) as error:
            services.reminder_schedule_save(actor=world.province_a_chair, root=world.province_a, day_of_month=day, enabled=True)
        assert error.value.code == "day_invalid" and error.value.field == "day_of_month"
    assert not ReminderSchedule.objects.exists() and not AuditEntry.objects.filter(action="finance_reports.schedule_saved").exists()


def test_the_run_sends_to_employers_in_arrears_only_once_a_month(paid_up, django_capture_on_commit_callbacks):
    w = paid_up
    services.reminder_schedule_save(actor=w.province_a_chair, root=w.province_a, day_of_month=10, enabled=True)
    jobs = run(django_capture_on_commit_callbacks, D(2025, 12, 10))
    assert [m.to for m in mail.outbox] == [["ketoan@maysonghong.vn"]]  # PA-G2 owes nothing: not written to
    job = ReminderJob.objects.get()
    assert jobs == [job] and job.as_of == D(2025, 12, 1) and job.requested_by == w.province_a_chair
    assert (job.status, job.total, job.sent, job.amount) == (JobStatus.DONE, 1, 1, OWED_A)
    assert Reminder.objects.get().employer == w.grassroots_a
    assert ReminderSchedule.objects.get().last_run_month == D(2025, 12, 1)
    # again the same month (a later day, a second worker): nothing more
    assert run(django_capture_on_commit_callbacks, D(2025, 12, 10)) == []
    assert run(django_capture_on_commit_callbacks, D(2025, 12, 28)) == []
    assert len(mail.outbox) == 1 and ReminderJob.objects.count() == 1
    # the next month: a new job as of that month
    run(django_capture_on_commit_callbacks, D(2026, 1, 10))
    assert len(mail.outbox) == 2 and ReminderJob.objects.first().as_of == D(2026, 1, 1)


def test_not_before_the_day(world, django_capture_on_commit_callbacks):
    services.reminder_schedule_save(actor=world.province_a_chair, root=world.province_a, day_of_month=15, enabled=True)
    assert run(django_capture_on_commit_callbacks, D(2025, 12, 14)) == []
    assert not mail.outbox and not ReminderJob.objects.exists() and ReminderSchedule.objects.get().last_run_month is None
    # the worker was stopped on the day: the next run of the month catches up
    assert len(run(django_capture_on_commit_callbacks, D(2025, 12, 20))) == 1 and len(mail.outbox) == 1


def test_a_disabled_schedule_does_nothing(world, django_capture_on_commit_callbacks):
    services.reminder_schedule_save(actor=world.province_a_chair, root=world.province_a, day_of_month=1, enabled=False)
    assert run(django_capture_on_commit_callbacks, D(2025, 12, 28)) == []
    assert not mail.outbox and not ReminderJob.objects.exists() and ReminderSchedule.objects.get().last_run_month is None


def test_a_schedule_whose_official_lost_the_right_sends_nothing_and_is_tried_again(world, django_capture_on_commit_callbacks):
    services.reminder_schedule_save(actor=world.accountant_a, root=world.grassroots_a, day_of_month=1, enabled=True)
    RoleAssignment.objects.filter(user=world.accountant_a).update(revoked_at=timezone.now())
    world.accountant_a.__dict__.pop("_congdoan_grants", None)
    schedule = ReminderSchedule.objects.select_related("created_by").get()
    assert run(django_capture_on_commit_callbacks, D(2025, 12, 5)) == []
    assert not mail.outbox and not ReminderJob.objects.exists()
    schedule.refresh_from_db()
    assert schedule.last_run_month is None  # not marked as run: another official saving it makes it go out


def test_the_daily_task_runs_the_schedules_due_today(world, django_capture_on_commit_callbacks):
    services.reminder_schedule_save(actor=world.province_a_chair, root=world.province_a, day_of_month=1, enabled=True)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.reminder_schedules_task.call_local()
    this_month = month_start(timezone.localdate())
    assert ReminderSchedule.objects.get().last_run_month == this_month
    assert ReminderJob.objects.get().as_of == this_month and [m.to for m in mail.outbox] == [["ketoan@maysonghong.vn"]]


# --- the form on the reminders page ------------------------------------------------------------------------------

def test_the_page_sets_and_switches_off_the_schedule(world, client):
    client.force_login(world.province_a_chair)
    html = client.get(URL, {"unit": world.province_a.pk}).content.decode()
    assert 'name="day_of_month"' in html and 'name="schedule"' in html
    response = client.post(URL, {"schedule": "1", "unit": world.province_a.pk, "day_of_month": "7", "enabled": "on",
                                 "language": "vi"})
    assert response.status_code == 302 and response["Location"] == f"{URL}?unit={world.province_a.pk}"
    schedule = ReminderSchedule.objects.get()
    assert (schedule.unit, schedule.day_of_month, schedule.enabled) == (world.province_a, 7, True)
    assert not ReminderJob.objects.exists()  # saving the schedule sends nothing
    page = client.get(response["Location"])
    assert page.context["schedule_form"].initial["day_of_month"] == 7
    client.post(URL, {"schedule": "1", "unit": world.province_a.pk, "day_of_month": "7", "language": "vi"})
    assert ReminderSchedule.objects.get().enabled is False


@pytest.mark.parametrize("day", ["29", "0", "abc", ""])
def test_the_page_shows_a_bad_day_on_its_field(world, client, day):
    client.force_login(world.province_a_chair)
    response = client.post(URL, {"schedule": "1", "unit": world.province_a.pk, "day_of_month": day, "enabled": "on",
                                 "language": "vi"})
    assert response.status_code == 422 and response.context["schedule_form"].errors["day_of_month"]
    assert not response.context["form"].is_bound  # the other form is not shown as failed
    assert not ReminderSchedule.objects.exists()


def test_the_schedule_form_outside_scope_is_404(world, client):
    services.reminder_schedule_save(actor=world.province_a_chair, root=world.province_a, day_of_month=5, enabled=True)
    for who in ("province_b_chair", "outsider", "member_user", "accountant_a"):
        client.force_login(world.users[who])
        response = client.post(URL, {"schedule": "1", "unit": world.province_a.pk, "day_of_month": "9", "language": "vi"})
        assert response.status_code == 404, who
    schedule = ReminderSchedule.objects.get()
    assert (schedule.day_of_month, schedule.enabled, schedule.created_by) == (5, True, world.province_a_chair)
