"""Keeping trigger state in step with workflows: the index cache and beat schedules."""

from __future__ import annotations

from django.db.models.signals import post_save

from engine.triggers import matching
from engine.triggers.schedule import schedule_sync
from workflows.models import Workflow
from workflows.signals import workflow_changed


def workflow_changed_received(sender, workflow_id: int, tenant_id: int, **kwargs) -> None:
    """Published, paused, resumed or archived: drop the tenant's index, resync its schedule."""
    matching.invalidate(tenant_id)
    schedule_sync(workflow_id=workflow_id)


def workflow_saved(sender, instance: Workflow, **kwargs) -> None:
    """Any direct save (admin, shell, fixtures) may change what listens: forget the index here."""
    matching.invalidate(instance.tenant_id)


def connect() -> None:
    workflow_changed.connect(workflow_changed_received, dispatch_uid="studio_triggers_lifecycle")
    post_save.connect(workflow_saved, sender=Workflow, dispatch_uid="studio_triggers_wf_saved")
