"""Running steps against the database: lock, run, log, advance — exactly once per step.

Each call locks the enrollment row for the whole step. A duplicated or redelivered task
waits on that lock and then finds the enrollment has moved on (its ``step_count`` no longer
matches), so a finished step never runs twice. A worker killed mid-step rolls the
transaction back; the step runs again with the same idempotency key.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from engine.effects.contacts import load_snapshot
from engine.effects.live_services import LiveServices
from engine.handlers.base import is_pure
from engine.runtime import queue, state
from engine.runtime.context import template_data
from engine.runtime.flow import Flow, flow_for_version
from engine.runtime.machine import (
    GOAL_TIMEOUT,
    RETRY,
    Directive,
    LogEntry,
    RunState,
    check_interrupts,
    ended_wait,
    execute,
    go_to,
    goal_timed_out,
)
from workflows.models import Enrollment, ScheduledAction, StepLog

logger = logging.getLogger(__name__)

# Bound on pure steps run back to back in one task (a loop still meets the visit limit).
MAX_INLINE_STEPS = 25


def lock_enrollment(enrollment_id: int) -> Enrollment | None:
    # No join: the version's definition comes from the per-process flow cache.
    return Enrollment.objects.select_for_update().filter(pk=enrollment_id).first()


def run_state_of(enrollment: Enrollment) -> RunState:
    return RunState(
        status=enrollment.status,
        current_step=enrollment.current_step,
        context=enrollment.context or {},
        visits=enrollment.visits or {},
        step_count=enrollment.step_count,
        exit_reason=enrollment.exit_reason,
        error=enrollment.error,
    )


def template_data_for(
    enrollment: Enrollment, run: RunState, flow: Flow, now: datetime
) -> dict[str, Any]:
    return template_data(
        contact=load_snapshot(enrollment.contact_id),
        context=run.context,
        flow=flow,
        workflow_id=enrollment.workflow_id,
        enrollment={
            "id": enrollment.pk,
            "enrolled_at": enrollment.enrolled_at.isoformat() if enrollment.enrolled_at else None,
            "seed": run.context.get("seed"),
        },
        now=now,
    )


def step_run(*, enrollment_id: int, step_id: str, seq: int) -> str:
    """Run ``step_id`` if the enrollment is still at it; returns what happened (for logs, tests)."""
    with transaction.atomic():
        enrollment = lock_enrollment(enrollment_id)
        if enrollment is None or enrollment.status not in state.LIVE:
            return "gone"
        if enrollment.step_count != seq or enrollment.current_step != step_id:
            return "stale"
        return _drive(enrollment, step_id)


def action_run(*, action_id: int) -> str:
    """Run a claimed ScheduledAction (a delay, a wait's end, a goal timeout or a retry)."""
    action = ScheduledAction.objects.filter(pk=action_id).only("enrollment_id").first()
    if action is None:
        return "gone"
    with transaction.atomic():
        enrollment = lock_enrollment(action.enrollment_id)
        action = ScheduledAction.objects.select_for_update().get(pk=action_id)
        if action.status not in (ScheduledAction.Status.CLAIMED, ScheduledAction.Status.PENDING):
            return "done-already"
        action.status = ScheduledAction.Status.DONE
        action.save(update_fields=["status"])
        if enrollment is None or enrollment.status not in state.LIVE:
            return "gone"
        if enrollment.step_count != action.seq:
            return "stale"
        return _resume(enrollment, action)


def _resume(enrollment: Enrollment, action: ScheduledAction) -> str:
    flow = flow_for_version(enrollment.version_id)
    run = run_state_of(enrollment)
    now = timezone.now()
    if action.kind == GOAL_TIMEOUT:
        data = template_data_for(enrollment, run, flow, now)
        logs, directive = goal_timed_out(run, flow, action.step_id, data, now)
        persist(enrollment, run, flow, logs, directive, now)
        return "goal-timeout"
    if action.kind == RETRY:
        attempt = int((run.context.get("retry") or {}).get("attempt", 2))
        return _drive(enrollment, action.step_id, attempt=attempt)
    if action.kind == ScheduledAction.Kind.RESUME:
        directive = go_to(run, flow, action.step_id, now)
        if directive.kind != "run":
            persist(enrollment, run, flow, [], directive, now)
            return directive.kind
    return _drive(enrollment, run.current_step or action.step_id, run=run)


def _drive(
    enrollment: Enrollment, step_id: str, *, attempt: int = 1, run: RunState | None = None
) -> str:
    flow = flow_for_version(enrollment.version_id)
    run = run or run_state_of(enrollment)
    now = timezone.now()
    data = template_data_for(enrollment, run, flow, now)
    services = LiveServices(tenant_id=enrollment.tenant_id, enrollment=enrollment)
    entries: list[LogEntry] = []
    for _ in range(MAX_INLINE_STEPS):
        interrupted = check_interrupts(run, flow, data, now)
        if interrupted is not None:
            logs, directive = interrupted
            entries.extend(logs)
            persist(enrollment, run, flow, entries, directive, now)
            return "interrupted"
        entry, directive = execute(
            run,
            flow,
            step_id,
            data=data,
            services=services,
            now=now,
            tenant_id=enrollment.tenant_id,
            enrollment_id=enrollment.pk,
            contact_id=enrollment.contact_id,
            attempt=attempt,
        )
        entries.append(entry)
        # Pure steps (branches, splits, exits) follow in the same task: no broker round trip.
        if directive.kind != "run" or not is_pure(flow.step(directive.step_id).get("type", "")):
            break
        step_id, attempt = directive.step_id, 1
    persist(enrollment, run, flow, entries, directive, now)
    return entry.status


def persist(
    enrollment: Enrollment,
    run: RunState,
    flow: Flow,
    logs: list[LogEntry],
    directive: Directive,
    now: datetime,
) -> None:
    if enrollment.status == Enrollment.Status.WAITING:
        close_waiting_logs(enrollment, logs, now)
    state.move(enrollment, run.status)
    enrollment.current_step = run.current_step
    enrollment.context = run.context
    enrollment.visits = run.visits
    enrollment.step_count = run.step_count
    enrollment.exit_reason = run.exit_reason
    enrollment.error = run.error
    fields = ["status", "current_step", "context", "visits", "step_count", "exit_reason", "error"]
    if directive.kind == "finish":
        enrollment.completed_at = now
        fields.append("completed_at")
        cancel_pending(enrollment.pk)
    enrollment.save(update_fields=[*fields, "updated_at"])
    write_logs(enrollment, logs)
    apply_directive(enrollment, run, directive)


def close_waiting_logs(enrollment: Enrollment, decisions: list[LogEntry], now: datetime) -> int:
    """End the enrollment's open ``waiting`` step logs: it is moving on (see ``ended_wait``)."""
    open_logs = StepLog.objects.filter(enrollment_id=enrollment.pk, status=StepLog.Status.WAITING)
    for log in open_logs:
        log.status, log.parsed_output, log.duration_ms = ended_wait(
            step_id=log.step_id,
            step_type=log.step_type,
            output=log.parsed_output,
            started_at=log.started_at,
            now=now,
            decisions=decisions,
        )
        log.finished_at = now
        log.save(update_fields=["status", "parsed_output", "duration_ms", "finished_at"])
    return len(open_logs)


def cancel_pending(enrollment_id: int) -> int:
    return ScheduledAction.objects.filter(
        enrollment_id=enrollment_id, status=ScheduledAction.Status.PENDING
    ).update(status=ScheduledAction.Status.CANCELLED)


def apply_directive(enrollment: Enrollment, run: RunState, directive: Directive) -> None:
    if directive.kind == "run":
        args = [enrollment.pk, directive.step_id, run.step_count]
        transaction.on_commit(lambda: queue.dispatch(queue.RUN_STEP, args))
    elif directive.kind == "schedule":
        ScheduledAction.objects.create(
            tenant_id=enrollment.tenant_id,
            enrollment_id=enrollment.pk,
            step_id=directive.step_id,
            kind=directive.schedule_kind,
            seq=run.step_count,
            due_at=directive.due_at,
        )


def write_logs(enrollment: Enrollment, logs: list[LogEntry]) -> None:
    if not logs:
        return
    StepLog.objects.bulk_create(
        [
            StepLog(
                tenant_id=enrollment.tenant_id,
                workflow_id=enrollment.workflow_id,
                version_id=enrollment.version_id,
                enrollment_id=enrollment.pk,
                triggering_object_id=str(enrollment.contact_id),
                step_id=entry.step_id,
                step_type=entry.step_type,
                step_name=entry.step_name,
                visit=entry.visit,
                attempt=entry.attempt,
                status=entry.status,
                input_context=_jsonable(entry.input),
                raw_output=_jsonable(entry.raw_output),
                parsed_output=_jsonable(
                    entry.parsed_output if entry.parsed_output is not None else entry.output
                ),
                error_message=entry.error,
                next_step=entry.next_step,
                model_name=entry.model_name,
                input_tokens=entry.input_tokens,
                output_tokens=entry.output_tokens,
                token_usage=_total_tokens(entry),
                cost=entry.cost,
                prompt_id=entry.prompt_id,
                started_at=entry.started_at,
                finished_at=entry.finished_at,
                duration_ms=entry.duration_ms,
            )
            for entry in logs
        ]
    )


def _total_tokens(entry: LogEntry) -> int | None:
    if entry.input_tokens is None and entry.output_tokens is None:
        return None
    return (entry.input_tokens or 0) + (entry.output_tokens or 0)


def _jsonable(value: Any) -> Any:
    """StepLog JSON columns take plain data; datetimes and decimals become strings."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
