"""Reads for the studio dashboard (the admin index): runs, failures, waiting, A/B, AI spend.

Every function reads one tenant's rows; days are the tenant's local days.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate
from django.utils import timezone

from crm.models import Tenant
from prompts.selectors import (
    month_cost,
    tenant_zone,
    usage_by_day,
    usage_by_prompt,
    usage_by_workflow,
)

from .models import Enrollment, StepLog, Workflow

DAYS = 14


def _days(tenant: Tenant, days: int) -> list[date]:
    today = timezone.now().astimezone(tenant_zone(tenant)).date()
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def runs_per_day(*, tenant: Tenant, days: int = DAYS) -> list[dict[str, Any]]:
    """One row per day (oldest first): enrollments started (``runs``), ``finished`` among
    those, ``succeeded`` (completed or exited) and ``success_rate`` (0–1, None when none
    finished). Source: issue 12's dashboard."""
    S = Enrollment.Status
    span = _days(tenant, days)
    rows = (
        Enrollment.objects.filter(tenant=tenant, enrolled_at__date__gte=span[0] - timedelta(1))
        .annotate(day=TruncDate("enrolled_at", tzinfo=tenant_zone(tenant)))
        .values("day")
        .annotate(
            runs=Count("id"),
            succeeded=Count("id", filter=Q(status__in=[S.COMPLETED, S.EXITED])),
            failed=Count("id", filter=Q(status=S.FAILED)),
        )
    )
    found = {row["day"]: row for row in rows}
    result = []
    for day in span:
        row = found.get(day, {})
        runs, ok, bad = row.get("runs", 0), row.get("succeeded", 0), row.get("failed", 0)
        finished = ok + bad
        result.append(
            {
                "day": day,
                "runs": runs,
                "succeeded": ok,
                "failed": bad,
                "success_rate": round(ok / finished, 4) if finished else None,
            }
        )
    return result


def failures_by_step(*, tenant: Tenant, days: int = 30, limit: int = 10) -> list[dict[str, Any]]:
    """The (workflow, step) pairs with the most failed step runs in the last ``days`` days."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        StepLog.objects.filter(tenant=tenant, status=StepLog.Status.FAILED, started_at__gte=since)
        .values("workflow__name", "step_id")
        .annotate(failures=Count("id"))
        .order_by("-failures", "workflow__name", "step_id")
    )
    return list(rows[:limit])


def waiting_by_workflow(*, tenant: Tenant) -> list[dict[str, Any]]:
    """Workflows with enrollments waiting right now, most first."""
    rows = (
        Enrollment.objects.filter(tenant=tenant, status=Enrollment.Status.WAITING)
        .values("workflow__name")
        .annotate(waiting=Count("id"))
        .order_by("-waiting", "workflow__name")
    )
    return list(rows)


def ab_results(*, tenant: Tenant) -> list[dict[str, Any]]:
    """Per published A/B step: each variant's enrollments and goal conversions (enrollments
    whose context records a met goal of the same version)."""
    results = []
    workflows = Workflow.objects.filter(tenant=tenant, published_version__isnull=False)
    for workflow in workflows.select_related("published_version"):
        steps = workflow.published_version.definition.get("steps") or []
        goals = [s["id"] for s in steps if s.get("type") == "goal"]
        converted = Q(pk__in=[])
        for goal in goals:
            converted |= Q(**{f"context__steps__{goal}__met": True})
        for step in steps:
            if step.get("type") != "ab_split":
                continue
            rows = (
                Enrollment.objects.filter(workflow=workflow)
                .annotate(variant=KT(f"context__steps__{step['id']}__variant"))
                .exclude(variant=None)
                .values("variant")
                .annotate(enrolled=Count("id"), converted=Count("id", filter=converted))
            )
            found = {row["variant"]: row for row in rows}
            for variant in (step.get("config") or {}).get("variants") or []:
                row = found.get(variant.get("name"), {})
                enrolled = row.get("enrolled", 0)
                results.append(
                    {
                        "workflow": workflow.name,
                        "step": step["id"],
                        "variant": variant.get("name"),
                        "enrolled": enrolled,
                        "converted": row.get("converted", 0),
                        "rate": round(row.get("converted", 0) / enrolled, 4) if enrolled else None,
                    }
                )
    return results


def ai_spend(*, tenant: Tenant, days: int = DAYS) -> dict[str, Any]:
    """AI tokens and cost (USD) per day, per workflow and per prompt; the month's spend and
    the tenant's cap (``ai_monthly_cost_cap``, None when uncapped)."""
    since = _days(tenant, days)[0]
    by_day = {row["day"]: row for row in usage_by_day(tenant=tenant, since=since)}
    return {
        "by_day": [
            {
                "day": day,
                "tokens": (by_day.get(day, {}).get("input_tokens") or 0)
                + (by_day.get(day, {}).get("output_tokens") or 0),
                "cost": by_day.get(day, {}).get("cost") or 0,
            }
            for day in _days(tenant, days)
        ],
        "by_workflow": usage_by_workflow(tenant=tenant, since=since),
        "by_prompt": usage_by_prompt(tenant=tenant, since=since),
        "month_cost": month_cost(tenant=tenant),
        "cap": tenant.ai_monthly_cost_cap,
    }
