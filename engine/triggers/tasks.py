"""Celery tasks of the trigger layer: each takes plain data and calls one service."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from engine.runtime import executor, queue
from engine.runtime.budget import TaskBudget, batch_deadline
from engine.triggers import dispatch, schedule, webhooks

logger = logging.getLogger(__name__)

__all__ = [
    "dispatch_event",
    "enroll_contact",
    "enroll_contacts",
    "run_first_steps",
    "run_schedule",
]


@shared_task(name="engine.tasks.dispatch_event", ignore_result=True)
def dispatch_event(events: list[dict[str, Any]]) -> list[int]:
    # Redelivery is harmless: the enrollment constraints let a contact in only once.
    return dispatch.events_dispatch(events=events)


@shared_task(name="engine.tasks.enroll_contact", ignore_result=True)
def enroll_contact(
    workflow_id: int,
    contact_id: Any,
    trigger: dict[str, Any],
    delivery: int | None = None,
    seen: dict[str, Any] | None = None,
) -> int | None:
    # ``delivery``: the WebhookDelivery row that records this work (webhooks); host code and
    # messages from before it omit it. A re-send of a settled delivery does nothing.
    # ``seen``: the workflow as the webhook request saw it (queue.delivery_enroll_args).
    return dispatch.contact_enroll(
        workflow_id=workflow_id, contact_id=contact_id, trigger=trigger, delivery=delivery,
        seen=seen,
    )  # fmt: skip


@shared_task(name="engine.tasks.enroll_contacts", ignore_result=True)
def enroll_contacts(batch: list[list[Any]]) -> int:
    """``enroll_contact`` for each argument list of ``batch`` (``queue.enrollments`` sends a
    burst of webhook deliveries as one task); returns how many enrolled. Each is its own
    transaction and claim, so one that fails does not stop the others, and a redelivered
    batch enrolls nobody twice (each delivery's claim holds)."""
    enrolled = 0
    with batch_deadline():  # the batch shares one time budget: fair to the queue behind it
        for args in batch:
            try:
                enrolled += enroll_contact(*args) is not None
            except Exception:  # its delivery stays owed: the sweep re-sends it
                logger.exception("enrolling %s of a batch failed", queue.args_brief(args))
    return enrolled


@shared_task(name="engine.tasks.run_schedule", ignore_result=True)
def run_schedule(workflow_id: int) -> int:
    return schedule.schedule_run(workflow_id=workflow_id)


@shared_task(name="engine.tasks.run_first_steps", ignore_result=True)
def run_first_steps(enrollment_ids: list[int], step_id: str, seq: int) -> int:
    """First steps of a bulk enrollment; one failing enrollment does not stop the others."""
    done = 0
    # One budget for the batch: once spent, each enrollment runs its first step only and
    # sends the rest through the broker, so a big batch does not hold the worker.
    budget = TaskBudget.start()
    for enrollment_id in enrollment_ids:
        try:
            executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq, budget=budget)
            done += 1
        except Exception:
            logger.exception("first step %s of enrollment %s failed", step_id, enrollment_id)
    return done


@shared_task(name="engine.tasks.purge_webhook_deliveries", ignore_result=True)
def purge_webhook_deliveries() -> int:
    # Replay protection only needs ids inside the timestamp tolerance; a day is ample.
    return webhooks.deliveries_purge()
