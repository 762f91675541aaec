"""Small workflows for trigger tests."""

from __future__ import annotations

from typing import Any

from tests.cast import make_published
from workflows.models import Enrollment, Workflow

WAIT_STEP = {"id": "pause", "type": "wait", "config": {"duration": "1h"}}


def listening(
    tenant, kind: str, *, config=None, filters=None, name=None, steps=None, **settings: Any
) -> Workflow:
    """An active workflow on ``kind`` whose only step waits (so nothing is sent)."""
    trigger: dict[str, Any] = {"type": kind}
    if config:
        trigger["config"] = config
    if filters:
        trigger["filters"] = filters
    definition = {
        "name": name or f"On {kind} {Workflow.objects.count() + 1}",
        "trigger": trigger,
        "settings": settings,
        "steps": steps or [WAIT_STEP],
    }
    return make_published(tenant, definition)


def enrolled(workflow: Workflow) -> list[Any]:
    return list(Enrollment.objects.filter(workflow=workflow).values_list("contact_id", flat=True))


def trigger_of(workflow: Workflow, contact) -> dict[str, Any]:
    return Enrollment.objects.get(workflow=workflow, contact=contact).context["trigger"]
