from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from engine.handlers.base import StepFailed, StepHandler, StepResult, register
from engine.runtime import executor
from engine.runtime.enrollment import (
    EnrollmentRefused,
    contact_recheck,
    enrollment_create,
    enrollment_exit,
)
from tests.cast import add_tag, make_contact, make_published, make_tenant
from workflows.models import Enrollment, ScheduledAction, StepLog, Workflow

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@register
class FlakyHandler(StepHandler):
    """Fails transiently while the contact's custom field ``failures`` is above the attempt."""

    kind = "test_flaky"

    def handle(self, ctx, step):
        failures = int(ctx.data["contact"]["custom_fields"].get("failures", 0))
        attempts = ctx.data["steps"].setdefault("flaky_attempts", {"n": 0})
        attempts["n"] += 1
        if attempts["n"] <= failures:
            raise StepFailed("provider said 503", transient=True)
        if ctx.data["contact"]["custom_fields"].get("permanent"):
            raise StepFailed("provider said 400: bad number")
        return StepResult(output={"ok": True})


@register
class CrashingHandler(StepHandler):
    kind = "test_crash"

    def handle(self, ctx, step):
        raise RuntimeError("bug in handler")


def branch_flow(**settings):
    return {
        "name": "Branch",
        "trigger": {"type": "manual"},
        "settings": settings,
        "steps": [
            {
                "id": "is_vip",
                "type": "condition",
                "config": {
                    "if": [{"field": "tags", "operator": "contains", "value": "vip"}],
                    "then": "exit_vip",
                    "else": "normal",
                },
            },
            {"id": "normal", "type": "wait", "config": {"duration": "1d"}},
        ],
    }


@pytest.fixture
def tenant():
    return make_tenant()


def test_it_takes_the_then_branch_and_exits_with_its_reason(tenant, inline_queue):
    workflow = make_published(tenant, branch_flow())
    contact = make_contact(tenant, tags=["vip"])
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    inline_queue.drain()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == "vip"
    assert enrollment.context["steps"]["is_vip"] == {"result": True}
    log = StepLog.objects.get(enrollment=enrollment)
    assert (log.step_id, log.status, log.next_step) == ("is_vip", "succeeded", "exit_vip")


def test_a_wait_becomes_a_scheduled_row_and_resumes_when_due(tenant, inline_queue):
    workflow = make_published(tenant, branch_flow())
    contact = make_contact(tenant)
    with time_machine.travel(START, tick=False):
        enrollment = enrollment_create(workflow=workflow, contact=contact)
        inline_queue.drain()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.WAITING
    action = ScheduledAction.objects.get(enrollment=enrollment)
    assert action.due_at == START + timedelta(days=1)
    with time_machine.travel(START + timedelta(hours=23), tick=False):
        assert inline_queue.tick() == []
    with time_machine.travel(START + timedelta(days=1, seconds=1), tick=False):
        assert inline_queue.tick() == ["finish"]
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    action.refresh_from_db()
    assert action.status == ScheduledAction.Status.DONE


def test_a_duplicated_step_task_runs_the_step_once(tenant, inline_queue):
    workflow = make_published(tenant, branch_flow())
    contact = make_contact(tenant, tags=["vip"])
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    inline_queue.run_on_commit()
    assert len(inline_queue.sent) == 1
    inline_queue.sent.append(inline_queue.sent[0])
    assert inline_queue.drain() == ["succeeded", "gone"]
    assert StepLog.objects.filter(enrollment=enrollment).count() == 1


def test_a_stale_step_task_is_dropped(tenant, inline_queue):
    workflow = make_published(tenant, branch_flow())
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    assert executor.step_run(enrollment_id=enrollment.pk, step_id="normal", seq=0) == "stale"
    assert executor.step_run(enrollment_id=enrollment.pk, step_id="is_vip", seq=5) == "stale"
    assert executor.step_run(enrollment_id=999_999, step_id="is_vip", seq=0) == "gone"


def test_one_enrollment_per_contact_unless_reenrollment_is_allowed(tenant, inline_queue):
    contact = make_contact(tenant, tags=["vip"])
    once = make_published(tenant, branch_flow())
    assert enrollment_create(workflow=once, contact=contact) is not None
    inline_queue.drain()
    assert enrollment_create(workflow=once, contact=contact) is None

    again = make_published(tenant, {**branch_flow(allow_reenrollment=True), "name": "Again"})
    first = enrollment_create(workflow=again, contact=contact)
    # A live enrollment blocks a second one even when re-enrollment is allowed.
    assert enrollment_create(workflow=again, contact=contact) is None
    inline_queue.drain()
    first.refresh_from_db()
    assert first.status == Enrollment.Status.EXITED
    assert enrollment_create(workflow=again, contact=contact) is not None


