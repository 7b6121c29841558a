"""Writes of finance reports: employer contacts, reminder notices and the jobs that send them, and
the audit row of each export. Pages, the API, the background task and the tests call these.

A reminder is sent in three steps so that an e-mail is never sent twice nor recorded unsent:
1. in one transaction: the checks (scope, something unpaid, an e-mail address, not already reminded
   as of that month unless forced) and the reservation of the ``Reminder`` row (status *sending*;
   a unique index refuses a second unforced one even from two workers at once);
2. the e-mail, with the PDF attached, outside any transaction (no database lock held while the
   mail server answers);
3. the row marked *sent* (or *failed*, which frees the month for another try) with its audit entry.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.audit.services import audit_record, diff, snapshot
from congdoan.core import scoping
from congdoan.core.errors import DomainError, NotFoundInScope
from congdoan.finance import selectors as finance_selectors
from congdoan.finance.money import month_start, vnd
from congdoan.finance_reports import selectors
from congdoan.finance_reports.choices import JobStatus, Outcome, ReminderStatus
from congdoan.finance_reports.errors import ReportError
from congdoan.finance_reports.models import EmployerContact, Reminder, ReminderJob, ReminderSchedule
from congdoan.finance_reports.pdf import reminder_pdf
from congdoan.organizations.choices import Level
from congdoan.organizations.models import Unit

log = logging.getLogger(__name__)

#: how many per-employer problems a job keeps (all are counted)
MAX_JOB_ERRORS = 1000


def _require(actor, path: str) -> None:
    if actor is None or not scoping.can(actor, Action.FINANCE, path):
        raise NotFoundInScope()


def _month_text(day) -> str:
    return day.strftime("%m/%Y")


# -- contacts -----------------------------------------------------------------------------------------------
@transaction.atomic
def employer_contact_save(*, actor, employer: Unit, email: str, contact_person: str = "", phone: str = "") -> EmployerContact:
    """Set where reminders to a grassroots union's employer go (FINANCE on the union)."""
    employer = Unit.objects.get(pk=employer.pk)
    _require(actor, employer.path)
    if employer.level != Level.GRASSROOTS:
        raise ReportError(_("Only a grassroots union has an employer to write to."), code="not_employer", field="unit")
    email = (email or "").strip()
    if not email:
        raise ReportError(_("Write the employer's e-mail address."), code="email_required", field="email")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ReportError(_("This is not an e-mail address."), code="email_invalid", field="email") from exc
    contact = EmployerContact.objects.select_for_update().filter(unit=employer).first()
    fields = ["email", "contact_person", "phone"]
    before = snapshot(contact, fields)
    if contact is None:
        contact = EmployerContact(unit=employer)
    contact.email = email[:254]
    contact.contact_person = " ".join((contact_person or "").split())[:128]
    contact.phone = (phone or "").strip()[:20]
    contact.updated_by = actor if getattr(actor, "pk", None) else None
    contact.full_clean()
    contact.save()
    changes = diff(before, snapshot(contact, fields))
    if changes:
        audit_record(actor=actor, action="finance_reports.contact_saved", obj=contact, unit_path=employer.path, changes=changes)
    return contact


# -- one reminder ---------------------------------------------------------------------------------------------
def _reserve(*, actor, employer: Unit, as_of, force: bool, job: ReminderJob | None, sender: Unit | None):
    """Step 1: the checks and the reserved row; returns (reminder, facts, pdf bytes, contact)."""
    with transaction.atomic():
        employer = Unit.objects.get(pk=employer.pk)
        _require(actor, employer.path)
        if employer.level != Level.GRASSROOTS:
            raise ReportError(_("Only a grassroots union has an employer to remind."), code="not_employer", field="unit")
        facts = selectors.reminder_facts(user=actor, employer=employer, as_of=as_of)
        if facts["amount"] <= 0:
            raise ReportError(_("%(employer)s has no union fee in arrears as of %(month)s.") % {
                "employer": employer.employer_name or employer.name, "month": _month_text(facts["as_of"])}, code="nothing_owed")
        contact = EmployerContact.objects.filter(unit=employer).first()
        if contact is None or not contact.email:
            raise ReportError(_("No e-mail address is recorded for %(employer)s.") % {
                "employer": employer.employer_name or employer.name}, code="no_email", field="email")
        already = Reminder.objects.filter(employer=employer, as_of=facts["as_of"]).exclude(status=ReminderStatus.FAILED)
        if not force and already.exists():
            raise ReportError(_("%(employer)s was already reminded as of %(month)s.") % {
                "employer": employer.employer_name or employer.name, "month": _month_text(facts["as_of"])}, code="already_sent")
        content = reminder_pdf(facts, sender=sender or employer, contact=contact)
        try:
            with transaction.atomic():
                reminder = Reminder.objects.create(
                    employer=employer, job=job, as_of=facts["as_of"], first_month=facts["first_month"], last_month=facts["last_month"],
                    amount=facts["amount"], email=contact.email, reference=facts["reference"], forced=force,
                    sent_by=actor if getattr(actor, "pk", None) else None)
        except IntegrityError as exc:  # another worker reserved the same month a moment ago
            raise ReportError(_("%(employer)s was already reminded as of %(month)s.") % {
                "employer": employer.employer_name or employer.name, "month": _month_text(facts["as_of"])}, code="already_sent") from exc
    return reminder, facts, content, contact


