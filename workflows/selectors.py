"""Reads on workflows: export, version diffs, stats."""

from __future__ import annotations

import difflib
from typing import Any

from django.db.models import Count, Max, Q

from engine.definition import dump_json, dump_yaml, load_definition

from .models import Enrollment, StepLog, Workflow, WorkflowVersion
from .services import draft_definition


def workflow_export(*, workflow: Workflow, version: int | None = None, fmt: str = "yaml") -> str:
    """The draft (or version ``version``) as YAML or JSON text."""
    if version is None:
        definition = draft_definition(workflow=workflow)
    else:
        definition = load_definition(workflow.versions.get(number=version).definition)
    if fmt == "json":
        return dump_json(definition)
    if fmt == "yaml":
        return dump_yaml(definition)
    raise ValueError(f"unknown export format '{fmt}': use yaml or json")


def version_diff(*, workflow: Workflow, old: int, new: int) -> dict[str, Any]:
    """What changed between two versions: steps added, removed, changed, and a YAML diff."""
    versions = {v.number: v for v in workflow.versions.filter(number__in=[old, new])}
    for number in (old, new):
        if number not in versions:
            raise WorkflowVersion.DoesNotExist(
                f"workflow '{workflow.name}' has no version {number}"
            )
    before, after = versions[old].definition, versions[new].definition
    old_steps = {s["id"]: s for s in before.get("steps", [])}
    new_steps = {s["id"]: s for s in after.get("steps", [])}
    text = difflib.unified_diff(
        dump_yaml(load_definition(before)).splitlines(),
        dump_yaml(load_definition(after)).splitlines(),
        fromfile=f"v{old}",
        tofile=f"v{new}",
        lineterm="",
    )
    return {
        "added": [s for s in new_steps if s not in old_steps],
        "removed": [s for s in old_steps if s not in new_steps],
        "changed": [s for s in new_steps if s in old_steps and new_steps[s] != old_steps[s]],
        "trigger_changed": before.get("trigger") != after.get("trigger"),
        "settings_changed": before.get("settings") != after.get("settings"),
        "text": "\n".join(text),
    }


def workflow_stats(*, workflow: Workflow) -> dict[str, Any]:
    S = Enrollment.Status
    counts = Enrollment.objects.filter(workflow=workflow).aggregate(
        enrolled=Count("id"),
        active=Count("id", filter=Q(status__in=[S.ACTIVE, S.WAITING])),
        completed=Count("id", filter=Q(status=S.COMPLETED)),
        exited=Count("id", filter=Q(status=S.EXITED)),
        failed=Count("id", filter=Q(status=S.FAILED)),
    )
    runs = StepLog.objects.filter(workflow=workflow).aggregate(
        runs=Count("id"),
        succeeded=Count("id", filter=Q(status=StepLog.Status.SUCCEEDED)),
        last_run=Max("started_at"),
    )
    finished = counts["completed"] + counts["exited"] + counts["failed"]
    counts["success_rate"] = (
        round((counts["completed"] + counts["exited"]) / finished, 4) if finished else None
    )
    counts["runs"] = runs["runs"]
    counts["last_run"] = runs["last_run"]
    return counts
