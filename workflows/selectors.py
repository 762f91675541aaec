"""Reads on workflows: export, version diffs, stats."""

from __future__ import annotations

import difflib
import time
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.urls import reverse

from crm.models import Tenant
from engine.definition import dump_json, dump_yaml, load_definition
from engine.triggers import webhooks
from engine.triggers.schedule import published_trigger

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
    """Counts for a workflow: enrolled, active (active + waiting), waiting, completed, exited,
    failed, success_rate (completed + exited over finished, or None), runs (step executions),
    last_run, tokens, cost (USD, a string), steps (per step id: waiting_at, done, failed),
    ab_tests (per A/B step and variant: enrolled and goal conversions)."""
    S = Enrollment.Status
    enrollments = Enrollment.objects.filter(workflow=workflow)
    counts = enrollments.aggregate(
        enrolled=Count("id"),
        active=Count("id", filter=Q(status__in=[S.ACTIVE, S.WAITING])),
        waiting=Count("id", filter=Q(status=S.WAITING)),
        completed=Count("id", filter=Q(status=S.COMPLETED)),
        exited=Count("id", filter=Q(status=S.EXITED)),
        failed=Count("id", filter=Q(status=S.FAILED)),
    )
    logs = StepLog.objects.filter(workflow=workflow)
    runs = logs.aggregate(
        runs=Count("id"),
        last_run=Max("started_at"),
        tokens=Sum("token_usage"),
        cost=Sum("cost"),
    )
    finished = counts["completed"] + counts["exited"] + counts["failed"]
    counts["success_rate"] = (
        round((counts["completed"] + counts["exited"]) / finished, 4) if finished else None
    )
    counts["runs"] = runs["runs"]
    counts["last_run"] = runs["last_run"]
    counts["tokens"] = runs["tokens"] or 0
    counts["cost"] = str(runs["cost"] or Decimal("0"))
    counts["steps"] = _step_counts(workflow, enrollments, logs)
    counts["ab_tests"] = _ab_counts(workflow, enrollments)
    return counts


def _step_counts(workflow: Workflow, enrollments, logs) -> dict[str, dict[str, int]]:
    steps: dict[str, dict[str, int]] = {}

    def entry(step_id: str) -> dict[str, int]:
        return steps.setdefault(step_id, {"waiting_at": 0, "done": 0, "failed": 0})

    for row in workflow.steps.order_by("order", "id").values_list("step_id", flat=True):
        entry(row)
    # A waiting enrollment's current_step is the step it will run next; it is waiting AT the
    # step whose step log is still open (the wait, the goal), so it is counted there.
    open_log = StepLog.objects.filter(
        enrollment_id=OuterRef("pk"), status=StepLog.Status.WAITING
    ).order_by("-id")
    live = (
        enrollments.filter(status__in=Enrollment.LIVE_STATUSES)
        .annotate(open_at=Subquery(open_log.values("step_id")[:1]))
        .annotate(at=Coalesce("open_at", "current_step"))
        .exclude(at="")
    )
    for row in live.values("at").annotate(n=Count("id")):
        entry(row["at"])["waiting_at"] = row["n"]
    # A step whose log is still open (a running wait) is not done yet.
    done = [StepLog.Status.SUCCEEDED, StepLog.Status.SKIPPED]
    per_step = logs.values("step_id").annotate(
        done=Count("id", filter=Q(status__in=done)),
        failed=Count("id", filter=Q(status=StepLog.Status.FAILED)),
    )
    for row in per_step:
        item = entry(row["step_id"])
        item["done"], item["failed"] = row["done"], row["failed"]
    return steps


def _ab_counts(workflow: Workflow, enrollments) -> dict[str, list[dict[str, Any]]]:
    version = workflow.published_version
    if version is None:
        return {}
    steps = version.definition.get("steps") or []
    goals = [s["id"] for s in steps if s.get("type") == "goal"]
    converted = Q()
    for goal in goals:
        converted |= Q(**{f"context__steps__{goal}__met": True})
    out: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        if step.get("type") != "ab_split":
            continue
        names = [v.get("name") for v in (step.get("config") or {}).get("variants") or []]
        rows = (
            enrollments.annotate(variant=KT(f"context__steps__{step['id']}__variant"))
            .exclude(variant=None)
            .values("variant")
            .annotate(
                enrolled=Count("id"),
                converted=Count("id", filter=converted) if goals else Value(0),
            )
        )
        found = {r["variant"]: r for r in rows}
        out[step["id"]] = [
            {
                "variant": name,
                "enrolled": found.get(name, {}).get("enrolled", 0),
                "goal_conversions": found.get(name, {}).get("converted", 0),
            }
            for name in names
        ]
    return out


def enrollments_for(*, workflow: Workflow) -> QuerySet[Enrollment]:
    """The workflow's enrollments, newest first, with what a list shows."""
    return workflow.enrollments.select_related("version", "contact").order_by("-enrolled_at", "-id")


def enrollment_get(*, tenant: Tenant, pk: Any) -> Enrollment:
    """One enrollment of ``tenant``; Enrollment.DoesNotExist otherwise (other tenants too)."""
    return Enrollment.objects.select_related("workflow", "version", "contact").get(
        tenant=tenant, pk=pk
    )


def enrollment_timeline(*, enrollment: Enrollment) -> list[dict[str, Any]]:
    """A short timeline: one entry per step log (step, status, times, error)."""
    return [
        {
            "step_id": log.step_id,
            "type": log.step_type,
            "status": log.status,
            "visit": log.visit,
            "started_at": log.started_at,
            "finished_at": log.finished_at,
            "next_step": log.next_step,
            "error": log.error_message,
        }
        for log in enrollment.logs.order_by("started_at", "id")[:200]
    ]


