"""Background work of finance reports. Tasks take primary keys and call the services."""

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from congdoan.finance_reports import services


@db_task()
def reminder_job_task(job_pk: int):
    services.reminder_job_run(job_pk=job_pk)


@db_periodic_task(crontab(hour="6", minute="0"))
def reminder_schedules_task():
    """Once a day (06:00 of Huey's clock, UTC by default): start the monthly reminders whose day has come
    in local time (each schedule runs once a month)."""
    services.reminder_schedules_run(today=timezone.localdate())
