from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportStatus(models.TextChoices):
    """Life of an import job: checked first (preview), then imported all-or-nothing on request."""

    WAITING = "waiting", _("Waiting to be checked")
    CHECKING = "checking", _("Checking")
    READY = "ready", _("Checked: ready to import")
    INVALID = "invalid", _("Errors found: nothing was imported")
    QUEUED = "queued", _("Waiting to import")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")


#: statuses in which a background task is working on the job (the page keeps polling)
RUNNING_STATUSES = {ImportStatus.WAITING, ImportStatus.CHECKING, ImportStatus.QUEUED, ImportStatus.IMPORTING}


class Phase(models.TextChoices):
    READING = "reading", _("Reading the file")
    VALIDATING = "validating", _("Checking rows")
    WRITING = "writing", _("Writing members")
    FINISHED = "finished", _("Finished")


class ExportStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    RUNNING = "running", _("Writing the file")
    DONE = "done", _("Ready to download")
    FAILED = "failed", _("Failed")