def _email(reminder: Reminder, facts: dict, content: bytes, contact: EmployerContact, sender: Unit) -> EmailMessage:
    employer = facts["employer"]
    name = employer.employer_name or employer.name
    body = _(
        "Dear %(person)s,\n\n"
        "As of %(month)s, the union fee of %(employer)s for %(first)s–%(last)s is unpaid: %(amount)s.\n"
        "Please pay it to the account in the attached notice, writing the payment reference %(reference)s in the "
        "transfer note, or scan its VietQR code with your banking app.\n\n"
        "If you have paid in the meantime, thank you, and please disregard this e-mail.\n\n"
        "%(sender)s"
    ) % {
        "person": contact.contact_person or name, "month": _month_text(reminder.as_of), "employer": name,
        "first": _month_text(reminder.first_month), "last": _month_text(reminder.last_month), "amount": vnd(reminder.amount),
        "reference": reminder.reference, "sender": sender.name,
    }
    message = EmailMessage(
        subject=_("Union fee reminder: %(employer)s, as of %(month)s") % {"employer": name, "month": _month_text(reminder.as_of)},
        body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[reminder.email])
    message.attach(f"nhac-nop-kpcd-{reminder.reference}-{reminder.as_of:%Y-%m}.pdf", content, "application/pdf")
    return message


def reminder_send(*, actor, employer: Unit, as_of, force: bool = False, job: ReminderJob | None = None,
                  sender: Unit | None = None) -> Reminder:
    """Send an employer its reminder notice as of a month (PDF by e-mail) and record it.

    Not twice as of the same month unless ``force``. Errors (ReportError codes): not_employer,
    nothing_owed, no_email, already_sent, send_failed; outside the actor's FINANCE scope: 404.
    """
    sender = sender or employer
    reminder, facts, content, contact = _reserve(actor=actor, employer=employer, as_of=month_start(as_of), force=force, job=job,
                                                 sender=sender)
    try:
        _email(reminder, facts, content, contact, sender).send(fail_silently=False)
    except Exception as exc:  # the mail server refused: free the month for another try, and say so
        log.warning("reminder %s: sending failed: %s", reminder.pk, type(exc).__name__)
        with transaction.atomic():
            Reminder.objects.filter(pk=reminder.pk).update(status=ReminderStatus.FAILED, error=str(exc)[:255])
            audit_record(actor=actor, action="finance_reports.reminder_failed", obj=reminder, unit_path=facts["employer"].path,
                         changes={"as_of": reminder.as_of.isoformat(), "amount": reminder.amount, "error": type(exc).__name__})
        raise ReportError(_("The e-mail to %(email)s could not be sent: %(error)s") % {"email": reminder.email, "error": exc},
                          code="send_failed") from exc
    with transaction.atomic():
        reminder.status, reminder.sent_at = ReminderStatus.SENT, timezone.now()
        reminder.save(update_fields=["status", "sent_at"])
        audit_record(actor=actor, action="finance_reports.reminder_sent", obj=reminder, unit_path=facts["employer"].path, changes={
            "as_of": reminder.as_of.isoformat(), "months": [reminder.first_month.isoformat(), reminder.last_month.isoformat()],
            "amount": reminder.amount, "email": reminder.email, "forced": reminder.forced, "job": job.pk if job else None})
    return reminder


# -- the job that sends a subtree's reminders ------------------------------------------------------------------------
@transaction.atomic
def _reminder_root(actor, root: Unit) -> Unit:
    """The unit whose subtree's employers are reminded, fresh from the database: ``actor`` needs FINANCE
    on it (else 404) and it must keep books (``no_books``)."""
    root = Unit.objects.get(pk=root.pk)
    _require(actor, root.path)
    if root.level in selectors.BELOW_GRASSROOTS:
        raise ReportError(_("%(unit)s keeps no books: send the reminders from its grassroots union.") % {"unit": root.name},
                          code="no_books", field="unit")
    return root


