"""Celery tasks: each takes ids and calls one service. Late ack is set globally."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from engine.runtime import executor, scheduler


@shared_task(name="engine.tasks.run_step", ignore_result=True)
def run_step(enrollment_id: int, step_id: str, seq: int) -> str:
    # Redelivery is expected (late ack): a step that already ran is recognised and dropped.
    return executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)


@shared_task(name="engine.tasks.run_scheduled_action", ignore_result=True)
def run_scheduled_action(action_id: int) -> str:
    return executor.action_run(action_id=action_id)


@shared_task(name="engine.tasks.scheduler_tick", ignore_result=True)
def scheduler_tick() -> int:
    return scheduler.tick(lookahead=settings.STUDIO_SCHEDULER_INTERVAL)


@shared_task(name="engine.tasks.sweep", ignore_result=True)
def sweep() -> dict:
    return scheduler.sweep()


@shared_task(name="engine.tasks.purge_step_logs", ignore_result=True)
def purge_step_logs() -> int:
    return scheduler.purge_step_logs()
