"""Builds what a step sees: the template namespaces as plain dicts, and its StepContext."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.handlers.base import StepContext
from engine.language.templating import NO_CONTEXT, check_context, reads_context, render_value
from engine.runtime.flow import Flow


class AssetRefs(dict):
    """``{{templates.welcome}}`` renders the slug ``welcome``; publishing checks it exists."""

    def __missing__(self, key: str) -> str:
        return key

    def __contains__(self, key: object) -> bool:
        # The template engine asks "in" before indexing; every slug is a reference.
        return isinstance(key, str) and not key.startswith("_")


def template_data(
    *,
    contact: dict[str, Any],
    context: dict[str, Any],
    flow: Flow,
    workflow_id: Any,
    enrollment: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    return {
        "contact": contact,
        "trigger": context.get("trigger") or {},
        "steps": context.setdefault("steps", {}),
        "workflow": {
            "id": workflow_id,
            "name": flow.name,
            "enrolled_at": enrollment.get("enrolled_at"),
        },
        "enrollment": enrollment,
        "now": now,
        "templates": AssetRefs(),
        "voicemails": AssetRefs(),
    }


def step_context(
    *,
    data: dict[str, Any],
    flow: Flow,
    step_id: str,
    now: datetime,
    tenant_id: int,
    enrollment_id: int | None,
    contact_id: Any,
    visit: int,
    services: Any,
) -> StepContext:
    memo: list[Mapping[str, Any]] = []

    def checked() -> Mapping[str, Any]:
        # The whole context is walked once per step, and only when a text reads it: a tag
        # name or a condition's constant renders without it.
        if not memo:
            memo.append(check_context(data))
        return memo[0]

    def render(value: Any) -> Any:
        return render_value(value, checked() if reads_context(value) else NO_CONTEXT)

    return StepContext(
        data=data,
        now=now,
        tenant_id=tenant_id,
        enrollment_id=enrollment_id,
        contact_id=contact_id,
        workflow_settings=flow.settings,
        visit=visit,
        services=services,
        successor=flow.successor(step_id),
        render_value=render,
        checked=checked,
    )
