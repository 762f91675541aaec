"""Celery tasks of the workflows app: thin wrappers over services."""

from celery import shared_task

from . import services


@shared_task(name=services.ENROLL_JOB_TASK, acks_late=True)
def enroll_job_run(job_id: int) -> str:
    """Run a background enrollment job (see services.workflow_enroll)."""
    return services.enroll_job_run(job_id=job_id).status
