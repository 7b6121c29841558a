"""Choices of finance reports: periods, sources of revenue, reminder and job statuses, export formats."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class RevenueSource(models.TextChoices):
    """Where revenue comes from, by the revenue account that records it (5111, 5112, 518)."""

    UNION_FEE = "union_fee", _("Union fee")
    DUES = "dues", _("Dues")
    OTHER = "other", _("Other revenue")


class ReminderStatus(models.TextChoices):
    """A reminder is reserved (sending) before its e-mail goes out, then marked sent or failed."""

    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class JobStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    RUNNING = "running", _("Sending")
    DONE = "done", _("Finished")
    FAILED = "failed", _("Failed")


RUNNING_STATUSES = (JobStatus.WAITING, JobStatus.RUNNING)


class Outcome(models.TextChoices):
    """What happened to one employer of a reminder job (stable codes, counted on the job)."""

    SENT = "sent", _("Sent")
    ALREADY_SENT = "already_sent", _("Already reminded for this month")
    NO_EMAIL = "no_email", _("No e-mail address")
    NOTHING_OWED = "nothing_owed", _("Nothing in arrears")
    FAILED = "failed", _("Sending failed")


class ExportFormat(models.TextChoices):
    XLSX = "xlsx", _("Excel (.xlsx)")
    PDF = "pdf", _("PDF")


#: the most rows a PDF export prints (an .xlsx export has no limit)
PDF_MAX_ROWS = 5_000
