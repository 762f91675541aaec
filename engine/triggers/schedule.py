"""Schedule triggers: one django-celery-beat crontab per active scheduled workflow.

``schedule_sync`` creates, updates or removes the PeriodicTask when the workflow is
published, paused, resumed or archived; beat then sends ``engine.tasks.run_schedule`` at the
cron time in the schedule's time zone (celery's crontab follows daylight-saving changes).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from engine.definition.triggers import get_trigger_kind
from engine.language.cron import CronError, crontab_fields, either_day, runs_on
from engine.runtime.bulk_enroll import enrollments_bulk_create
from engine.triggers.audience import contacts_matching
from engine.triggers.matching import Listener, live_definition, trigger_context
from workflows.models import Workflow

logger = logging.getLogger(__name__)

RUN_SCHEDULE = "engine.tasks.run_schedule"


def task_name(workflow_id: int) -> str:
    return f"studio:workflow:{workflow_id}:schedule"


def published_trigger(workflow: Workflow) -> dict[str, Any]:
    """The trigger of the live version (the draft may differ until it is published)."""
    trigger = dict(live_definition(workflow).get("trigger") or {})
    kind = get_trigger_kind(str(trigger.get("type", "")))
    trigger["type"] = kind.type if kind else trigger.get("type")
    return trigger


def schedule_zone(workflow: Workflow, config: dict[str, Any]) -> str:
    version = workflow.published_version
    definition_settings = ((version.definition if version else None) or {}).get("settings") or {}
    return (
        config.get("timezone")
        or definition_settings.get("timezone")
        or workflow.tenant.timezone
        or "UTC"
    )


def schedule_sync(*, workflow_id: int) -> PeriodicTask | None:
    """Make beat's PeriodicTask match the workflow: present while active and scheduled."""
    workflow = (
        Workflow.objects.select_related("published_version", "tenant")
        .filter(pk=workflow_id)
        .first()
    )
    trigger = published_trigger(workflow) if workflow else {}
    config = trigger.get("config") or {}
    if (
        workflow is None
        or workflow.status != Workflow.Status.ACTIVE
        or trigger.get("type") != "schedule"
    ):
        PeriodicTask.objects.filter(name=task_name(workflow_id)).delete()
        return None
    try:
        fields = crontab_fields(config.get("cron") or config.get("schedule") or "")
    except CronError as exc:
        logger.error("workflow %s: schedule not created: %s", workflow_id, exc)
        PeriodicTask.objects.filter(name=task_name(workflow_id)).delete()
        return None
    with transaction.atomic():
        crontab = CrontabSchedule.objects.filter(
            **fields, timezone=schedule_zone(workflow, config)
        ).first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(
                **fields, timezone=schedule_zone(workflow, config)
            )
        task, _ = PeriodicTask.objects.update_or_create(
            name=task_name(workflow_id),
            defaults={
                "task": RUN_SCHEDULE,
                "crontab": crontab,
                "interval": None,
                "args": json.dumps([workflow_id]),
                "enabled": True,
                "description": f"Schedule trigger of workflow '{workflow.name}'",
            },
        )
    return task


def _run_day(cron: str, zone: str, now: datetime) -> bool:
    """Whether ``now`` falls on a run day of ``cron`` as crontab(5) reads it."""
    try:
        return not either_day(cron) or runs_on(cron, now.astimezone(ZoneInfo(zone)).date())
    except (CronError, ValueError, KeyError):
        return True  # nothing to narrow: beat only runs what it could read


def schedule_run(*, workflow_id: int) -> int:
    """The cron time came: enroll, in bulk, every contact of the tenant that passes the filters."""
    workflow = (
        Workflow.objects.select_related("published_version", "tenant")
        .filter(pk=workflow_id)
        .first()
    )
    if (
        workflow is None
        or workflow.status != Workflow.Status.ACTIVE
        or workflow.published_version is None
    ):
        return 0
    trigger = published_trigger(workflow)
    config = dict(trigger.get("config") or {})
    zone = schedule_zone(workflow, config)
    now = timezone.now()
    if not _run_day(config.get("cron") or config.get("schedule") or "", zone, now):
        return 0  # beat fires daily for such a schedule; crontab(5)'s days are kept here
    listener = Listener(workflow.pk, "schedule", config, trigger.get("filters"), zone, True)
    data = {
        "occurred_at": now.isoformat(),
        "scheduled_at": now.isoformat(),
        "cron": config.get("cron") or config.get("schedule"),
        "timezone": zone,
    }
    context = trigger_context(listener, data, now)
    # Filters on dates read them in the schedule's zone, as a run of the workflow would.
    with timezone.override(ZoneInfo(zone)):
        ids = contacts_matching(
            tenant_id=workflow.tenant_id, filters=trigger.get("filters"), trigger=context
        )
        return enrollments_bulk_create(workflow=workflow, contact_ids=ids, trigger=context)
