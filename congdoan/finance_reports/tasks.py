"""Background work of finance reports. Tasks take primary keys and call the services."""

from huey.contrib.djhuey import db_task

from congdoan.finance_reports import services


@db_task()
def reminder_job_task(job_pk: int):
    services.reminder_job_run(job_pk=job_pk)
