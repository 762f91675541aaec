"""Retrying the step a failed enrollment stopped at: the one transition out of ``failed``.

The step runs again with the visit it failed on, so its idempotency key
(``enr{id}:{step}:{visit}``) is the same as before: a side effect that already happened (a
``done`` SideEffect row) is replayed from its stored result and never sent twice, while one
that failed (no row, or a row left unfinished by the error) is attempted again with the same
key, which the provider receives too. The new step log carries the next attempt number.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max

from engine.runtime import state
from engine.runtime.executor import apply_directive, hold_step, lock_enrollment, run_state_of
from engine.runtime.flow import flow_for_version
from engine.runtime.machine import Directive
from workflows.models import Enrollment, StepLog, Workflow


class RetryRefused(Exception):
    """The enrollment cannot be retried; the message says why (shown to the user as is)."""


@dataclass(frozen=True)
class RetryStarted:
    """A retry that was set going: the step, the attempt it runs as, and whether it waits
    for the workflow to be resumed (``held``) instead of running now."""

    enrollment_id: int
    step_id: str
    attempt: int
    held: bool


def enrollment_retry(*, enrollment_id: int) -> RetryStarted:
    """Move a failed enrollment back to active and run its failed step again (after commit).

    Raises RetryRefused when the enrollment is gone or not failed, did not fail at a step
    (e.g. refused before running anything), its version no longer has that step, or its
    workflow is archived. On a paused workflow the step is held and runs on resume.
    """
    with transaction.atomic():
        enrollment = lock_enrollment(enrollment_id)
        if enrollment is None:
            raise RetryRefused(f"enrollment {enrollment_id} does not exist")
        if enrollment.status != Enrollment.Status.FAILED:
            raise RetryRefused(
                f"enrollment {enrollment.pk} is {enrollment.status}, not failed; "
                "only a failed enrollment can be retried"
            )
        step_id = enrollment.current_step
        failed_log = (
            StepLog.objects.filter(enrollment_id=enrollment.pk).order_by("-started_at", "-id")
        ).first()
        if not step_id or failed_log is None or failed_log.step_id != step_id:
            raise RetryRefused(
                f"enrollment {enrollment.pk} did not fail at a step "
                f"({enrollment.error or 'no error recorded'}); there is nothing to retry"
            )
        if failed_log.status != StepLog.Status.FAILED:
            raise RetryRefused(
                f"enrollment {enrollment.pk}: the last log of step '{step_id}' is "
                f"{failed_log.status}, not failed; there is nothing to retry"
            )
        flow = flow_for_version(enrollment.version_id)
        if not flow.has_step(step_id):
            raise RetryRefused(
                f"enrollment {enrollment.pk}: version {enrollment.version.number} of its "
                f"workflow no longer has step '{step_id}'"
            )
        workflow_status = (
            Workflow.objects.filter(pk=enrollment.workflow_id).values_list("status", flat=True)
        ).first()
        if workflow_status == Workflow.Status.ARCHIVED:
            raise RetryRefused(
                f"enrollment {enrollment.pk}: its workflow is archived; restore it first"
            )
        attempts = StepLog.objects.filter(
            enrollment_id=enrollment.pk, step_id=step_id, visit=failed_log.visit
        ).aggregate(n=Max("attempt"))["n"]
        attempt = (attempts or failed_log.attempt) + 1
        run = run_state_of(enrollment)
        # The failed run counted the visit; undo that so the step runs as the same visit and
        # so with the same idempotency key (the side effect decides: replayed or re-sent).
        run.visits[step_id] = failed_log.visit - 1
        run.context["retry"] = {"step": step_id, "attempt": attempt, "manual": True}
        state.reopen(enrollment)
        enrollment.visits = run.visits
        enrollment.context = run.context
        enrollment.error = ""
        enrollment.completed_at = None
        held = workflow_status == Workflow.Status.PAUSED
        enrollment.held = held  # a paused workflow runs nothing: resume releases the step
        fields = ["status", "visits", "context", "error", "completed_at", "held", "updated_at"]
        enrollment.save(update_fields=fields)
        if held:
            hold_step(enrollment, step_id)
        else:
            apply_directive(enrollment, run, Directive("run", step_id))
    return RetryStarted(enrollment.pk, step_id, attempt, held)
