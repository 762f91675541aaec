"""Schedule triggers: beat's crontab follows the workflow; a run enrolls matching contacts in bulk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_celery_beat.models import PeriodicTask

from engine.triggers.schedule import schedule_run, schedule_sync, task_name
from tests.cast import make_contact, make_tenant, publish_raw
from tests.triggers.helpers import enrolled, listening
from workflows.models import Enrollment, ScheduledAction, Workflow
from workflows.services import workflow_archive, workflow_pause, workflow_publish, workflow_resume

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
DEFINITION = """
name: Morning check-in
trigger:
  type: schedule
  config: {cron: "0 9 * * *", timezone: Europe/Berlin}
  filters:
    - {field: tags, operator: contains, value: member}
steps:
  - {id: hello, type: wait, config: {duration: 1h}}
"""


@pytest.fixture
def scheduled(trigger_queue):
    from workflows.services import workflow_import

    tenant = make_tenant()
    workflow = workflow_import(tenant=tenant, text=DEFINITION, format="yaml").workflow
    workflow_publish(workflow=workflow)
    trigger_queue.commit()
    workflow.refresh_from_db()
    return workflow


def test_publishing_creates_a_crontab_in_the_schedules_zone(scheduled):
    task = PeriodicTask.objects.get(name=task_name(scheduled.pk))

    assert task.task == "engine.tasks.run_schedule"
    assert task.args == f"[{scheduled.pk}]"
    assert task.enabled
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, str(crontab.timezone)) == (
        "0",
        "9",
        "*",
        "Europe/Berlin",
    )


def test_pause_removes_resume_restores_and_archive_removes_the_schedule(scheduled, trigger_queue):
    name = task_name(scheduled.pk)

    workflow_pause(workflow=scheduled)
    trigger_queue.commit()
    assert not PeriodicTask.objects.filter(name=name).exists()

    workflow_resume(workflow=scheduled)
    trigger_queue.commit()
    assert PeriodicTask.objects.filter(name=name).exists()

    workflow_archive(workflow=scheduled)
    trigger_queue.commit()
    assert not PeriodicTask.objects.filter(name=name).exists()


def test_publishing_a_new_cron_updates_the_same_task(scheduled, trigger_queue):
    scheduled.trigger_config = {"cron": "30 7 * * mon-fri", "timezone": "America/New_York"}
    scheduled.save()
    workflow_publish(workflow=scheduled)
    trigger_queue.commit()

    task = PeriodicTask.objects.get(name=task_name(scheduled.pk))
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == (
        "30",
        "7",
        "mon-fri",
    )
    assert str(task.crontab.timezone) == "America/New_York"
    assert PeriodicTask.objects.filter(task="engine.tasks.run_schedule").count() == 1


def test_a_workflow_that_stops_being_scheduled_loses_its_task(scheduled, trigger_queue):
    scheduled.trigger_type, scheduled.trigger_config, scheduled.trigger_filters = "manual", {}, []
    scheduled.save()
    workflow_publish(workflow=scheduled)
    trigger_queue.commit()

    assert not PeriodicTask.objects.filter(name=task_name(scheduled.pk)).exists()


def test_a_bad_cron_in_a_published_version_creates_no_task():
    tenant = make_tenant()
    workflow = listening(tenant, "schedule", config={"cron": "every morning"})

    assert schedule_sync(workflow_id=workflow.pk) is None
    assert schedule_sync(workflow_id=999_999) is None
    assert not PeriodicTask.objects.exists()


def test_the_zone_falls_back_to_the_workflow_then_the_tenant():
    tenant = make_tenant(timezone="Asia/Tokyo")
    by_tenant = listening(tenant, "TIME_BASED", config={"schedule": "0 8 * * *"})
    by_workflow = listening(
        tenant, "schedule", config={"cron": "0 8 * * *"}, timezone="Europe/Paris"
    )

    assert str(schedule_sync(workflow_id=by_tenant.pk).crontab.timezone) == "Asia/Tokyo"
    assert str(schedule_sync(workflow_id=by_workflow.pk).crontab.timezone) == "Europe/Paris"


@pytest.mark.parametrize(
    ("last_run_local", "next_run_utc"),
    [
        # Spring forward in Berlin on 2026-03-29: 09:00 local moves from 08:00 to 07:00 UTC.
        (datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN), datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
        # Fall back on 2026-10-25: 09:00 local moves from 07:00 to 08:00 UTC.
        (datetime(2026, 10, 24, 9, 0, tzinfo=BERLIN), datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),
    ],
)
def test_the_schedule_keeps_its_local_time_across_a_dst_change(
    scheduled, last_run_local, next_run_utc
):
    schedule = PeriodicTask.objects.get(name=task_name(scheduled.pk)).crontab.schedule

    # What beat asks on every tick: is the task due now, given when it last ran?
    def due_at(moment):
        with time_machine.travel(moment, tick=False):
            return schedule.is_due(last_run_local).is_due

    assert not due_at(next_run_utc - timedelta(minutes=1))
    assert due_at(next_run_utc)
    assert next_run_utc.astimezone(BERLIN).hour == 9


def test_a_run_enrolls_the_matching_contacts_in_bulk_and_sends_first_steps_in_batches(
    scheduled, trigger_queue, settings
):
    settings.STUDIO_BULK_ENROLL_CHUNK = 2
    members = [make_contact(scheduled.tenant, tags=["member"]) for _ in range(3)]
    make_contact(scheduled.tenant, tags=["guest"])
    make_contact(make_tenant(), tags=["member"])
    trigger_queue.commit()
    trigger_queue.sent.clear()

    with time_machine.travel(datetime(2026, 3, 29, 7, 0, tzinfo=UTC), tick=False):
        assert schedule_run(workflow_id=scheduled.pk) == 3
    trigger_queue.commit()

    assert sorted(enrolled(scheduled)) == sorted(c.pk for c in members)
    batches = [args for name, args in trigger_queue.sent if name == "engine.tasks.run_first_steps"]
    assert [len(ids) for ids, _step, _seq in batches] == [2, 1]
    trigger = Enrollment.objects.filter(workflow=scheduled).first().context["trigger"]
    assert trigger["type"] == "schedule"
    assert (trigger["hour"], trigger["day"], trigger["timezone"]) == (9, "sunday", "Europe/Berlin")


def test_a_second_run_does_not_enroll_anyone_twice(scheduled):
    make_contact(scheduled.tenant, tags=["member"])

    assert schedule_run(workflow_id=scheduled.pk) == 1
    assert schedule_run(workflow_id=scheduled.pk) == 0
    assert Enrollment.objects.filter(workflow=scheduled).count() == 1


def test_the_first_steps_of_a_bulk_enrollment_run(scheduled, trigger_queue):
    from engine.triggers.tasks import run_first_steps

    contact = make_contact(scheduled.tenant, tags=["member"])
    schedule_run(workflow_id=scheduled.pk)
    trigger_queue.commit()
    (ids, step, seq) = next(
        args for name, args in trigger_queue.sent if name == "engine.tasks.run_first_steps"
    )

    assert run_first_steps([*ids, 999999], step, seq) == 2
    enrollment = Enrollment.objects.get(workflow=scheduled, contact=contact)
    assert enrollment.status == "waiting"
    assert ScheduledAction.objects.filter(enrollment=enrollment, kind="resume").exists()


def test_a_first_step_with_a_delay_is_scheduled_as_a_row():
    tenant = make_tenant()
    workflow = listening(
        tenant,
        "schedule",
        config={"cron": "0 9 * * *"},
        steps=[{"id": "later", "type": "wait", "delay": "2h", "config": {"duration": "1h"}}],
    )
    contact = make_contact(tenant)

    assert schedule_run(workflow_id=workflow.pk) == 1

    action = ScheduledAction.objects.get(enrollment__contact=contact)
    assert (action.step_id, action.kind, action.seq) == ("later", "run_step", 0)
    assert Enrollment.objects.get(workflow=workflow).status == "waiting"


def test_an_empty_workflow_completes_its_bulk_enrollments_at_once():
    tenant = make_tenant()
    workflow = listening(tenant, "schedule", config={"cron": "0 9 * * *"})
    publish_raw(workflow, {"name": workflow.name, "trigger": {"type": "schedule"}, "steps": []})
    make_contact(tenant)

    assert schedule_run(workflow_id=workflow.pk) == 1
    assert Enrollment.objects.get(workflow=workflow).status == "completed"


def test_a_paused_or_missing_workflow_runs_nobody(scheduled):
    make_contact(scheduled.tenant, tags=["member"])
    Workflow.objects.filter(pk=scheduled.pk).update(status="paused")

    assert schedule_run(workflow_id=scheduled.pk) == 0
    assert schedule_run(workflow_id=999_999) == 0
