from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Gender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("member status", "Active")
    TRANSFERRED_OUT = "transferred_out", _("Transferred out")
    SUSPENDED = "suspended", _("Suspended")
    LEFT = "left", _("Left")
    DECEASED = "deceased", _("Deceased")


class EventKind(models.TextChoices):
    ADMISSION = "admission", _("Admission")
    TRANSFER = "transfer", _("Transfer")
    SUSPENSION = "suspension", _("Suspension")
    REINSTATEMENT = "reinstatement", _("Reinstatement")
    LEAVING = "leaving", _("Leaving")
    DEATH = "death", _("Death")
    MERGE = "merge", _("Moved by unit merger")


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the receiving unit")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


class Education(models.TextChoices):
    PRIMARY = "primary", _("Primary school")
    LOWER_SECONDARY = "lower_secondary", _("Lower secondary school")
    UPPER_SECONDARY = "upper_secondary", _("Upper secondary school")
    VOCATIONAL = "vocational", _("Vocational training")
    COLLEGE = "college", _("College")
    UNIVERSITY = "university", _("University")
    POSTGRADUATE = "postgraduate", _("Postgraduate")


class AgeBand(models.TextChoices):
    UNDER_30 = "lt30", _("Under 30")
    FROM_30_TO_39 = "30_39", _("30–39")
    FROM_40_TO_49 = "40_49", _("40–49")
    FROM_50 = "gte50", _("50 and over")


#: (lowest age, highest age) of each band, inclusive; None means open
AGE_BAND_LIMITS = {
    AgeBand.UNDER_30: (None, 29),
    AgeBand.FROM_30_TO_39: (30, 39),
    AgeBand.FROM_40_TO_49: (40, 49),
    AgeBand.FROM_50: (50, None),
}
