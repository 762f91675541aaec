"""Trigger filters, schedules and manual selections read dates in the workflow's zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from engine.triggers.manual import manual_enroll
from engine.triggers.schedule import schedule_run
from tests.cast import add_tag, make_contact, make_tenant
from tests.triggers.helpers import enrolled, listening

pytestmark = pytest.mark.django_db

CLOCK = datetime(2025, 3, 29, 20, 0, tzinfo=UTC)  # Sunday 30 March, 05:00 in Tokyo
SINCE_SUNDAY = [{"field": "now", "operator": "after", "value": "2025-03-30"}]


@pytest.fixture
def tokyo_clock():
    with time_machine.travel(CLOCK, tick=False):
        yield


@pytest.mark.parametrize(("zone", "expected"), [("Asia/Tokyo", 1), ("UTC", 0)])
def test_an_event_filter_on_a_date_is_read_in_the_workflows_zone(
    tokyo_clock, trigger_queue, zone, expected
):
    tenant = make_tenant()
    workflow = listening(
        tenant, "tag_added", config={"tag": "vip"}, filters=SINCE_SUNDAY, timezone=zone
    )
    add_tag(make_contact(tenant), "vip")
    trigger_queue.drain()
    assert len(enrolled(workflow)) == expected


@pytest.mark.parametrize(("zone", "expected"), [("Asia/Tokyo", 1), ("UTC", 0)])
def test_a_schedule_filter_on_a_date_is_read_in_the_schedules_zone(tokyo_clock, zone, expected):
    tenant = make_tenant()
    make_contact(tenant)
    workflow = listening(
        tenant, "schedule", config={"cron": "0 * * * *", "timezone": zone}, filters=SINCE_SUNDAY
    )
    assert schedule_run(workflow_id=workflow.pk) == expected


@pytest.mark.parametrize(("zone", "expected"), [("Asia/Tokyo", 1), ("UTC", 0)])
def test_manual_filters_read_dates_in_the_tenants_zone_without_a_workflow_zone(
    tokyo_clock, zone, expected
):
    tenant = make_tenant(timezone=zone)
    make_contact(tenant)
    workflow = listening(tenant, "manual")
    assert manual_enroll(workflow=workflow, filters=SINCE_SUNDAY).selected == expected
