"""Reminder notices: the PDF (Vietnamese, the months, the total, the reference, the VietQR code), the
e-mail with its attachment, never twice for the same month unless forced, the background job and
its progress, the contact page, scope and bad input."""

import pytest
from django.core import mail
from django.utils import timezone

from congdoan.audit.models import AuditEntry
from congdoan.core.errors import NotFoundInScope
from congdoan.finance.references import payment_reference_for
from congdoan.finance_reports import selectors, services
from congdoan.finance_reports.choices import JobStatus, ReminderStatus
from congdoan.finance_reports.errors import ReportError
from congdoan.finance_reports.models import EmployerContact, Reminder, ReminderJob
from congdoan.finance_reports.pdf import reminder_pdf
from congdoan.finance_reports.tests.conftest import FEE, D, pdf_text

pytestmark = pytest.mark.django_db
AS_OF = D(2025, 12, 1)
OWED_A = 6 * FEE - 2_500_000  # PA-G1: 9,500,000 đ unpaid of 01–06/2025


def test_the_reminder_pdf_names_the_employer_the_months_the_total_and_the_reference(world):
    facts = selectors.reminder_facts(user=world.province_a_chair, employer=world.grassroots_a, as_of=AS_OF)
    assert facts["amount"] == OWED_A and [m["month"].month for m in facts["months"]] == [2, 3, 4, 5, 6]
    assert facts["months"][0]["unpaid"] == 1_500_000 and facts["payload"]  # a VietQR payload: an account is set at PA
    from congdoan.finance.vietqr import parse_payload

    qr = parse_payload(facts["payload"])
    assert qr["54"] == str(OWED_A) and facts["reference"] in facts["payload"]
    content = reminder_pdf(facts, sender=world.province_a, compress=False)
    assert content.startswith(b"%PDF") and b"/Subtype /Image" in content  # the QR code
    text = pdf_text(content)
    reference = payment_reference_for(kind="employer", payer_id=world.grassroots_a.pk)
    for expected in ("Công ty May Sông Hồng", "9.500.000 đ", reference, "02/2025", "06/2025", "1.500.000 đ",
                     "LIÊN ĐOÀN LAO ĐỘNG TỈNH A", "Chín triệu năm trăm nghìn đồng", "0011004123456"):
        assert expected in text, expected
    # the compressed PDF (what is sent) reads the same
    assert "Công ty May Sông Hồng" in pdf_text(reminder_pdf(facts, sender=world.province_a))


def test_a_reminder_is_e_mailed_with_its_pdf_recorded_and_audited(world):
    reminder = services.reminder_send(actor=world.accountant_a, employer=world.grassroots_a, as_of=AS_OF)
    assert (reminder.status, reminder.amount, reminder.first_month, reminder.last_month) == (
        ReminderStatus.SENT, OWED_A, D(2025, 2, 1), D(2025, 6, 1))
    assert reminder.sent_by == world.accountant_a and reminder.sent_at and reminder.email == "ketoan@maysonghong.vn"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ketoan@maysonghong.vn"] and "Công ty May Sông Hồng" in message.subject
    assert "9.500.000 đ" in message.body and reminder.reference in message.body and "Chị Hoa" in message.body
    (name, content, mimetype), = message.attachments
    assert name.endswith(".pdf") and mimetype == "application/pdf" and "9.500.000 đ" in pdf_text(content)
    entry = AuditEntry.objects.get(action="finance_reports.reminder_sent")
    assert entry.object_id == str(reminder.pk) and entry.unit_path == world.grassroots_a.path
    assert entry.changes["amount"] == OWED_A and entry.actor == world.accountant_a


def test_not_twice_for_the_same_month_unless_forced(world):
    services.reminder_send(actor=world.accountant_a, employer=world.grassroots_a, as_of=AS_OF)
    with pytest.raises(ReportError) as error:
        services.reminder_send(actor=world.province_a_chair, employer=world.grassroots_a, as_of=D(2025, 12, 1))
    assert error.value.code == "already_sent"
    assert len(mail.outbox) == 1 and Reminder.objects.count() == 1
    services.reminder_send(actor=world.accountant_a, employer=world.grassroots_a, as_of=AS_OF, force=True)
    assert len(mail.outbox) == 2 and Reminder.objects.filter(forced=True).count() == 1
    # another month is another reminder
    services.reminder_send(actor=world.accountant_a, employer=world.grassroots_a, as_of=D(2025, 11, 1))
    assert len(mail.outbox) == 3


def test_the_database_refuses_a_second_unforced_reminder(world):
    from django.db import IntegrityError, transaction

    services.reminder_send(actor=world.accountant_a, employer=world.grassroots_a, as_of=AS_OF)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(employer=world.grassroots_a, as_of=AS_OF, first_month=AS_OF, last_month=AS_OF, amount=1,
                                email="x@example.vn", reference="KP")


