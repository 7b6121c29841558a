from django.db import models
from django.utils.translation import gettext_lazy as _


class StatementFormat(models.TextChoices):
    TABLE = "table", _("Excel or CSV export (with a bank layout)")
    CAMT053 = "camt053", _("ISO 20022 camt.053 (XML)")
    MT940 = "mt940", _("SWIFT MT940")


class ImportStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    RUNNING = "running", _("Importing")
    POSTING = "posting", _("Posting receipts")
    DONE = "done", _("Imported")
    INVALID = "invalid", _("Errors found")
    FAILED = "failed", _("Failed")


RUNNING_STATUSES = (ImportStatus.WAITING, ImportStatus.RUNNING, ImportStatus.POSTING)


class Phase(models.TextChoices):
    READING = "reading", _("Reading and matching")
    WRITING = "writing", _("Writing")
    POSTING = "posting", _("Posting receipts")
    FINISHED = "finished", _("Finished")


class LineStatus(models.TextChoices):
    """Where a bank statement line stands in reconciliation."""

    MATCHED = "matched", _("Matched")
    UNMATCHED = "unmatched", _("Waiting in the reconciliation queue")
    TO_RETURN = "to_return", _("To be returned to the payer")


class QueueReason(models.TextChoices):
    """Why a line was not matched automatically (stable codes, shown translated)."""

    NO_REFERENCE = "no_reference", _("No payment reference, tax code or member code found in the transfer note")
    AMBIGUOUS = "ambiguous", _("The transfer note matches more than one payer")
    CLOSED_MONTH = "closed_month", _("The payment is dated in a closed month")
    UNIT_DISSOLVED = "unit_dissolved", _("The payer's union is dissolved or merged")
    POSTING_FAILED = "posting_failed", _("The receipt could not be posted to the ledger")
    UNMATCHED_MANUAL = "manual", _("Sent back to the queue by an accountant")


class PayerKind(models.TextChoices):
    EMPLOYER = "employer", _("Employer (union fee)")
    MEMBER = "member", _("Member (dues)")


class Source(models.TextChoices):
    """What a payment pays for; passed to the ledger with each receipt."""

    UNION_FEE = "union_fee", _("Union fee")
    DUES = "dues", _("Dues")


SOURCE_OF_PAYER = {PayerKind.EMPLOYER: Source.UNION_FEE, PayerKind.MEMBER: Source.DUES}


class MatchedBy(models.TextChoices):
    AUTO = "auto", _("Automatically")
    HAND = "hand", _("By hand")
    CASH = "cash", _("Cash receipt")


#: months of arrears per age bucket: (key, label, lowest age in months, highest age in months or None)
AGE_BUCKETS = [
    ("upto3", _("Up to 3 months"), 1, 3),
    ("m3to6", _("3 to 6 months"), 4, 6),
    ("m6to12", _("6 to 12 months"), 7, 12),
    ("over12", _("Over 12 months"), 13, None),
]
