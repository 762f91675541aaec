from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from engine.handlers.ab_split import pick_variant
from engine.handlers.base import StepFailed
from engine.runtime import tasks
from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_published, make_tenant
from workflows.models import Enrollment, ScheduledAction

pytestmark = pytest.mark.django_db

MONDAY_EVENING = datetime(2026, 3, 2, 18, 30, tzinfo=UTC)


def test_ab_split_weights_hold_over_many_enrollments_and_each_draw_is_stable():
    variants = [{"name": "A", "weight": 70, "next": "a"}, {"name": "B", "weight": 30, "next": "b"}]
    counts = Counter(pick_variant(variants, seed=f"{n}:split")["name"] for n in range(10_000))
    assert abs(counts["A"] / 10_000 - 0.70) < 0.02
    assert pick_variant(variants, seed="42:split") == pick_variant(variants, seed="42:split")
    with pytest.raises(StepFailed, match="positive weights"):
        pick_variant([{"name": "A", "weight": 0}], seed="x")


def test_ab_split_records_the_variant_and_follows_it(inline_queue):
    tenant = make_tenant()
    definition = {
        "name": "Split",
        "steps": [
            {
                "id": "split",
                "type": "ab_split",
                "config": {
                    "variants": [
                        {"name": "A", "weight": 1, "next": "exit_a"},
                        {"name": "B", "weight": 1, "next": "exit_b"},
                    ]
                },
            }
        ],
    }
    workflow = make_published(tenant, definition)
    enrollments = [
        enrollment_create(workflow=workflow, contact=make_contact(tenant)) for _ in range(40)
    ]
    inline_queue.drain()
    reasons = Counter()
    for enrollment in enrollments:
        enrollment.refresh_from_db()
        variant = enrollment.context["steps"]["split"]["variant"]
        assert enrollment.exit_reason == variant.lower()
        reasons[variant] += 1
    assert set(reasons) == {"A", "B"}


def wait_flow(config: dict, settings: dict | None = None) -> dict:
    return {
        "name": f"Wait {sorted(config)}",
        "settings": settings or {},
        "steps": [
            {"id": "pause", "type": "wait", "config": config},
            {"id": "after", "type": "exit", "config": {"reason": "done"}},
        ],
    }


def due_after_enrolling(definition: dict, inline_queue, *, trigger=None) -> datetime | None:
    tenant = make_tenant()
    with time_machine.travel(MONDAY_EVENING, tick=False):
        enrollment = enrollment_create(
            workflow=make_published(tenant, definition),
            contact=make_contact(tenant),
            trigger=trigger,
        )
        inline_queue.drain()
    action = ScheduledAction.objects.filter(enrollment=enrollment).first()
    return action.due_at if action else None


def test_wait_until_a_rendered_time(inline_queue):
    due = due_after_enrolling(
        wait_flow({"until": "{{ trigger.follow_up_at }}"}),
        inline_queue,
        trigger={"follow_up_at": "2026-03-05T08:00:00+00:00"},
    )
    assert due == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)


def test_wait_until_a_past_time_continues_at_once(inline_queue):
    tenant = make_tenant()
    with time_machine.travel(MONDAY_EVENING, tick=False):
        enrollment = enrollment_create(
            workflow=make_published(tenant, wait_flow({"until": "2020-01-01T00:00:00Z"})),
            contact=make_contact(tenant),
        )
        inline_queue.drain()
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == "done"


def test_wait_until_something_that_is_not_a_time_fails_clearly(inline_queue):
    tenant = make_tenant()
    enrollment = enrollment_create(
        workflow=make_published(tenant, wait_flow({"until": "{{ contact.first_name }}"})),
        contact=make_contact(tenant, first_name="Ann"),
    )
    inline_queue.drain()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    assert "wait.until rendered to 'Ann', which is not a date and time" in enrollment.error


def test_business_hours_only_moves_the_end_of_a_wait_into_opening_hours(inline_queue):
    settings = {
        "timezone": "Europe/Berlin",
        "business_hours": {
            "days": ["mon", "tue", "wed", "thu", "fri"],
            "start": "09:00",
            "end": "17:00",
        },
    }
    due = due_after_enrolling(
        wait_flow({"duration": "1h", "business_hours_only": True}, settings), inline_queue
    )
    # 18:30 UTC is 19:30 in Berlin, after hours: only open time counts, so the hour runs from
    # Tuesday's 09:00 Berlin opening to 10:00 Berlin, 09:00 UTC.
    assert due == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def test_celery_tasks_call_their_services(inline_queue):
    tenant = make_tenant()
    with time_machine.travel(MONDAY_EVENING, tick=False):
        enrollment = enrollment_create(
            workflow=make_published(tenant, wait_flow({"duration": "30m"})),
            contact=make_contact(tenant),
        )
        inline_queue.run_on_commit()
        _name, args = inline_queue.sent.pop()
        assert tasks.run_step(*args) == "waiting"
    with time_machine.travel(MONDAY_EVENING + timedelta(minutes=31), tick=False):
        assert tasks.scheduler_tick() == 1
        _, (action_id,) = inline_queue.sent.pop()
        assert tasks.run_scheduled_action(action_id) == "succeeded"
        assert tasks.sweep() == {"actions": 0, "enrollments": 0, "deliveries": 0}
        assert tasks.purge_step_logs() == 0
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == "done"
