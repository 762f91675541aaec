"""The stepping rules, free of the database, shared by the live executor and the dry-run.

``RunState`` is an enrollment's mutable state; each function here changes it and returns a
``Directive`` (run a step now, schedule something, or nothing more) plus log entries. The
executor persists those; the dry-run plays them on a virtual clock.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from engine.effects.idempotency import possible_duplicates, watch_duplicates
from engine.handlers import handler_for
from engine.handlers.base import StepFailed, StepResult
from engine.handlers.goal import goal_met
from engine.language.conditions import ConditionError, evaluate
from engine.runtime.context import step_context
from engine.runtime.flow import Flow, parse_target

logger = logging.getLogger(__name__)

ACTIVE, WAITING = "active", "waiting"
COMPLETED, EXITED, FAILED = "completed", "exited", "failed"
RUN_STEP, RESUME, GOAL_TIMEOUT, RETRY = "run_step", "resume", "goal_timeout", "retry"
MAX_ATTEMPTS = 3
RETRY_BASE = timedelta(seconds=10)


@dataclass
class RunState:
    status: str
    current_step: str
    context: dict[str, Any]
    visits: dict[str, int]
    step_count: int
    exit_reason: str = ""
    error: str = ""

    @property
    def steps(self) -> dict[str, Any]:
        return self.context.setdefault("steps", {})

    @property
    def goals_reached(self) -> list[str]:
        return self.context.setdefault("goals_reached", [])


@dataclass
class Directive:
    kind: str  # "run" | "schedule" | "finish" | "none"
    step_id: str = ""
    due_at: datetime | None = None
    schedule_kind: str = RUN_STEP


@dataclass
class LogEntry:
    step_id: str
    step_type: str
    status: str
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    step_name: str = ""
    visit: int = 1
    attempt: int = 1
    input: Any = None
    output: Any = None
    raw_output: Any = None
    parsed_output: Any = None
    error: str = ""
    next_step: str = ""
    model_name: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    thinking_tokens: int | None = None
    cached_tokens: int | None = None
    cost: Decimal | None = None
    prompt_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    possible_duplicate: bool = False  # re-sent a provider call that may have completed


def finish(state: RunState, status: str, *, reason: str = "", error: str = "") -> Directive:
    state.status = status
    state.exit_reason = reason
    state.error = error
    return Directive("finish")


def go_to(state: RunState, flow: Flow, target: str, now: datetime) -> Directive:
    """Move to a target: a terminal ends the run; a step runs now or after its delay."""
    kind, value = parse_target(target)
    if kind == "end":
        state.current_step = ""
        return finish(state, COMPLETED)
    if kind == "exit":
        state.current_step = ""
        return finish(state, EXITED, reason=value or "exit")
    if not flow.has_step(value):
        return finish(state, FAILED, error=f"unknown target step '{value}'")
    state.current_step = value
    delay = flow.delay_of(value)
    if delay > timedelta(0):
        state.status = WAITING
        return Directive("schedule", value, now + delay, RUN_STEP)
    state.status = ACTIVE
    return Directive("run", value)


def _instant_log(step: dict, status: str, now: datetime, **fields: Any) -> LogEntry:
    return LogEntry(
        step_id=step["id"],
        step_type=step.get("type", ""),
        step_name=step.get("name", ""),
        status=status,
        started_at=now,
        finished_at=now,
        duration_ms=0,
        **fields,
    )


def ended_wait(
    *,
    step_id: str,
    step_type: str,
    output: Any,
    started_at: datetime,
    now: datetime,
    decisions: list[LogEntry],
    interrupted: str | None = None,
) -> tuple[str, dict[str, Any], int]:
    """How a step's open ``waiting`` log ends when the enrollment moves on at ``now``.

    ``interrupted`` (why the enrollment left the wait early: ``exit: manual``,
    ``exit_condition``, ``goal``, ``workflow_archived``) ends it ``cancelled`` with
    ``ended_by`` in the output, unless the step is a goal that decided now (met / timed out).

    Returns ``(status, output, duration_ms)``: ``succeeded``, the output with
    ``waited_seconds`` (seconds actually waited, not the planned duration kept in
    ``resume_at``) and ``ended_at``; for a goal also ``met`` and ``timed_out`` as decided by
    the log written for it now (both false when something else, such as an exit condition
    or a manual exit, ended the wait). Shared by the live executor and the dry-run, so a
    timeline never shows a finished wait as still waiting (issue 15).
    """
    waited = max(0, int((now - started_at) / timedelta(seconds=1)))
    ended = dict(output) if isinstance(output, dict) else {}
    ended.update(waited_seconds=waited, ended_at=now.isoformat())
    if step_type == "goal":
        decision = next(
            (e.output for e in decisions if e.step_id == step_id and isinstance(e.output, dict)),
            {},
        )
        ended.update(met=bool(decision.get("met")), timed_out=bool(decision.get("timed_out")))
        if decision:
            interrupted = None
    if interrupted:
        ended["ended_by"] = interrupted
        return "cancelled", ended, waited * 1000
    return "succeeded", ended, waited * 1000


def check_interrupts(
    state: RunState, flow: Flow, data: dict[str, Any], now: datetime
) -> tuple[list[LogEntry], Directive] | None:
    """Exit conditions first, then goals met anywhere in the workflow (jump to them)."""
    exit_rules = flow.settings.get("exit_conditions")
    if exit_rules:
        errors: list[str] = []
        try:
            exiting = evaluate(exit_rules, data, errors=errors)
        except ConditionError as exc:
            logger.warning("exit conditions of %s are malformed: %s", flow.name, exc)
            exiting = False
        for error in errors:  # a failing expression does not hold; the steps carry on
            logger.warning("exit conditions of %s: %s", flow.name, error)
        if exiting:
            pseudo = {"id": "exit_conditions", "type": "exit"}
            entry = _instant_log(pseudo, "succeeded", now, output={"reason": "exit_condition"})
            state.current_step = ""
            return [entry], finish(state, EXITED, reason="exit_condition")
    for goal_id in flow.goal_ids:
        if goal_id in state.goals_reached:
            continue
        goal = flow.step(goal_id)
        try:
            met = goal_met(goal, data)
        except StepFailed:
            met = False
        if not met:
            continue
        state.goals_reached.append(goal_id)
        output = {"met": True, "jumped_from": state.current_step}
        state.steps[goal_id] = output
        state.visits[goal_id] = state.visits.get(goal_id, 0) + 1
        state.step_count += 1
        target = (goal.get("config") or {}).get("on_success") or flow.successor(goal_id)
        entry = _instant_log(goal, "succeeded", now, output=output, next_step=target)
        return [entry], go_to(state, flow, target, now)
    return None


def goal_timed_out(state: RunState, flow: Flow, goal_id: str, data: dict, now: datetime):
    """A goal's timeout came: a last look at the condition, then on_timeout."""
    goal = flow.step(goal_id)
    config = goal.get("config") or {}
    met = goal_met(goal, data)
    if met:
        state.goals_reached.append(goal_id)
        target = config.get("on_success") or flow.successor(goal_id)
    else:
        target = config.get("on_timeout") or flow.successor(goal_id)
    output = {"met": met, "timed_out": not met}
    state.steps[goal_id] = output
    state.step_count += 1
    entry = _instant_log(goal, "succeeded", now, output=output, next_step=target)
    return [entry], go_to(state, flow, target, now)