def test_it_refuses_paused_unpublished_and_foreign_workflows(tenant):
    contact = make_contact(tenant)
    paused = make_published(tenant, branch_flow(), status=Workflow.Status.PAUSED)
    with pytest.raises(EnrollmentRefused, match="is paused, not active"):
        enrollment_create(workflow=paused, contact=contact)
    draft = Workflow.objects.create(tenant=tenant, name="Draft", status=Workflow.Status.ACTIVE)
    with pytest.raises(EnrollmentRefused, match="no published version"):
        enrollment_create(workflow=draft, contact=contact)
    other = make_published(make_tenant(), branch_flow())
    with pytest.raises(EnrollmentRefused, match="another tenant"):
        enrollment_create(workflow=other, contact=contact)


GOAL_FLOW = {
    "name": "Goal",
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "nap", "type": "wait", "config": {"duration": "3d"}},
        {"id": "nudge", "type": "condition", "config": {"if": [], "then": "booked"}},
        {
            "id": "booked",
            "type": "goal",
            "config": {
                "condition": {"field": "tags", "operator": "contains", "value": "booked"},
                "on_success": "exit_success",
                "timeout": "7d",
                "on_timeout": "exit_timeout",
            },
        },
    ],
}


def test_meeting_the_goal_anywhere_jumps_to_it_and_cancels_the_wait(tenant, inline_queue):
    workflow = make_published(tenant, GOAL_FLOW)
    contact = make_contact(tenant)
    with time_machine.travel(START, tick=False):
        enrollment = enrollment_create(workflow=workflow, contact=contact)
        inline_queue.drain()
        assert contact_recheck(contact_id=contact.pk) == 0
        add_tag(contact, "booked")
        assert contact_recheck(contact_id=contact.pk) == 1
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "success")
    assert enrollment.context["steps"]["booked"] == {"met": True, "jumped_from": "nudge"}
    assert ScheduledAction.objects.get(enrollment=enrollment).status == "cancelled"


def test_a_goal_waits_and_times_out_to_its_timeout_target(tenant, inline_queue):
    workflow = make_published(tenant, GOAL_FLOW)
    with time_machine.travel(START, tick=False):
        enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
        inline_queue.drain()
    with time_machine.travel(START + timedelta(days=3, seconds=1), tick=False):
        inline_queue.tick()
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.current_step) == ("waiting", "booked")
    with time_machine.travel(START + timedelta(days=10, seconds=2), tick=False):
        inline_queue.tick()
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "timeout")
    assert enrollment.context["steps"]["booked"] == {"met": False, "timed_out": True}


def test_the_goal_met_while_waiting_at_it_continues_at_once(tenant, inline_queue):
    workflow = make_published(tenant, GOAL_FLOW)
    contact = make_contact(tenant)
    with time_machine.travel(START, tick=False):
        enrollment = enrollment_create(workflow=workflow, contact=contact)
        inline_queue.drain()
    with time_machine.travel(START + timedelta(days=4), tick=False):
        inline_queue.tick()
        add_tag(contact, "booked")
        contact_recheck(contact_id=contact.pk)
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == "success"


def test_exit_conditions_end_the_enrollment_on_the_next_check(tenant, inline_queue):
    definition = {
        **GOAL_FLOW,
        "settings": {
            "exit_conditions": [{"field": "tags", "operator": "contains", "value": "unsubscribed"}]
        },
    }
    workflow = make_published(tenant, definition)
    contact = make_contact(tenant)
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    inline_queue.drain()
    add_tag(contact, "unsubscribed")
    contact_recheck(contact_id=contact.pk)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "exit_condition")


def test_a_loop_without_a_wait_stops_at_the_visit_limit(tenant, inline_queue):
    definition = {
        "name": "Loop",
        "settings": {"max_step_visits": 5},
        "steps": [{"id": "again", "type": "condition", "config": {"if": [], "then": "again"}}],
    }
    enrollment = enrollment_create(
        workflow=make_published(tenant, definition), contact=make_contact(tenant)
    )
    inline_queue.drain()
    enrollment.refresh_from_db()
    assert enrollment.status == "failed"
    assert enrollment.error == "step 'again' reached the visit limit of 5 (a loop?)"
    assert StepLog.objects.filter(enrollment=enrollment).count() == 6


def flaky_flow(on_error: str | None = None):
    step = {"id": "call_api", "type": "test_flaky"}
    if on_error:
        step["on_error"] = on_error
    return {
        "name": f"Flaky {on_error}",
        "steps": [
            step,
            {"id": "after", "type": "exit", "config": {"reason": "after"}},
            {"id": "rescue", "type": "exit", "config": {"reason": "rescued"}},
        ],
    }


