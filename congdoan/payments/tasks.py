"""Background work of payments. Tasks take primary keys and call the services."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from congdoan.payments import services


@db_task()
def statement_import_task(job_pk: int):
    services.statement_import_run(job_pk=job_pk)


@db_periodic_task(crontab(minute="*/10"))
def pending_post_task():
    """Receipts that could not be posted yet (ledger not available, worker stopped) are posted here."""
    services.pending_post()
