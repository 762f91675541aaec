"""Celery tasks of the workflows app: thin wrappers over services."""

from celery import shared_task

from . import services


@shared_task(name=services.ENROLL_JOB_TASK, acks_late=True)
def enroll_job_run(job_id: int) -> str:
    """Run a background enrollment job (see services.workflow_enroll)."""
    job = services.enroll_job_run(job_id=job_id)
    return job.status if job is not None else "gone"


@shared_task(name="workflows.tasks.resend_enroll_jobs", ignore_result=True)
def resend_enroll_jobs() -> int:
    """Re-send queued jobs whose task message was lost (beat, every sweep interval)."""
    return services.enroll_jobs_resend()
