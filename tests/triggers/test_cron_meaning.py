"""One cron meaning everywhere, crontab(5)'s: restricted day-of-month OR day-of-week.

Beat's own due check (``schedule.is_due`` / ``remaining_estimate`` of the PeriodicTask's
crontab) drives the month; the run keeps crontab(5)'s days; the validator and the next-run
preview agree with it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django_celery_beat.models import PeriodicTask

from engine.definition.validation import check_document
from engine.language.cron import crontab_fields, next_run, runs_on
from engine.triggers.schedule import schedule_run, schedule_sync, task_name
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import listening
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db
CRON = "0 9 1,15 * mon"
# October 2025: the 1st and the 15th (Wednesdays) and the Mondays 6, 13, 20, 27.
OCTOBER_RUNS = [date(2025, 10, day) for day in (1, 6, 13, 15, 20, 27)]


def scheduled_workflow(cron: str = CRON):
    tenant = make_tenant()
    make_contact(tenant)
    workflow = listening(
        tenant,
        "schedule",
        config={"cron": cron, "timezone": "UTC"},
        steps=[{"id": "done", "type": "exit"}],
        allow_reenrollment=True,
    )
    schedule_sync(workflow_id=workflow.pk)
    return workflow


def beat_month(workflow, start: datetime, end: datetime) -> list[datetime]:
    """Play beat over [start, end): ask the crontab when it is due, run the task when it is."""
    schedule = PeriodicTask.objects.get(name=task_name(workflow.pk)).crontab.schedule
    last_run, now, fired = start - timedelta(minutes=1), start, []
    while now < end:
        with time_machine.travel(now, tick=False):
            due, next_seconds = schedule.is_due(last_run)
            if due:
                last_run = now
                if schedule_run(workflow_id=workflow.pk):
                    fired.append(now)
                    # Finished before the next run, so the contact can be enrolled again.
                    Enrollment.objects.filter(workflow=workflow).update(status="completed")
        now += timedelta(seconds=max(next_seconds, 1))
    return fired


def test_beat_and_the_run_follow_crontab5_over_october_2025():
    workflow = scheduled_workflow()
    fired = beat_month(
        workflow, datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)
    )
    assert [moment.date() for moment in fired] == OCTOBER_RUNS
    assert {(moment.hour, moment.minute) for moment in fired} == {(9, 0)}
    assert Enrollment.objects.filter(workflow=workflow).count() == 6


def test_the_preview_gives_the_same_days():
    runs, after = [], datetime(2025, 9, 30, 12, tzinfo=UTC)
    for _ in range(6):
        after = next_run(CRON, timezone="UTC", after=after)
        runs.append(after)
    assert [moment.date() for moment in runs] == OCTOBER_RUNS
    assert [day for day in OCTOBER_RUNS if runs_on(CRON, day)] == OCTOBER_RUNS
    assert not runs_on(CRON, date(2025, 10, 2))


def test_beat_gets_both_day_fields_open_only_when_both_are_restricted():
    assert crontab_fields(CRON)["day_of_month"] == "*"
    assert crontab_fields(CRON)["day_of_week"] == "*"
    assert crontab_fields("0 9 1,15 * *")["day_of_month"] == "1,15"
    assert crontab_fields("0 9 * * mon")["day_of_week"] == "mon"


def test_a_single_day_field_keeps_beats_own_day_check():
    workflow = scheduled_workflow("0 9 * * mon")
    fired = beat_month(
        workflow, datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)
    )
    assert [moment.day for moment in fired] == [6, 13, 20, 27]


def test_the_validator_warns_that_either_day_field_runs_the_job():
    text = f"""
name: Either day
trigger: {{type: schedule, config: {{cron: "{CRON}"}}}}
steps: [{{id: done, type: exit}}]
"""
    result = check_document(text, format="yaml")
    assert result.errors == []
    [warning] = [w for w in result.warnings if w.path == "trigger.config.cron"]
    assert "day-of-month '1,15' OR day-of-week 'mon'" in warning.message