def execute(
    state: RunState,
    flow: Flow,
    step_id: str,
    *,
    data: dict[str, Any],
    services: Any,
    now: datetime,
    tenant_id: int,
    enrollment_id: int | None,
    contact_id: Any,
    attempt: int = 1,
) -> tuple[LogEntry, Directive]:
    """Run one step through its handler and decide what comes next."""
    step = flow.step(step_id)
    visit = state.visits.get(step_id, 0) + 1
    started = time.perf_counter()
    if visit > flow.max_step_visits:
        error = f"step '{step_id}' reached the visit limit of {flow.max_step_visits} (a loop?)"
        entry = _instant_log(step, "failed", now, visit=visit, error=error)
        return entry, finish(state, FAILED, error=error)
    ctx = step_context(
        data=data,
        flow=flow,
        step_id=step_id,
        now=now,
        tenant_id=tenant_id,
        enrollment_id=enrollment_id,
        contact_id=contact_id,
        visit=visit,
        services=services,
    )
    watching = watch_duplicates()
    try:
        result = handler_for(step.get("type", "")).handle(ctx, step)
    except StepFailed as exc:
        outcome = _failed(state, flow, step, exc, now, visit, attempt, started)
    except Exception as exc:  # a bug in a handler must not leave the enrollment stuck
        logger.exception("step %s crashed", step_id)
        failure = StepFailed(f"{type(exc).__name__}: {exc}")
        outcome = _failed(state, flow, step, failure, now, visit, attempt, started)
    else:
        outcome = _succeeded(state, flow, step, result, now, visit, attempt, started)
    outcome[0].possible_duplicate = possible_duplicates(watching)
    return outcome


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _entry_from_result(step, result: StepResult, now, visit, attempt, started) -> LogEntry:
    return LogEntry(
        step_id=step["id"],
        step_type=step.get("type", ""),
        step_name=step.get("name", ""),
        status=result.status,
        started_at=now,
        finished_at=now + timedelta(milliseconds=_elapsed_ms(started)),
        duration_ms=_elapsed_ms(started),
        visit=visit,
        attempt=attempt,
        input=result.input,
        output=result.output,
        raw_output=result.raw_output,
        parsed_output=result.parsed_output,
        model_name=result.model_name,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        thinking_tokens=result.thinking_tokens,
        cached_tokens=result.cached_tokens,
        cost=result.cost,
        prompt_id=result.prompt_id,
    )


