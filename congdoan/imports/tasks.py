"""Background work of imports and exports. Each task takes a job's primary key and calls the service."""

from huey.contrib.djhuey import db_task

from congdoan.imports import exports, services


@db_task()
def import_check_task(job_pk: int):
    services.import_job_check(job_pk=job_pk)


@db_task()
def import_run_task(job_pk: int):
    services.import_job_run(job_pk=job_pk)


@db_task()
def export_task(job_pk: int):
    exports.export_job_run(job_pk=job_pk)