def reminder_job_create(*, actor, root: Unit, as_of, force: bool = False, language: str = "vi") -> ReminderJob:
    """Queue the reminders of every employer in arrears of ``root``'s subtree as of a month (FINANCE).
    One job per subtree at a time (``job_running``)."""
    import datetime

    root = _reminder_root(actor, root)
    if not isinstance(as_of, datetime.date):
        raise ReportError(_("Write the month as mm/yyyy."), code="month_invalid", field="as_of")
    as_of = month_start(as_of)
    if as_of > month_start(timezone.localdate()):
        raise ReportError(_("The month %(month)s has not started yet.") % {"month": _month_text(as_of)}, code="month_in_future",
                          field="as_of")
    if ReminderJob.objects.filter(unit=root, status__in=[JobStatus.WAITING, JobStatus.RUNNING]).exists():
        raise ReportError(_("Reminders for %(unit)s are being sent already: wait for that job to finish.") % {"unit": root.name},
                          code="job_running")
    job = ReminderJob.objects.create(unit=root, as_of=as_of, force=bool(force), requested_by=actor,
                                     language=language or settings.LANGUAGE_CODE)
    audit_record(actor=actor, action="finance_reports.reminders_requested", obj=job, unit_path=root.path,
                 changes={"as_of": as_of.isoformat(), "force": bool(force)})
    from congdoan.finance_reports.tasks import reminder_job_task

    transaction.on_commit(lambda: reminder_job_task(job.pk))
    return job


def _employers_in_arrears(root: Unit, as_of) -> list[int]:
    """Ids of the employers of a subtree with union fee in arrears as of the month, in tree order."""
    figures = finance_selectors.arrears_of_subtree(root.path, as_of)
    owing = {pk for pk, f in figures.items() if f.arrears > 0}
    if not owing:
        return []
    return list(Unit.objects.in_subtree(root.path).filter(pk__in=owing, level=Level.GRASSROOTS).exclude(employer_type="")
                .order_by("path").values_list("pk", flat=True))


def reminder_job_run(*, job_pk: int) -> ReminderJob:
    """Send the reminders of a queued job, employer by employer, writing the counters as it goes.
    A job already taken (or finished) is left alone, so running the task twice sends once."""
    taken = ReminderJob.objects.filter(pk=job_pk, status=JobStatus.WAITING).update(status=JobStatus.RUNNING)
    job = ReminderJob.objects.select_related("unit", "requested_by").get(pk=job_pk)
    if not taken:
        return job
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            _run(job)
        except Exception as exc:
            log.exception("reminder job %s failed", job.pk)
            job.errors = [*job.errors[:MAX_JOB_ERRORS - 1], {"code": "job_failed", "message": str(exc)[:255]}]
            job.status, job.finished_at = JobStatus.FAILED, timezone.now()
            job.save(update_fields=["errors", "status", "finished_at"])
    return job


def _run(job: ReminderJob) -> None:
    actor, root = job.requested_by, job.unit
    if actor is None or not actor.is_active or not scoping.can(actor, Action.FINANCE, root.path):
        # the requester lost his role (or his login) since: nothing is sent in his name
        job.errors = [{"code": "not_allowed", "message": _("The person who asked for these reminders may no longer send them.")}]
        job.status, job.finished_at = JobStatus.FAILED, timezone.now()
        job.save(update_fields=["errors", "status", "finished_at"])
        return
    employers = _employers_in_arrears(root, job.as_of)
    job.total = len(employers)
    job.save(update_fields=["total"])
    counters = {Outcome.SENT: "sent", Outcome.ALREADY_SENT: "already_sent", Outcome.NO_EMAIL: "no_email", Outcome.FAILED: "failed"}
    for employer in Unit.objects.filter(pk__in=employers).order_by("path").iterator(chunk_size=500):
        outcome, message = Outcome.SENT, ""
        try:
            reminder = reminder_send(actor=actor, employer=employer, as_of=job.as_of, force=job.force, job=job, sender=root)
            job.amount += reminder.amount
        except ReportError as exc:
            outcome = {"already_sent": Outcome.ALREADY_SENT, "no_email": Outcome.NO_EMAIL, "nothing_owed": Outcome.NOTHING_OWED}.get(
                exc.code, Outcome.FAILED)
            message = str(exc.message)
        except NotFoundInScope:
            outcome, message = Outcome.FAILED, str(_("Not found."))
        if outcome in counters:
            setattr(job, counters[outcome], getattr(job, counters[outcome]) + 1)
        if outcome in (Outcome.NO_EMAIL, Outcome.FAILED) and len(job.errors) < MAX_JOB_ERRORS:
            job.errors.append({"code": outcome, "employer": employer.pk, "name": employer.employer_name or employer.name,
                               "message": message})
        job.done += 1
        # the counters the page polls: one short UPDATE per employer, outside any transaction
        ReminderJob.objects.filter(pk=job.pk).update(done=job.done, sent=job.sent, already_sent=job.already_sent,
                                                     no_email=job.no_email, failed=job.failed, amount=job.amount, errors=job.errors)
    job.status, job.finished_at = JobStatus.DONE, timezone.now()
    job.save(update_fields=["status", "finished_at", "done", "sent", "already_sent", "no_email", "failed", "amount", "errors"])
    audit_record(actor=actor, action="finance_reports.reminders_sent", obj=job, unit_path=root.path, changes={
        "as_of": job.as_of.isoformat(), "employers": job.total, "sent": job.sent, "already_sent": job.already_sent,
        "no_email": job.no_email, "failed": job.failed, "amount": job.amount})