@pytest.mark.parametrize("case,code", [("no_email", "no_email"), ("nothing_owed", "nothing_owed"), ("sub_union", "not_employer")])
def test_what_cannot_be_reminded_is_refused_and_nothing_is_written(world, case, code):
    employer = {"no_email": world.grassroots_a2, "nothing_owed": world.grassroots_a, "sub_union": world.sub_union_a}[case]
    as_of = D(2025, 1, 1) if case == "nothing_owed" else AS_OF
    audits = AuditEntry.objects.count()
    with pytest.raises(ReportError) as error:
        services.reminder_send(actor=world.province_a_chair, employer=employer, as_of=as_of)
    assert error.value.code == code
    assert not Reminder.objects.exists() and not mail.outbox and AuditEntry.objects.count() == audits


def test_outside_scope_nothing_is_sent(world):
    for actor in (world.province_b_chair, world.outsider, world.member_user, None):
        with pytest.raises(NotFoundInScope):
            services.reminder_send(actor=actor, employer=world.grassroots_a, as_of=AS_OF)
    assert not mail.outbox and not Reminder.objects.exists()


def test_a_mail_server_failure_is_recorded_and_frees_the_month(world, monkeypatch):
    from django.core.mail import EmailMessage

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    with pytest.raises(ReportError) as error:
        services.reminder_send(actor=world.accountant_a, employer=world.grassroots_a, as_of=AS_OF)
    assert error.value.code == "send_failed"
    assert Reminder.objects.get().status == ReminderStatus.FAILED
    assert AuditEntry.objects.filter(action="finance_reports.reminder_failed").count() == 1
    monkeypatch.undo()
    services.reminder_send(actor=world.accountant_a, employer=world.grassroots_a, as_of=AS_OF)
    assert Reminder.objects.filter(status=ReminderStatus.SENT).count() == 1 and len(mail.outbox) == 1


# --- the background job -------------------------------------------------------------------------------------

def start(client, user, data, capture):
    client.force_login(user)
    with capture(execute=True):
        return client.post("/finance-reports/reminders/", data)


def test_the_page_starts_a_job_that_sends_every_reminder(world, client, django_capture_on_commit_callbacks):
    EmployerContact.objects.create(unit=world.grassroots_b, email="b@example.vn")
    response = start(client, world.province_a_chair, {"unit": world.province_a.pk, "as_of": "12/2025"},
                     django_capture_on_commit_callbacks)
    job = ReminderJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/finance-reports/reminders/jobs/{job.pk}/"
    assert (job.status, job.total, job.done, job.sent, job.no_email, job.already_sent, job.amount) == (
        JobStatus.DONE, 2, 2, 1, 1, 0, OWED_A)
    assert [e["code"] for e in job.errors] == ["no_email"] and job.errors[0]["employer"] == world.grassroots_a2.pk
    assert [m.to for m in mail.outbox] == [["ketoan@maysonghong.vn"]]  # province B's employer is not in A's subtree
    assert Reminder.objects.get().job == job and Reminder.objects.get().sent_by == world.province_a_chair
    assert AuditEntry.objects.filter(action="finance_reports.reminders_requested").count() == 1
    assert AuditEntry.objects.get(action="finance_reports.reminders_sent").changes["sent"] == 1
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and "hx-trigger" not in html and "Trường THCS Gia Cẩm" in html

    # again: nobody is reminded twice; with "force", the employer is reminded again
    start(client, world.province_a_chair, {"unit": world.province_a.pk, "as_of": "12/2025"}, django_capture_on_commit_callbacks)
    again = ReminderJob.objects.first()
    assert (again.sent, again.already_sent, again.no_email) == (0, 1, 1) and len(mail.outbox) == 1
    start(client, world.province_a_chair, {"unit": world.province_a.pk, "as_of": "12/2025", "force": "on"},
          django_capture_on_commit_callbacks)
    assert ReminderJob.objects.first().sent == 1 and len(mail.outbox) == 2


def test_the_job_page_shows_progress_while_it_runs(world, client, monkeypatch):
    """The counters are written employer by employer; the page polls every second until the job ends."""
    EmployerContact.objects.create(unit=world.grassroots_a2, email="thcs@example.vn")
    job = services.reminder_job_create(actor=world.province_a_chair, root=world.province_a, as_of=AS_OF)  # not run: no commit
    client.force_login(world.province_a_chair)
    url = f"/finance-reports/reminders/jobs/{job.pk}/"
    html = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in html and "<progress" in html
    seen = []
    real_send = services.reminder_send

    def watching(**kwargs):
        seen.append(ReminderJob.objects.values_list("status", "total", "done").get(pk=job.pk))
        partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
        seen.append(('hx-trigger="every 1s"' in partial, "<html" in partial))
        return real_send(**kwargs)

    monkeypatch.setattr(services, "reminder_send", watching)
    services.reminder_job_run(job_pk=job.pk)
    assert seen == [("running", 2, 0), (True, False), ("running", 2, 1), (True, False)]
    job.refresh_from_db()
    assert (job.status, job.done, job.sent, job.percent) == (JobStatus.DONE, 2, 2, 100)
    assert "hx-trigger" not in client.get(url, headers={"HX-Request": "true"}).content.decode()
    # running the task again (a retry) sends nothing more
    services.reminder_job_run(job_pk=job.pk)
    assert len(mail.outbox) == 2


