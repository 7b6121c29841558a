"""Reminder notices to employers in arrears: whom to write to, what was sent, and the sending jobs.

* ``EmployerContact``: the e-mail address (and contact person) of an employer, i.e. of its
  grassroots union's employer; units themselves carry no e-mail address.
* ``ReminderJob``: one "send reminders" request for a subtree, run by a Huey task; its counters
  are the progress the page polls.
* ``Reminder``: one notice sent to one employer as of a month (the months in arrears, the
  amount). An employer is not reminded twice as of the same month unless the sender forces it;
  the database holds that rule too (a unique index on employer and month for unforced rows).
* ``ReminderSchedule``: a subtree's reminders sent every month by the daily task.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from congdoan.core.scoping import ScopedQuerySet
from congdoan.finance_reports.choices import RUNNING_STATUSES, JobStatus, ReminderStatus


class EmployerContactQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class EmployerContact(models.Model):
    """Where reminders for an employer go: the employer of a grassroots union (``unit``)."""

    unit = models.ForeignKey("organizations.Unit", verbose_name=_("grassroots union"), on_delete=models.PROTECT, related_name="+")
    email = models.EmailField(_("e-mail address"), max_length=254)
    contact_person = models.CharField(_("contact person"), max_length=128, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = EmployerContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("employer contact")
        verbose_name_plural = _("employer contacts")
        constraints = [models.UniqueConstraint(fields=["unit"], name="finance_reports_contact_per_unit")]

    def __str__(self):
        return f"{self.contact_person} <{self.email}>" if self.contact_person else self.email


class ReminderJobQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class ReminderJob(models.Model):
    """Sending reminders to every employer in arrears of ``unit``'s subtree, as of a month, in the
    background (``tasks.reminder_job_task``). The counters are written as it goes."""

    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+")
    as_of = models.DateField(_("as of month"))
    force = models.BooleanField(_("send again to employers already reminded"), default=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    language = models.CharField(max_length=8, default="vi")
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.WAITING)
    total = models.PositiveIntegerField(_("employers in arrears"), default=0)
    done = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    already_sent = models.PositiveIntegerField(_("already reminded"), default=0)
    no_email = models.PositiveIntegerField(_("without e-mail address"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    amount = models.BigIntegerField(_("amount reminded (đồng)"), default=0)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ReminderJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("reminder job")
        verbose_name_plural = _("reminder jobs")

    def __str__(self):
        return f"{self.unit_id} {self.as_of:%m/%Y} ({self.get_status_display()})"

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def percent(self) -> int:
        return min(100, int(100 * self.done / self.total)) if self.total else 0


class ReminderQuerySet(ScopedQuerySet):
    scope_field = "employer__path"


class Reminder(models.Model):
    """One reminder notice (PDF by e-mail) to an employer: the months unpaid as of ``as_of``
    (``first_month``–``last_month``) and their ``amount``; who sent it and when."""

    employer = models.ForeignKey("organizations.Unit", verbose_name=_("employer"), on_delete=models.PROTECT, related_name="+")
    job = models.ForeignKey(ReminderJob, null=True, blank=True, on_delete=models.PROTECT, related_name="reminders")
    as_of = models.DateField(_("as of month"))
    first_month = models.DateField(_("from month"))
    last_month = models.DateField(_("to month"))
    amount = models.BigIntegerField(_("amount (đồng)"))
    email = models.EmailField(_("sent to"), max_length=254)
    reference = models.CharField(_("payment reference"), max_length=20)
    status = models.CharField(_("status"), max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.SENDING)
    forced = models.BooleanField(_("sent again on purpose"), default=False)
    error = models.CharField(max_length=255, blank=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    objects = ReminderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        constraints = [
            # one unforced reminder per employer and month (a failed one does not count)
            models.UniqueConstraint(fields=["employer", "as_of"], condition=Q(forced=False) & ~Q(status=ReminderStatus.FAILED),
                                    name="finance_reports_reminder_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_reports_reminder_amount_positive"),
        ]

    def __str__(self):
        return f"{self.employer_id} {self.as_of:%m/%Y} {self.amount:,} đ"


class ReminderScheduleQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class ReminderSchedule(models.Model):
    """Monthly reminders of a subtree (``unit`` is its root), sent without anyone asking: on
    ``day_of_month`` (or the first run of the daily task after it) a reminder job is created as of
    the month's first day, in the name of ``created_by`` (whoever last saved the schedule).
    ``last_run_month`` is the month it last ran for, so a month is run once."""

    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+")
    day_of_month = models.PositiveSmallIntegerField(_("day of the month"),
                                                    validators=[MinValueValidator(1), MaxValueValidator(28)])
    enabled = models.BooleanField(_("enabled"), default=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="vi")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    last_run_month = models.DateField(_("last run for month"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReminderScheduleQuerySet.as_manager()

    class Meta:
        verbose_name = _("reminder schedule")
        verbose_name_plural = _("reminder schedules")
        constraints = [
            models.UniqueConstraint(fields=["unit"], name="finance_reports_schedule_per_unit"),
            models.CheckConstraint(condition=Q(day_of_month__gte=1) & Q(day_of_month__lte=28),
                                   name="finance_reports_schedule_day_1_28"),
        ]

    def __str__(self):
        return f"{self.unit_id} day {self.day_of_month}{'' if self.enabled else ' (off)'}"
