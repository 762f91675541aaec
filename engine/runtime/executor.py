"""Running steps against the database: lock, run, log, advance — exactly once per step.

Each call locks the enrollment row for the whole step. A duplicated or redelivered task
waits on that lock and then finds the enrollment has moved on (its ``step_count`` no longer
matches), so a finished step never runs twice. A worker killed mid-step rolls the
transaction back; the step runs again with the same idempotency key.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from engine.effects.contacts import load_snapshot
from engine.effects.crm_ops import LiveCrm
from engine.effects.durability import (
    has_reached_outside,
    relax_commit_if_local,
    tracking_outside_calls,
)
from engine.effects.live_services import LiveServices
from engine.effects.prepared import first_row
from engine.effects.zones import workflow_zone
from engine.handlers.base import is_pure, stays_in_database
from engine.runtime import queue, state
from engine.runtime.budget import TaskBudget
from engine.runtime.contact_carry import contact_after
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
from engine.runtime.rows import update_beside, update_fields
from engine.runtime.tenancy import cross_tenant_problem
from workflows.models import Enrollment, ScheduledAction, StepLog

logger = logging.getLogger(__name__)

# Bound on pure steps run back to back in one task (a loop still meets the visit limit).
MAX_INLINE_STEPS = 25


def lock_enrollment(enrollment_id: int) -> Enrollment | None:
    """The enrollment row, locked (``SELECT … FOR UPDATE``) until the transaction ends; None
    when it is gone. Compiled once per process (``engine.effects.prepared``): every step
    transaction takes this lock. No join: the definition comes from the flow cache."""
    return first_row(
        key="executor: lock enrollment",
        build=lambda pk: Enrollment.objects.select_for_update().filter(pk=pk),
        probes=[_PROBE_ID],
        values=[enrollment_id],
    )


_PROBE_ID = -918_273_645  # where the id goes in the compiled statement


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
    enrollment: Enrollment,
    run: RunState,
    flow: Flow,
    now: datetime,
    *,
    contact: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What templates and conditions see; ``contact`` is a snapshot carried from the step
    before in the same task (loaded when None)."""
    return template_data(
        contact=contact if contact is not None else load_snapshot(enrollment.contact_id),
        context=run.context,
        flow=flow,
        workflow_id=enrollment.workflow_id,
        enrollment={
            "id": enrollment.pk,
            # In the workflow's zone, as every moment a run shows (the caller activated it).
            "enrolled_at": (
                timezone.localtime(enrollment.enrolled_at).isoformat()
                if enrollment.enrolled_at
                else None
            ),
            "seed": run.context.get("seed"),
        },
        now=now,
    )


@dataclass
class Next:
    """The step a task goes on to in a new transaction, and the contact snapshot it carries."""

    step_id: str
    seq: int
    contact: dict[str, Any] | None = None


@dataclass
class Outcome:
    status: str
    next: Next | None = None


def step_run(
    *,
    enrollment_id: int,
    step_id: str,
    seq: int,
    budget: TaskBudget | None = None,
    contact: dict[str, Any] | None = None,
) -> str:
    """Run ``step_id`` if the enrollment is still at it, then the steps after it while the
    task's budget lasts; returns what happened to the last one (for logs, tests).

    Each step — or run of steps that may share one (``_joins_transaction``) — is its own
    transaction (lock, run, log, commit), so a worker killed mid-way loses only that step or
    run, which the sweep sends again with the same idempotency keys.
    ``contact``: the contact's snapshot when the caller has just taken it (else loaded).
    """
    return _chain(enrollment_id, Next(step_id, seq, contact), budget or TaskBudget.start())


def first_steps_run(
    enrollment: Enrollment, step_id: str, *, contact: dict[str, Any] | None
) -> Callable[[], str]:
    """Inside the transaction that has just created ``enrollment``: run its first steps there.

    The row is this transaction's own (no other session sees it before the commit), so no
    lock, tenancy or pause check is needed, and the enrollment, its first steps and their
    logs commit together — synchronously, as every enrollment's creation does. Returns what
    to call after the commit: it goes on with the steps that need transactions of their own
    (``step_run``'s rules) and says what happened to the last one.
    """
    budget = TaskBudget.start()
    with tracking_outside_calls():
        outcome = _drive(enrollment, step_id, budget=budget, contact=contact)
    if outcome.next is None:
        return lambda: outcome.status
    return lambda: _chain(enrollment.pk, outcome.next, budget)