def test_a_job_whose_requester_lost_his_role_sends_nothing(world):
    from congdoan.accounts.models import RoleAssignment

    job = services.reminder_job_create(actor=world.accountant_a, root=world.grassroots_a, as_of=AS_OF)
    RoleAssignment.objects.filter(user=world.accountant_a).update(revoked_at=timezone.now())
    world.accountant_a.__dict__.pop("_congdoan_grants", None)
    job = services.reminder_job_run(job_pk=ReminderJob.objects.get().pk)
    assert job.status == JobStatus.FAILED and job.errors[0]["code"] == "not_allowed" and not mail.outbox


def test_one_job_per_subtree_at_a_time_and_bad_months(world, client):
    services.reminder_job_create(actor=world.province_a_chair, root=world.province_a, as_of=AS_OF)
    with pytest.raises(ReportError) as error:
        services.reminder_job_create(actor=world.province_a_chair, root=world.province_a, as_of=AS_OF)
    assert error.value.code == "job_running"
    client.force_login(world.province_a_chair)
    next_year = f"01/{timezone.localdate().year + 1}"
    for as_of, message in ((next_year, "has not started yet"), ("13/2025", "mm/yyyy"), ("abc", "mm/yyyy")):
        response = client.post("/finance-reports/reminders/", {"unit": world.grassroots_a.pk, "as_of": as_of})
        assert response.status_code == 422 and response.context["form"].errors["as_of"], as_of
    assert ReminderJob.objects.count() == 1


def test_reminder_pages_outside_scope_are_404(world, client):
    job = services.reminder_job_create(actor=world.province_a_chair, root=world.province_a, as_of=AS_OF)
    urls = [f"/finance-reports/reminders/jobs/{job.pk}/", f"/finance-reports/reminders/{world.grassroots_a.pk}/pdf/?as_of=12/2025",
            f"/finance-reports/contacts/{world.grassroots_a.pk}/", f"/finance-reports/reminders/?unit={world.province_a.pk}"]
    for who in ("province_b_chair", "outsider", "member_user"):
        client.force_login(world.users[who])
        for url in urls:
            assert client.get(url).status_code == 404, (who, url)
        response = client.post("/finance-reports/reminders/", {"unit": world.province_a.pk, "as_of": "12/2025"})
        assert response.status_code == 404
        response = client.post(f"/finance-reports/contacts/{world.grassroots_a.pk}/", {"email": "evil@example.vn"})
        assert response.status_code == 404
    assert ReminderJob.objects.count() == 1 and EmployerContact.objects.get(unit=world.grassroots_a).email == "ketoan@maysonghong.vn"
    client.force_login(world.province_b_chair)
    assert "Công ty May Sông Hồng" not in client.get("/finance-reports/reminders/").content.decode()


def test_the_pdf_download_of_one_employer(world, client):
    client.force_login(world.accountant_a)
    response = client.get(f"/finance-reports/reminders/{world.grassroots_a.pk}/pdf/?as_of=12/2025")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment") and "9.500.000 đ" in pdf_text(response.content)
    assert client.post(f"/finance-reports/reminders/{world.grassroots_a.pk}/pdf/").status_code == 405
    response = client.get(f"/finance-reports/reminders/{world.grassroots_a.pk}/pdf/?as_of=2099-01")
    assert response.status_code == 302  # back to the list, with the message


# --- the contact page ----------------------------------------------------------------------------------------

def test_the_contact_page_saves_and_audits(world, client):
    client.force_login(world.accountant_a)
    url = f"/finance-reports/contacts/{world.grassroots_a.pk}/"
    assert client.get(url).context["form"].initial["email"] == "ketoan@maysonghong.vn"
    response = client.post(url, {"email": "  tc@maysonghong.vn ", "contact_person": "Anh  Nam", "phone": "0243"})
    assert response.status_code == 302
    contact = EmployerContact.objects.get(unit=world.grassroots_a)
    assert (contact.email, contact.contact_person, contact.updated_by) == ("tc@maysonghong.vn", "Anh Nam", world.accountant_a)
    entry = AuditEntry.objects.get(action="finance_reports.contact_saved")
    assert entry.changes["email"] == ["ketoan@maysonghong.vn", "tc@maysonghong.vn"]
    for data, field in (({"email": "not-an-address"}, "email"), ({"email": ""}, "email")):
        response = client.post(url, data)
        assert response.status_code == 422 and response.context["form"].errors[field]
    assert EmployerContact.objects.get(unit=world.grassroots_a).email == "tc@maysonghong.vn"
    with pytest.raises(ReportError) as error:
        services.employer_contact_save(actor=world.accountant_a, employer=world.grassroots_a, email="a@b")
    assert error.value.code == "email_invalid"
    with pytest.raises(ReportError) as error:
        services.employer_contact_save(actor=world.province_a_chair, employer=world.upper_a, email="a@b.vn")
    assert error.value.code == "not_employer"