# -- the monthly schedule ----------------------------------------------------------------------------------------------
@transaction.atomic
def reminder_schedule_save(*, actor, root: Unit, day_of_month, enabled: bool, language: str = "vi") -> ReminderSchedule:
    """Set (or switch off) the monthly reminders of ``root``'s subtree: the same permission as sending
    them by hand (FINANCE on ``root``, a unit that keeps books). The reminders then go out in the
    name of whoever saved the schedule last."""
    root = _reminder_root(actor, root)
    if isinstance(day_of_month, bool) or not isinstance(day_of_month, int) or not 1 <= day_of_month <= 28:
        raise ReportError(_("Choose a day from 1 to 28."), code="day_invalid", field="day_of_month")
    language = language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    schedule = ReminderSchedule.objects.select_for_update().filter(unit=root).first()
    fields = ["day_of_month", "enabled", "language", "created_by_id"]
    before = snapshot(schedule, fields)
    if schedule is None:
        schedule = ReminderSchedule(unit=root)
    schedule.day_of_month, schedule.enabled, schedule.language, schedule.created_by = day_of_month, bool(enabled), language, actor
    schedule.full_clean()
    schedule.save()
    changes = diff(before, snapshot(schedule, fields))
    if changes:
        audit_record(actor=actor, action="finance_reports.schedule_saved", obj=schedule, unit_path=root.path, changes=changes)
    return schedule


def reminder_schedules_run(*, today) -> list[ReminderJob]:
    """Start this month's reminders of every enabled schedule whose day has come: a reminder job as of
    the first day of the month (the months before it still unpaid), in the name of the schedule's
    ``created_by``. Each schedule runs once a month (``last_run_month``), so calling this again the same
    month does nothing; a schedule that cannot start (its official lost the right, a job of the subtree
    is already running) is tried again on the next call. Returns the jobs created."""
    this_month = month_start(today)
    due = (ReminderSchedule.objects.filter(enabled=True, day_of_month__lte=today.day)
           .filter(Q(last_run_month__isnull=True) | Q(last_run_month__lt=this_month))
           .select_related("unit", "created_by").order_by("pk"))
    jobs = []
    for schedule in due:
        try:
            with transaction.atomic():
                # claim the month first: two workers running the task at once start one job
                claimed = (ReminderSchedule.objects.filter(pk=schedule.pk, enabled=True)
                           .filter(Q(last_run_month__isnull=True) | Q(last_run_month__lt=this_month))
                           .update(last_run_month=this_month))
                if not claimed:
                    continue
                jobs.append(reminder_job_create(actor=schedule.created_by, root=schedule.unit, as_of=this_month,
                                                language=schedule.language))
        except DomainError as exc:  # the claim is rolled back: tried again next time
            log.warning("reminder schedule %s: not started (%s)", schedule.pk, exc.code)
    return jobs


# -- exports --------------------------------------------------------------------------------------------------------
def report_exported(*, actor, report: str, root: Unit, period_key: str, fmt: str, rows: int) -> None:
    """The audit entry of an export: which report of which subtree left the system, in which format."""
    audit_record(actor=actor, action="finance_reports.exported", obj=root, unit_path=root.path,
                 changes={"report": report, "period": period_key, "format": fmt, "rows": rows})
