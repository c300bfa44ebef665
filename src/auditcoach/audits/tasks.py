"""Background work of the audits area. Tasks take ids, never objects."""

from django.tasks import task

from auditcoach.audits import services


@task()
def import_job_run(job_id: int) -> None:
    services.import_job_run(job_id=job_id)
