"""Pause holds a workflow's live enrollments where they are; archive ends them; both count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from engine.effects.channels import locmem
from engine.runtime import executor, queue
from engine.runtime.enrollment import enrollment_create, enrollment_recheck
from tests.cast import make_contact, make_published, make_tenant
from tests.engine.conftest import InlineQueue
from workflows.models import Enrollment, ScheduledAction, StepLog
from workflows.services import (
    workflow_archive,
    workflow_pause,
    workflow_restore,
    workflow_resume,
)

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WAIT_THEN_WHATSAPP = [
    {"id": "wait", "type": "wait", "config": {"duration": "1d"}},
    {"id": "wa", "type": "send_whatsapp", "config": {"message": "Last chance!"}},
]


@pytest.fixture(autouse=True)
def backends(settings) -> Iterator[None]:
    settings.STUDIO_CHANNEL_BACKENDS = {"default": "engine.effects.channels.locmem.LocMemBackend"}
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def inline_queue() -> Iterator[InlineQueue]:
    collector = InlineQueue()
    with queue.use_dispatcher(collector):
        yield collector


def waiting(tenant, inline_queue, count: int = 2, steps=WAIT_THEN_WHATSAPP):
    workflow = make_published(tenant, {"trigger": {"type": "manual"}, "steps": steps})
    enrollments = [
        enrollment_create(workflow=workflow, contact=make_contact(tenant)) for _ in range(count)
    ]
    inline_queue.drain()
    return workflow, enrollments


def statuses(enrollments) -> list[tuple[str, str]]:
    rows = Enrollment.objects.filter(pk__in=[e.pk for e in enrollments]).order_by("pk")
    return [(row.status, row.exit_reason) for row in rows]


def test_archive_exits_every_live_enrollment_and_nothing_is_sent_the_next_day(inline_queue):
    tenant = make_tenant()
    with time_machine.travel(START, tick=False):
        workflow, enrollments = waiting(tenant, inline_queue)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        change = workflow_archive(workflow=workflow)
    with time_machine.travel(START + timedelta(days=1, minutes=1), tick=False):
        inline_queue.tick()

    assert (change.status, change.affected) == ("archived", 2)
    assert statuses(enrollments) == [("exited", "workflow_archived")] * 2
    assert locmem.outbox == []
    actions = ScheduledAction.objects.filter(enrollment__workflow=workflow)
    assert set(actions.values_list("status", flat=True)) == {"cancelled"}


def test_archive_leaves_finished_enrollments_alone_and_counts_only_live_ones(inline_queue):
    tenant = make_tenant()
    workflow, (done,) = waiting(
        tenant, inline_queue, 1, steps=[{"id": "tag", "type": "add_tag", "config": {"tag": "x"}}]
    )
    assert workflow_archive(workflow=workflow).affected == 0
    done.refresh_from_db()
    assert (done.status, done.exit_reason) == ("completed", "")


def test_a_step_queued_before_the_archive_finds_the_enrollment_gone(inline_queue):
    tenant = make_tenant()
    workflow = make_published(
        tenant, {"trigger": {"type": "manual"}, "steps": [WAIT_THEN_WHATSAPP[1]]}
    )
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    workflow_archive(workflow=workflow)
    assert "gone" in inline_queue.drain()
    assert locmem.outbox == []
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == "workflow_archived"


def test_pause_holds_due_actions_and_resume_carries_on_from_there(inline_queue):
    tenant = make_tenant()
    with time_machine.travel(START, tick=False):
        workflow, enrollments = waiting(tenant, inline_queue)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        paused = workflow_pause(workflow=workflow)
    with time_machine.travel(START + timedelta(days=2), tick=False):
        assert inline_queue.tick() == []
        assert locmem.outbox == []
        assert statuses(enrollments) == [("waiting", "")] * 2
        held = ScheduledAction.objects.filter(enrollment__workflow=workflow)
        assert set(held.values_list("status", flat=True)) == {"held"}
        resumed = workflow_resume(workflow=workflow)
        inline_queue.tick()

    assert (paused.status, paused.affected) == ("paused", 2)
    assert (resumed.status, resumed.affected) == ("active", 2)
    assert sorted(m.body for m in locmem.outbox) == ["Last chance!"] * 2
    assert statuses(enrollments) == [("completed", "")] * 2
    # The wait ran once and the message once: nothing was repeated by the pause.
    assert StepLog.objects.filter(workflow=workflow, step_id="wa").count() == 2


def test_a_step_queued_before_the_pause_is_held_once_and_runs_after_resume(inline_queue):
    tenant = make_tenant()
    workflow = make_published(
        tenant, {"trigger": {"type": "manual"}, "steps": [WAIT_THEN_WHATSAPP[1]]}
    )
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    workflow_pause(workflow=workflow)
    inline_queue.run_on_commit()
    [args] = [args for name, args in inline_queue.sent if name == queue.RUN_STEP]
    # Delivered twice (e.g. a redelivery or the stalled sweep): one held row, nothing sent.
    assert "held" in inline_queue.drain()
    assert executor.step_run(enrollment_id=args[0], step_id=args[1], seq=args[2]) == "held"
    assert ScheduledAction.objects.filter(enrollment=enrollment, status="held").count() == 1
    assert locmem.outbox == []

    workflow_resume(workflow=workflow)
    inline_queue.tick()
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    assert len(locmem.outbox) == 1


def test_an_action_claimed_just_before_the_pause_is_held_not_lost(inline_queue):
    tenant = make_tenant()
    with time_machine.travel(START, tick=False):
        workflow, (enrollment,) = waiting(tenant, inline_queue, 1)
    action = ScheduledAction.objects.get(enrollment=enrollment)
    ScheduledAction.objects.filter(pk=action.pk).update(status="claimed")
    workflow_pause(workflow=workflow)
    with time_machine.travel(START + timedelta(days=1, minutes=1), tick=False):
        assert executor.action_run(action_id=action.pk) == "held"
        workflow_resume(workflow=workflow)
        inline_queue.tick()
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"


def test_events_do_not_move_a_paused_enrollment(inline_queue):
    tenant = make_tenant()
    workflow, (enrollment,) = waiting(tenant, inline_queue, 1)
    workflow_pause(workflow=workflow)
    assert enrollment_recheck(enrollment_id=enrollment.pk) == "held"


def test_restore_brings_an_archived_workflow_back_paused_with_nothing_live(inline_queue):
    tenant = make_tenant()
    workflow, _ = waiting(tenant, inline_queue, 1)
    workflow_archive(workflow=workflow)
    restored = workflow_restore(workflow=workflow)
    assert (restored.status, restored.affected) == ("paused", 0)
    assert workflow_resume(workflow=workflow).affected == 0
