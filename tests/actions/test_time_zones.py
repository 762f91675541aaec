"""Every date and time of a run is in the workflow's zone (then the tenant's), live and dry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from engine.dryrun import dry_run
from engine.effects.channels import locmem
from tests.cast import make_contact, make_tenant
from workflows.models import ScheduledAction

pytestmark = pytest.mark.django_db

CLOCK = datetime(2025, 3, 29, 20, 0, tzinfo=UTC)  # Sunday 05:00 in Tokyo
GREETING = "Today is {{ now|date:'l j F' }}, it is {{ now|date:'H:i' }}."


def sms(message: str, step_id: str = "text") -> dict:
    return {"id": step_id, "type": "send_sms", "config": {"message": message}}


def sent_bodies() -> list[str]:
    return [message.body for message in locmem.outbox]


@pytest.fixture
def tokyo_clock():
    with time_machine.travel(CLOCK, tick=False):
        yield


def test_a_live_run_renders_now_in_the_workflows_zone(tokyo_clock, tenant, contact, run):
    run(
        tenant,
        contact,
        [sms(GREETING), sms("{{ now }}", "raw")],
        settings={"timezone": "Asia/Tokyo"},
    )
    assert sent_bodies() == [
        "Today is Sunday 30 March, it is 05:00.",
        "2025-03-30T05:00:00+09:00",
    ]


def test_without_a_workflow_zone_the_tenants_zone_is_used(tokyo_clock, run):
    tenant = make_tenant(timezone="Asia/Tokyo")
    run(tenant, make_contact(tenant), [sms(GREETING)])
    assert sent_bodies() == ["Today is Sunday 30 March, it is 05:00."]


def test_the_workflow_zone_wins_over_the_tenants(tokyo_clock, run):
    tenant = make_tenant(timezone="America/New_York")
    run(tenant, make_contact(tenant), [sms(GREETING)], settings={"timezone": "Asia/Tokyo"})
    assert sent_bodies() == ["Today is Sunday 30 March, it is 05:00."]


def test_a_dry_run_renders_in_the_workflows_zone_too(tenant):
    definition = {
        "name": "Greeting",
        "trigger": {"type": "manual"},
        "settings": {"timezone": "Asia/Tokyo"},
        "steps": [sms(GREETING)],
    }
    report = dry_run(definition=definition, contact={"first_name": "Ann"}, start=CLOCK)
    [step] = report.steps
    assert step["input"]["message"] == "Today is Sunday 30 March, it is 05:00."


def test_date_filters_shift_and_format_in_the_workflows_zone(tokyo_clock, tenant, contact, run):
    messages = [
        sms("{{ now|add_days:1|fmt_date:'%a %d %H:%M' }}", "shifted"),
        sms("{{ '2025-03-30T09:00:00'|date:'H:i O' }}", "naive"),
    ]
    run(tenant, contact, messages, settings={"timezone": "Asia/Tokyo"})
    # A date-time written without a zone is wall-clock time where the workflow is.
    assert sent_bodies() == ["Mon 31 05:00", "09:00 +0900"]


def test_a_condition_on_a_date_compares_in_the_workflows_zone(tokyo_clock, tenant, contact, run):
    branch = {
        "id": "check",
        "type": "condition",
        "config": {
            "if": {"field": "now", "operator": "after", "value": "2025-03-30"},
            "then": "today",
            "else": "yesterday",
        },
    }
    steps = [branch, {**sms("30th", "today"), "next": "end"}, sms("29th", "yesterday")]
    run(tenant, contact, steps, settings={"timezone": "Asia/Tokyo"})
    # Midnight of 30 March in Tokyo has passed (it is 05:00 there), though not in UTC.
    assert sent_bodies() == ["30th"]


def test_a_wait_until_a_time_without_zone_waits_for_the_workflows_wall_clock(
    tokyo_clock, tenant, contact, run
):
    wait = {"id": "wait", "type": "wait", "config": {"until": "2025-03-30T09:00:00"}}
    enrollment = run(tenant, contact, [wait, sms("later")], settings={"timezone": "Asia/Tokyo"})
    action = ScheduledAction.objects.get(enrollment=enrollment)
    assert action.due_at == CLOCK + timedelta(hours=4)


def test_business_hours_default_to_the_workflows_zone(tokyo_clock, tenant, contact, run):
    # Saturday 20:00 UTC is Sunday 05:00 in Tokyo: the next opening is Monday 09:00 Tokyo.
    wait = {"id": "wait", "type": "wait", "config": {"duration": "1h", "business_hours_only": True}}
    enrollment = run(tenant, contact, [wait, sms("open")], settings={"timezone": "Asia/Tokyo"})
    action = ScheduledAction.objects.get(enrollment=enrollment)
    assert action.due_at == datetime(2025, 3, 31, 1, 0, tzinfo=UTC)


def test_a_business_hours_wait_counts_only_open_time(tenant, contact, run):
    # The issue's case: Mon–Fri 09:00–17:00 UTC, entered Monday 08:00, wait 2h → 11:00.
    wait = {"id": "wait", "type": "wait", "config": {"duration": "2h", "business_hours_only": True}}
    with time_machine.travel(datetime(2025, 3, 3, 8, tzinfo=UTC), tick=False):
        enrollment = run(
            tenant,
            contact,
            [wait, sms("open")],
            settings={"business_hours": {"timezone": "UTC", "start": "09:00", "end": "17:00"}},
        )
    action = ScheduledAction.objects.get(enrollment=enrollment)
    assert action.due_at == datetime(2025, 3, 3, 11, tzinfo=UTC)


def test_the_enrollment_time_is_shown_in_the_workflows_zone(tokyo_clock, tenant, contact, run):
    run(tenant, contact, [sms("{{ workflow.enrolled_at }}")], settings={"timezone": "Asia/Tokyo"})
    assert sent_bodies() == ["2025-03-30T05:00:00+09:00"]