def _succeeded(state, flow, step, result: StepResult, now, visit, attempt, started):
    step_id = step["id"]
    state.visits[step_id] = visit
    state.step_count += 1
    state.steps[step_id] = result.output
    state.context.pop("retry", None)
    entry = _entry_from_result(step, result, now, visit, attempt, started)
    if result.waiting_for_goal:
        state.status = WAITING
        state.current_step = step_id
        if result.resume_at is None:
            return entry, Directive("none")
        return entry, Directive("schedule", step_id, result.resume_at, GOAL_TIMEOUT)
    target = result.next or flow.successor(step_id)
    entry.next_step = target
    if result.resume_at is not None:
        state.status = WAITING
        kind, value = parse_target(target)
        state.current_step = value if kind == "step" else ""
        return entry, Directive("schedule", target, result.resume_at, RESUME)
    return entry, go_to(state, flow, target, now)


def retry_delay(attempt: int) -> timedelta:
    return RETRY_BASE * (2 ** (attempt - 1))


def _failed(state, flow, step, exc: StepFailed, now, visit, attempt, started):
    step_id = step["id"]
    entry = _instant_log(step, "failed", now, visit=visit, attempt=attempt, error=str(exc))
    entry.duration_ms = _elapsed_ms(started)
    entry.output = exc.output or None
    for name, value in exc.usage.items():  # paid work still counts in usage and cost caps
        if hasattr(entry, name):
            setattr(entry, name, value)
    if exc.transient and attempt < MAX_ATTEMPTS:
        entry.status = "retrying"
        state.status = WAITING
        state.current_step = step_id
        state.context["retry"] = {"step": step_id, "attempt": attempt + 1}
        return entry, Directive("schedule", step_id, now + retry_delay(attempt), RETRY)
    state.context.pop("retry", None)
    state.visits[step_id] = visit
    state.step_count += 1
    state.steps[step_id] = {"error": str(exc), **exc.output}
    on_error = step.get("on_error") or "fail"
    if on_error == "fail":
        state.current_step = step_id
        return entry, finish(state, FAILED, error=f"step '{step_id}' failed: {exc}")
    target = flow.successor(step_id) if on_error == "continue" else on_error
    entry.next_step = target
    return entry, go_to(state, flow, target, now)
