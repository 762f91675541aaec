"""A finished wait's step log: succeeded with the time actually waited; a goal's met or timed out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from engine.runtime.enrollment import contact_recheck, enrollment_create, enrollment_exit
from tests.cast import add_tag, make_contact, make_published, make_tenant
from workflows.models import StepLog
from workflows.services import workflow_archive

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = 86_400

WAIT_THEN_SMS = {
    "name": "Wait then text",
    "steps": [
        {"id": "pause", "type": "wait", "config": {"duration": "1d"}},
        {"id": "hello", "type": "send_sms", "config": {"message": "Still there?"}},
    ],
}
WAIT_LAST = {
    "name": "Wait last",
    "steps": [{"id": "pause", "type": "wait", "config": {"duration": "2h"}}],
}
GOAL = {
    "name": "Book a trial",
    "steps": [
        {
            "id": "booked",
            "type": "goal",
            "config": {
                "condition": {"field": "tags", "operator": "contains", "value": "booked"},
                "on_success": "exit_success",
                "timeout": "7d",
                "on_timeout": "exit_timeout",
            },
        }
    ],
}


@pytest.fixture
def tenant():
    return make_tenant()


def log_of(enrollment, step_id: str) -> StepLog:
    return StepLog.objects.get(enrollment=enrollment, step_id=step_id)


def start(tenant, definition, inline_queue, contact=None):
    workflow = make_published(tenant, definition)
    with time_machine.travel(START, tick=False):
        enrollment = enrollment_create(workflow=workflow, contact=contact or make_contact(tenant))
        inline_queue.drain()
    assert log_of(enrollment, definition["steps"][0]["id"]).status == "waiting"
    return enrollment


def at(seconds: int, inline_queue) -> None:
    with time_machine.travel(START + timedelta(seconds=seconds), tick=False):
        inline_queue.tick()


def test_a_finished_wait_is_logged_succeeded_with_the_time_waited(tenant, inline_queue):
    enrollment = start(tenant, WAIT_THEN_SMS, inline_queue)
    at(DAY + 5, inline_queue)
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    pause = log_of(enrollment, "pause")
    assert (pause.status, pause.duration_ms) == ("succeeded", (DAY + 5) * 1000)
    assert pause.finished_at == START + timedelta(seconds=DAY + 5)
    assert pause.parsed_output["waited_seconds"] == DAY + 5
    assert pause.parsed_output["resume_at"] == (START + timedelta(days=1)).isoformat()
    assert log_of(enrollment, "hello").status == "succeeded"


def test_a_wait_that_ends_the_workflow_is_closed_too(tenant, inline_queue):
    enrollment = start(tenant, WAIT_LAST, inline_queue)
    at(2 * 3600 + 1, inline_queue)
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    pause = log_of(enrollment, "pause")
    assert (pause.status, pause.parsed_output["waited_seconds"]) == ("succeeded", 7201)


def test_a_wait_cut_short_by_a_manual_exit_is_cancelled_with_the_time_it_lasted(
    tenant, inline_queue
):
    enrollment = start(tenant, WAIT_THEN_SMS, inline_queue)
    assert log_of(enrollment, "pause").next_step == "hello"
    with time_machine.travel(START + timedelta(seconds=10), tick=False):
        assert enrollment_exit(enrollment_id=enrollment.pk, reason="manual")
    pause = log_of(enrollment, "pause")
    assert (pause.status, pause.next_step) == ("cancelled", "")
    assert (pause.parsed_output["waited_seconds"], pause.duration_ms) == (10, 10_000)
    assert pause.parsed_output["ended_by"] == "exit: manual"
    assert pause.finished_at == START + timedelta(seconds=10)
    assert not StepLog.objects.filter(enrollment=enrollment, step_id="hello").exists()


def test_a_wait_left_for_an_exit_condition_or_a_goal_met_elsewhere_is_cancelled(
    tenant, inline_queue
):
    definition = {
        "name": "Wait, goal",
        "settings": {
            "exit_conditions": [{"field": "tags", "operator": "contains", "value": "stop"}]
        },
        "steps": [
            {"id": "pause", "type": "wait", "config": {"duration": "1d"}},
            GOAL["steps"][0],
        ],
    }
    for tag, why in (("stop", "exit_condition"), ("booked", "goal")):
        contact = make_contact(tenant)
        enrollment = start(tenant, {**definition, "name": f"Wait {tag}"}, inline_queue, contact)
        with time_machine.travel(START + timedelta(hours=1), tick=False):
            add_tag(contact, tag)
            assert contact_recheck(contact_id=contact.pk) == 1
        pause = log_of(enrollment, "pause")
        assert (pause.status, pause.next_step, pause.parsed_output["ended_by"]) == (
            "cancelled",
            "",
            why,
        )
        assert pause.parsed_output["waited_seconds"] == 3600


def test_archiving_the_workflow_closes_its_open_waits_as_cancelled(tenant, inline_queue):
    enrollment = start(tenant, WAIT_THEN_SMS, inline_queue)
    with time_machine.travel(START + timedelta(minutes=5), tick=False):
        workflow_archive(workflow=enrollment.workflow)
    pause = log_of(enrollment, "pause")
    assert (pause.status, pause.next_step) == ("cancelled", "")
    assert pause.parsed_output["waited_seconds"] == 300
    assert pause.parsed_output["ended_by"] == "workflow_archived"


def test_a_goal_that_times_out_is_logged_as_timed_out(tenant, inline_queue):
    enrollment = start(tenant, GOAL, inline_queue)
    at(7 * DAY + 1, inline_queue)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "timeout")
    waited = StepLog.objects.filter(enrollment=enrollment, step_id="booked").order_by("id")[0]
    assert waited.status == "succeeded"
    assert (waited.parsed_output["met"], waited.parsed_output["timed_out"]) == (False, True)
    assert waited.parsed_output["waited_seconds"] == 7 * DAY + 1
    assert not StepLog.objects.filter(enrollment=enrollment, status="waiting").exists()


def test_a_goal_met_while_waiting_is_logged_as_met(tenant, inline_queue):
    contact = make_contact(tenant)
    enrollment = start(tenant, GOAL, inline_queue, contact)
    with time_machine.travel(START + timedelta(days=3), tick=False):
        add_tag(contact, "booked")
        assert contact_recheck(contact_id=contact.pk) == 1
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "success")
    waited = StepLog.objects.filter(enrollment=enrollment, step_id="booked").order_by("id")[0]
    assert (waited.status, waited.parsed_output["met"]) == ("succeeded", True)
    assert waited.parsed_output["timed_out"] is False
    assert waited.parsed_output["waited_seconds"] == 3 * DAY