def _chain(enrollment_id: int, step: Next, budget: TaskBudget) -> str:
    while True:
        with transaction.atomic(), tracking_outside_calls() as outside:
            enrollment = lock_enrollment(enrollment_id)
            if enrollment is None or enrollment.status not in state.LIVE:
                return "gone"
            if enrollment.step_count != step.seq or enrollment.current_step != step.step_id:
                return "stale"
            if _refused(enrollment):
                return "refused"
            if workflow_paused(enrollment):
                hold_step(enrollment, step.step_id)
                return "held"
            outcome = _drive(enrollment, step.step_id, budget=budget, contact=step.contact)
            relax_commit_if_local(outside)
        if outcome.next is None:
            return outcome.status
        step = outcome.next


def workflow_paused(enrollment: Enrollment) -> bool:
    """Asked after the enrollment lock: a pause sets ``held`` on the live enrollments it
    locks, so a step that waited for that lock reads the held row."""
    return enrollment.held


def hold_step(enrollment: Enrollment, step_id: str) -> None:
    """A step queued before a pause: keep it as a held action that resume releases (once)."""
    ScheduledAction.objects.get_or_create(
        enrollment_id=enrollment.pk,
        step_id=step_id,
        seq=enrollment.step_count,
        status=ScheduledAction.Status.HELD,
        defaults={"tenant_id": enrollment.tenant_id, "due_at": timezone.now()},
    )


def action_run(*, action_id: int) -> str:
    """Run a claimed ScheduledAction (a delay, a wait's end, a goal timeout or a retry)."""
    action = ScheduledAction.objects.filter(pk=action_id).only("enrollment_id").first()
    if action is None:
        return "gone"
    budget = TaskBudget.start()
    with transaction.atomic(), tracking_outside_calls() as outside:
        enrollment = lock_enrollment(action.enrollment_id)
        action = ScheduledAction.objects.select_for_update().get(pk=action_id)
        if action.status == ScheduledAction.Status.HELD:
            return "held"  # claimed just before a pause; resume makes it pending again
        if action.status not in (ScheduledAction.Status.CLAIMED, ScheduledAction.Status.PENDING):
            return "done-already"
        action.status = ScheduledAction.Status.DONE
        action.save(update_fields=["status"])
        if enrollment is None or enrollment.status not in state.LIVE:
            return "gone"
        if enrollment.step_count != action.seq:
            return "stale"
        if _refused(enrollment):
            return "refused"
        outcome = _resume(enrollment, action, budget)
        relax_commit_if_local(outside)
    if outcome.next is None:
        return outcome.status
    return _chain(enrollment.pk, outcome.next, budget)


def _refused(enrollment: Enrollment) -> bool:
    """Fail (without running anything) an enrollment whose links leave its tenant."""
    problem = cross_tenant_problem(enrollment)
    if problem is None:
        return False
    logger.error("%s", problem)
    state.move(enrollment, Enrollment.Status.FAILED)
    enrollment.error = problem
    enrollment.completed_at = timezone.now()
    enrollment.save(update_fields=["status", "error", "completed_at", "updated_at"])
    cancel_pending(enrollment.pk)
    return True