def test_transient_errors_are_retried_with_backoff_then_succeed(tenant, inline_queue):
    workflow = make_published(tenant, flaky_flow())
    contact = make_contact(tenant, custom_fields={"failures": 2})
    with time_machine.travel(START, tick=False):
        enrollment = enrollment_create(workflow=workflow, contact=contact)
        inline_queue.drain()
    retry = ScheduledAction.objects.get(enrollment=enrollment, status="pending")
    assert (retry.kind, retry.due_at) == ("retry", START + timedelta(seconds=10))
    with time_machine.travel(START + timedelta(seconds=11), tick=False):
        inline_queue.tick()
    with time_machine.travel(START + timedelta(seconds=40), tick=False):
        inline_queue.tick()
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "after")
    statuses = list(StepLog.objects.filter(step_id="call_api").values_list("attempt", "status"))
    assert statuses == [(1, "retrying"), (2, "retrying"), (3, "succeeded")]


def test_retries_run_out_and_the_step_fails_the_enrollment(tenant, inline_queue):
    workflow = make_published(tenant, flaky_flow())
    contact = make_contact(tenant, custom_fields={"failures": 9})
    with time_machine.travel(START, tick=False):
        enrollment = enrollment_create(workflow=workflow, contact=contact)
        inline_queue.drain()
    for minutes in (1, 2, 3):
        with time_machine.travel(START + timedelta(minutes=minutes), tick=False):
            inline_queue.tick()
    enrollment.refresh_from_db()
    assert enrollment.status == "failed"
    assert enrollment.error == "step 'call_api' failed: provider said 503"


@pytest.mark.parametrize(("on_error", "reason"), [("continue", "after"), ("rescue", "rescued")])
def test_on_error_continues_or_jumps(tenant, inline_queue, on_error, reason):
    workflow = make_published(tenant, flaky_flow(on_error))
    contact = make_contact(tenant, custom_fields={"permanent": True})
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    inline_queue.drain()
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", reason)
    assert enrollment.context["steps"]["call_api"]["error"] == "provider said 400: bad number"


def test_a_crashing_handler_fails_the_step_with_the_exception(tenant, inline_queue):
    definition = {"name": "Crash", "steps": [{"id": "boom", "type": "test_crash"}]}
    enrollment = enrollment_create(
        workflow=make_published(tenant, definition), contact=make_contact(tenant)
    )
    inline_queue.drain()
    enrollment.refresh_from_db()
    assert enrollment.status == "failed"
    assert enrollment.error == "step 'boom' failed: RuntimeError: bug in handler"


def test_a_step_delay_is_served_before_the_step_runs(tenant, inline_queue):
    definition = {
        "name": "Delayed",
        "steps": [{"id": "later", "type": "exit", "delay": "2h30m", "config": {"reason": "late"}}],
    }
    with time_machine.travel(START, tick=False):
        enrollment = enrollment_create(
            workflow=make_published(tenant, definition), contact=make_contact(tenant)
        )
        inline_queue.drain()
    action = ScheduledAction.objects.get(enrollment=enrollment)
    assert (action.kind, action.due_at) == ("run_step", START + timedelta(hours=2, minutes=30))
    with time_machine.travel(START + timedelta(hours=3), tick=False):
        inline_queue.tick()
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == "late"


def test_manual_exit_stops_a_waiting_enrollment_and_cancels_its_wait(tenant, inline_queue):
    workflow = make_published(tenant, GOAL_FLOW)
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    inline_queue.drain()
    assert enrollment_exit(enrollment_id=enrollment.pk, reason="staff") is True
    assert enrollment_exit(enrollment_id=enrollment.pk) is False
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "staff")
    assert ScheduledAction.objects.get(enrollment=enrollment).status == "cancelled"


def test_an_empty_workflow_completes_at_enrollment(tenant):
    enrollment = enrollment_create(
        workflow=make_published(tenant, {"name": "Empty", "steps": []}),
        contact=make_contact(tenant),
    )
    assert enrollment.status == "completed"
    assert enrollment.completed_at is not None


def test_the_run_log_exports_in_the_php_plan_shape(tenant, inline_queue):
    from engine.runtime.runlog import run_log

    workflow = make_published(tenant, branch_flow())
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant, tags=["vip"]))
    inline_queue.drain()
    enrollment.refresh_from_db()
    log = run_log(enrollment=enrollment)
    assert log["execution_id"] == str(enrollment.pk)
    assert log["status"] == "completed"
    assert log["exit_reason"] == "vip"
    assert [(s["step_id"], s["status"], s["output_vars"]) for s in log["steps"]] == [
        ("is_vip", "success", {"result": True})
    ]
    assert set(log) >= {"workflow_id", "start_time", "end_time", "steps"}