def workflows_for(*, tenant: Tenant) -> QuerySet[Workflow]:
    """The tenant's workflows with their published version, by name."""
    return Workflow.objects.filter(tenant=tenant).select_related("published_version")


def workflow_counts(*, workflows: QuerySet[Workflow]) -> dict[int, dict[str, Any]]:
    """Per workflow id: runs (enrollments), successes (completed), errors (failed), last run."""
    S = Enrollment.Status
    rows = (
        Enrollment.objects.filter(workflow__in=workflows)
        .values("workflow_id")
        .annotate(
            runs=Count("id"),
            successes=Count("id", filter=Q(status__in=[S.COMPLETED])),
            errors=Count("id", filter=Q(status=S.FAILED)),
            last_run=Max("enrolled_at"),
        )
    )
    return {r["workflow_id"]: r for r in rows}


def enrollment_wait(*, enrollment: Enrollment, seconds: float, poll: float = 0.1) -> Enrollment:
    """Re-read ``enrollment`` until it is no longer live or ``seconds`` pass; the last read.

    For ``POST /api/workflows/run?wait=N``: instant workflows finish within it on a worker.
    """
    deadline = time.monotonic() + max(0.0, seconds)
    while True:
        enrollment.refresh_from_db()
        if enrollment.status not in Enrollment.LIVE_STATUSES or time.monotonic() >= deadline:
            return enrollment
        time.sleep(poll)


def enrollment_results(*, enrollment: Enrollment) -> dict[str, Any]:
    """Step id → parsed output of its latest successful run (the TypeScript ``results``)."""
    results: dict[str, Any] = {}
    logs = enrollment.logs.filter(status=StepLog.Status.SUCCEEDED).order_by("started_at", "id")
    for log in logs:
        results[log.step_id] = log.parsed_output or {}
    return results


def workflows_with_stats(*, queryset: QuerySet[Workflow]) -> QuerySet[Workflow]:
    """``queryset`` annotated for lists: ``enrolled``, ``live`` (active or waiting),
    ``completed``, ``exited``, ``failed`` enrollment counts and ``last_run`` (the newest step
    log's start, or None). One query; the counts use the enrollment (workflow, status) index.
    """
    S = Enrollment.Status
    newest_log = (
        StepLog.objects.filter(workflow=OuterRef("pk")).order_by("-started_at").values("started_at")
    )
    return queryset.annotate(
        enrolled=Count("enrollments"),
        live=Count("enrollments", filter=Q(enrollments__status__in=[S.ACTIVE, S.WAITING])),
        completed=Count("enrollments", filter=Q(enrollments__status=S.COMPLETED)),
        exited=Count("enrollments", filter=Q(enrollments__status=S.EXITED)),
        failed=Count("enrollments", filter=Q(enrollments__status=S.FAILED)),
        last_run=Subquery(newest_log[:1]),
    )


def step_counts(*, workflow: Workflow) -> dict[str, dict[str, int]]:
    """step id → {"waiting": enrollments live at it, "done": succeeded runs, "failed": runs}."""
    counts: dict[str, dict[str, int]] = {}
    live = (
        Enrollment.objects.filter(workflow=workflow, status__in=Enrollment.LIVE_STATUSES)
        .values("current_step")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in live:
        counts.setdefault(row["current_step"], {})["waiting"] = row["n"]
    wanted = {StepLog.Status.SUCCEEDED: "done", StepLog.Status.FAILED: "failed"}
    logs = (
        StepLog.objects.filter(workflow=workflow, status__in=list(wanted))
        .values("step_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in logs:
        counts.setdefault(row["step_id"], {})[wanted[row["status"]]] = row["n"]
    return counts


def possible_duplicate_sends(
    *, tenant_ids: set[int] | None = None, since: Any = None
) -> dict[str, Any]:
    """Step executions that re-sent a provider call which may already have completed (their
    worker died mid-call): ``{"count": n, "latest": [StepLog, … up to 20]}`` for the dashboard.

    ``tenant_ids`` None means every tenant (a superuser); ``since`` a datetime lower bound.
    """
    logs = StepLog.objects.filter(possible_duplicate=True)
    if tenant_ids is not None:
        logs = logs.filter(tenant_id__in=tenant_ids)
    if since is not None:
        logs = logs.filter(started_at__gte=since)
    return {"count": logs.count(), "latest": list(logs.order_by("-started_at")[:20])}


def webhook_endpoint(*, workflow: Workflow) -> dict[str, Any]:
    """What a sender needs to call the workflow's inbound webhook (docs/triggers.md):
    ``{"path": "/hooks/<token>/", "token", "secret", "signing", "headers", "accepting"}``;
    ``accepting`` is True while the workflow is active with a published webhook trigger.
    The secret is for callers entitled to it (admins and owners); never log the result."""
    trigger = published_trigger(workflow) if workflow.published_version_id else {}
    return {
        "path": reverse("workflows:webhook", args=[workflow.webhook_token]),
        "token": workflow.webhook_token,
        "secret": workflow.webhook_secret,
        "signing": "HMAC-SHA256 with the secret over '<X-Studio-Timestamp>.<raw body>', "
        "sent as X-Studio-Signature: sha256=<hex>",
        "headers": {
            "Content-Type": "application/json",
            webhooks.TIMESTAMP_HEADER: "unix seconds",
            webhooks.SIGNATURE_HEADER: "sha256=<hex>",
            webhooks.DELIVERY_HEADER: "a unique id per delivery (a repeat is a replay)",
        },
        "accepting": workflow.status == Workflow.Status.ACTIVE and trigger.get("type") == "webhook",
    }