def _zoned(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``func(enrollment, …)`` in the workflow's time zone: templates, filters, conditions
    and waits all read and show moments there (engine.effects.zones)."""

    @functools.wraps(func)
    def wrapper(enrollment: Enrollment, *args: Any, **kwargs: Any) -> Any:
        flow = flow_for_version(enrollment.version_id)
        with timezone.override(workflow_zone(flow.settings, enrollment.tenant_id)):
            return func(enrollment, *args, **kwargs)

    return wrapper


@_zoned
def _resume(enrollment: Enrollment, action: ScheduledAction, budget: TaskBudget) -> Outcome:
    flow = flow_for_version(enrollment.version_id)
    run = run_state_of(enrollment)
    now = timezone.now()
    if action.kind == GOAL_TIMEOUT:
        data = template_data_for(enrollment, run, flow, now)
        logs, directive = goal_timed_out(run, flow, action.step_id, data, now)
        persist(enrollment, run, flow, logs, directive, now)
        return Outcome("goal-timeout")
    if action.kind == RETRY:
        attempt = int((run.context.get("retry") or {}).get("attempt", 2))
        return _drive(enrollment, action.step_id, attempt=attempt, budget=budget)
    if action.kind == ScheduledAction.Kind.RESUME:
        directive = go_to(run, flow, action.step_id, now)
        if directive.kind != "run":
            persist(enrollment, run, flow, [], directive, now)
            return Outcome(directive.kind)
    return _drive(enrollment, run.current_step or action.step_id, run=run, budget=budget)


@_zoned
def _drive(
    enrollment: Enrollment,
    step_id: str,
    *,
    budget: TaskBudget,
    attempt: int | None = None,
    run: RunState | None = None,
    contact: dict[str, Any] | None = None,
) -> Outcome:
    """Run ``step_id`` and the steps after it that may share its transaction
    (``_joins_transaction``: pure ones, and database-only ones while nothing reached outside);
    say what comes next.

    ``attempt`` defaults to the one a pending retry of ``step_id`` recorded in the context
    (``context["retry"]``, set by a transient failure or a manual retry), else 1.
    """
    flow = flow_for_version(enrollment.version_id)
    run = run or run_state_of(enrollment)
    if attempt is None:
        attempt = pending_attempt(run, step_id)
    now = timezone.now()
    data = template_data_for(enrollment, run, flow, now, contact=contact)
    services = LiveServices(tenant_id=enrollment.tenant_id, enrollment=enrollment)
    links = _deferring_links(services, flow)
    entries: list[LogEntry] = []
    stale = False  # the step before changed the contact in a way the snapshot cannot follow
    local = True  # every step so far in this transaction only decided or wrote this database
    for _ in range(MAX_INLINE_STEPS):
        if links is not None and not _defers_link(flow, step_id):
            links.flush_links(enrollment.contact_id)
        if stale:
            data["contact"], stale = load_snapshot(enrollment.contact_id), False
        interrupted = check_interrupts(run, flow, data, now)
        if interrupted is not None:
            logs, directive = interrupted
            entries.extend(logs)
            persist(enrollment, run, flow, entries, directive, now, links=links)
            return Outcome("interrupted")
        step_started = timezone.now()
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
        _stamp_real_start(entry, now, step_started)
        entries.append(entry)
        budget.spend()
        if not is_pure(entry.step_type):
            carried = contact_after(data["contact"], [entry])
            data["contact"], stale = (carried, False) if carried is not None else ({}, True)
        local = local and (is_pure(entry.step_type) or stays_in_database(entry.step_type))
        if directive.kind != "run" or not _joins_transaction(
            flow, directive.step_id, budget, local
        ):
            break
        step_id, attempt = directive.step_id, 1
    # A step that must happen now goes on in this task (a new transaction) while the budget
    # lasts: no broker round trip; past it, the broker's queue takes it (fair to the others).
    go_on = directive.kind == "run" and budget.left
    # The links still deferred ride in persist's statement (LiveCrm.folded_links).
    persist(enrollment, run, flow, entries, directive, now, dispatch=not go_on, links=links)
    if not go_on:
        return Outcome(entry.status)
    snapshot = None if stale else data["contact"]
    return Outcome(entry.status, Next(directive.step_id, run.step_count, snapshot))


def _deferring_links(services: LiveServices, flow: Flow) -> LiveCrm | None:
    """The step transaction's CRM writer with ``add_tag`` links deferred (``LiveCrm.
    flush_links``: one statement for a run of tag steps; ``folded_links``: none of their own
    at the end of the transaction), or None where that cannot help: off
    PostgreSQL, and in a workflow with exit conditions or goals (they are checked between
    steps and could read a deferred step's output)."""
    if connection.vendor != "postgresql" or flow.goal_ids or flow.settings.get("exit_conditions"):
        return None
    links = services.crm
    links.defer_links = True
    return links


def _defers_link(flow: Flow, step_id: str) -> bool:
    """May ``step_id`` run with links still deferred? Only a step whose only text is plain (no
    template, so it reads nothing a deferred step wrote) and that writes nothing but a link:
    an ``add_tag`` (it records its link), or an ``exit`` (it only ends the run; its reason
    defaults to ``exit``). Anything else first has the deferred links written and their
    outputs settled."""
    step = flow.step(step_id)
    config = step.get("config") or {}
    kind = step.get("type")
    if kind == "add_tag":
        text = config.get("tag")
    elif kind == "exit":
        text = config.get("reason") or "exit"
    else:
        return False
    return isinstance(text, str) and "{" not in text


def _stamp_real_start(entry: LogEntry, now: datetime, started: datetime) -> None:
    """Log when the step really started: the steps of one transaction share its ``now`` (what
    their templates, conditions and waits read) but run one after another."""
    if entry.started_at == now and started > now:
        shift = started - now
        entry.started_at += shift
        entry.finished_at += shift


def _joins_transaction(flow: Flow, step_id: str, budget: TaskBudget, local: bool) -> bool:
    """May ``step_id`` run in the transaction of the steps before it?

    Pure steps (branches, splits, exits) always may. So may a step that writes only this
    database (tags, contact fields, tasks: ``StepHandler.in_database``) while every step
    before it in the transaction was such a step or a pure one (``local``), nothing has reached
    outside (a CRM receiver's HTTP call, say) and the task's budget lasts: its writes and the
    enrollment's advance commit together or not at all, so exactly-once holds as for one step
    per transaction, a killed worker loses only database work that the sweep redoes, and the
    commit still waits for the disk only when a provider was called
    (engine/effects/durability.py). A step that calls a provider starts a new transaction.
    """
    kind = flow.step(step_id).get("type", "")
    if is_pure(kind):
        return True
    return local and stays_in_database(kind) and not has_reached_outside() and budget.left


def pending_attempt(run: RunState, step_id: str) -> int:
    """The attempt number a retry of ``step_id`` runs as (1 when none is pending)."""
    retry = run.context.get("retry") or {}
    return int(retry.get("attempt", 1)) if retry.get("step") == step_id else 1


def persist(
    enrollment: Enrollment,
    run: RunState,
    flow: Flow,
    logs: list[LogEntry],
    directive: Directive,
    now: datetime,
    *,
    dispatch: bool = True,
    interrupted: str | None = None,
    links: LiveCrm | None = None,
) -> None:
    """One UPDATE of the enrollment with its step logs' INSERT (one statement on PostgreSQL,
    ``rows.update_fields(…, inserting=…)``), then the directive
    (``dispatch=False``: the caller runs the next step itself; ``interrupted``: why a wait is
    being left early, see ``ended_wait``; ``links``: the transaction's CRM writer, whose
    deferred tag links the same statement writes, ``rows.update_beside``)."""
    was_waiting = enrollment.status == state.S.WAITING
    if was_waiting:
        close_waiting_logs(enrollment, logs, now, interrupted=interrupted)
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
        if was_waiting:
            # Only a waiting enrollment has scheduled work (a running one marked it done).
            cancel_pending(enrollment.pk)
    # save(update_fields=…) with the step logs' INSERT (and the deferred tag links) in the
    # same statement.
    names, inserting = (*fields, "updated_at"), (StepLog, log_rows(enrollment, logs))
    folded = links.folded_links(enrollment.contact_id) if links is not None else None
    if folded is None:
        update_fields(enrollment, names, inserting=inserting)
    else:
        beside, settle = folded
        contradicted = settle(update_beside(enrollment, names, beside, inserting=inserting))
        if contradicted:
            rewrite_outputs(enrollment, logs, contradicted)
    if dispatch or directive.kind != "run":
        apply_directive(enrollment, run, directive)


def rewrite_outputs(enrollment: Enrollment, logs: list[LogEntry], outputs: list[Any]) -> int:
    """Write again the ``outputs`` (the very objects the step logs and the context hold) that
    changed after ``persist`` wrote them: the context once, and each step log that carries one
    (found by its enrollment, step, visit, attempt and start). Returns the logs rewritten."""
    update_fields(enrollment, ("context",))
    changed = {id(output) for output in outputs}
    rewritten = 0
    for entry in logs:
        if id(entry.output) in changed and entry.parsed_output is None:
            rewritten += StepLog.objects.filter(
                enrollment_id=enrollment.pk,
                step_id=entry.step_id,
                visit=entry.visit,
                attempt=entry.attempt,
                started_at=entry.started_at,
            ).update(parsed_output=_jsonable(entry.output))
    return rewritten


def close_waiting_logs(
    enrollment: Enrollment,
    decisions: list[LogEntry],
    now: datetime,
    *,
    interrupted: str | None = None,
) -> int:
    """End the enrollment's open ``waiting`` step logs: it is moving on (see ``ended_wait``).
    A wait left early (``interrupted``) ends ``cancelled``, with no next step."""
    return end_waiting_logs([enrollment.pk], now, decisions=decisions, interrupted=interrupted)


def end_waiting_logs(
    enrollment_ids: list[int],
    now: datetime,
    *,
    decisions: list[LogEntry] | None = None,
    interrupted: str | None = None,
) -> int:
    """Close the open ``waiting`` step logs of ``enrollment_ids`` at ``now`` (the real time
    waited, see ``ended_wait``); returns how many were closed."""
    open_logs = StepLog.objects.filter(
        enrollment_id__in=enrollment_ids, status=StepLog.Status.WAITING
    )
    for log in open_logs:
        log.status, log.parsed_output, log.duration_ms = ended_wait(
            step_id=log.step_id,
            step_type=log.step_type,
            output=log.parsed_output,
            started_at=log.started_at,
            now=now,
            decisions=decisions or [],
            interrupted=interrupted,
        )
        log.finished_at = now
        if log.status == StepLog.Status.CANCELLED:
            log.next_step = ""
        fields = ["status", "parsed_output", "duration_ms", "finished_at", "next_step"]
        log.save(update_fields=fields)
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


def log_rows(enrollment: Enrollment, logs: list[LogEntry]) -> list[dict[str, Any]]:
    """The StepLog rows (attname → value) of a step transaction's logs, written by one INSERT
    (``engine.runtime.rows``: its text built once per process, not compiled by the ORM)."""
    return [
        {
            "tenant_id": enrollment.tenant_id,
            "workflow_id": enrollment.workflow_id,
            "version_id": enrollment.version_id,
            "enrollment_id": enrollment.pk,
            "triggering_object_id": str(enrollment.contact_id),
            "step_id": entry.step_id,
            "step_type": entry.step_type,
            "step_name": entry.step_name,
            "visit": entry.visit,
            "attempt": entry.attempt,
            "status": entry.status,
            "input_context": _jsonable(entry.input),
            "raw_output": _jsonable(entry.raw_output),
            "parsed_output": _jsonable(
                entry.parsed_output if entry.parsed_output is not None else entry.output
            ),
            "error_message": entry.error,
            "next_step": entry.next_step,
            "model_name": entry.model_name,
            "input_tokens": entry.input_tokens,
            "output_tokens": entry.output_tokens,
            "thinking_tokens": entry.thinking_tokens,
            "cached_tokens": entry.cached_tokens,
            "token_usage": _total_tokens(entry),
            "cost": entry.cost,
            "prompt_id": entry.prompt_id,
            "started_at": entry.started_at,
            "finished_at": entry.finished_at,
            "duration_ms": entry.duration_ms,
            "possible_duplicate": entry.possible_duplicate,
        }
        for entry in logs
    ]


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
