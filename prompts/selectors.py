"""Reads on AI usage: tokens and cost from the StepLog, by day, workflow and prompt.

Every AI call that reached a model, from a workflow step or from "try it", writes a StepLog with a
model name (a call stopped before sending names none), so the StepLog is the one ledger; months
and days are the tenant's own (its time zone). Output tokens include thinking tokens, which are
also summed on their own, as are cached prompt tokens.
"""

from __future__ import annotations

import difflib
import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from crm.models import Tenant
from workflows.models import StepLog

from .models import Prompt

ZERO = Decimal("0")
_TOTALS = {
    "calls": Count("id"),
    "input_tokens": Coalesce(Sum("input_tokens"), 0),
    "output_tokens": Coalesce(Sum("output_tokens"), 0),
    "thinking_tokens": Coalesce(Sum("thinking_tokens"), 0),
    "cached_tokens": Coalesce(Sum("cached_tokens"), 0),
    "cost": Coalesce(Sum("cost"), Value(ZERO), output_field=DecimalField()),
}


def tenant_zone(tenant: Tenant) -> ZoneInfo:
    """The tenant's time zone, or UTC when its name is unknown."""
    try:
        return ZoneInfo(tenant.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def month_bounds(*, tenant: Tenant, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the tenant's current calendar month, as aware datetimes."""
    local = (now or timezone.now()).astimezone(tenant_zone(tenant))
    start = datetime.combine(local.date().replace(day=1), time(0), tzinfo=local.tzinfo)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start, start.replace(year=year, month=month)


def ai_logs(*, tenant: Tenant, since: datetime | None = None) -> QuerySet[StepLog]:
    """StepLogs of AI calls (those that name a model) for ``tenant``, from ``since`` on."""
    logs = StepLog.objects.filter(tenant=tenant).exclude(model_name="")
    if since is not None:
        logs = logs.filter(started_at__gte=since)
    return logs


def _as_since(tenant: Tenant, since: date | datetime) -> datetime:
    if isinstance(since, datetime):
        return since
    return datetime.combine(since, time(0), tzinfo=tenant_zone(tenant))


def month_cost(*, tenant: Tenant, now: datetime | None = None) -> Decimal:
    """USD spent on AI in the tenant's current month."""
    start, end = month_bounds(tenant=tenant, now=now)
    logs = ai_logs(tenant=tenant, since=start).filter(started_at__lt=end)
    return logs.aggregate(cost=_TOTALS["cost"])["cost"]


def usage_by_day(*, tenant: Tenant, since: date | datetime) -> list[dict[str, Any]]:
    """One row per day with calls: day, calls, input_tokens, output_tokens, cost."""
    day = TruncDate("started_at", tzinfo=tenant_zone(tenant))
    logs = ai_logs(tenant=tenant, since=_as_since(tenant, since))
    return list(logs.annotate(day=day).values("day").annotate(**_TOTALS).order_by("day"))


def usage_by_workflow(*, tenant: Tenant, since: date | datetime) -> list[dict[str, Any]]:
    """One row per workflow (None for "try it" runs), dearest first."""
    logs = ai_logs(tenant=tenant, since=_as_since(tenant, since))
    rows = logs.values("workflow_id", "workflow__name").annotate(**_TOTALS)
    return list(rows.order_by("-cost", "workflow__name"))


def usage_by_prompt(*, tenant: Tenant, since: date | datetime) -> list[dict[str, Any]]:
    """One row per prompt version (None for inline ``ask_ai`` prompts), dearest first."""
    logs = ai_logs(tenant=tenant, since=_as_since(tenant, since))
    rows = logs.values("prompt_id", "prompt__name", "prompt__version").annotate(**_TOTALS)
    return list(rows.order_by("-cost", "prompt__name", "prompt__version"))


# The fields a prompt version is compared on, in the order the studio shows them.
COMPARED_FIELDS = (
    "system_prompt_text",
    "user_prompt_text",
    "template_variables",
    "provider",
    "model_name",
    "generation_config",
    "status",
)


def prompt_versions(*, prompt: Prompt) -> QuerySet[Prompt]:
    """Every version of ``prompt``'s name in its tenant, newest first."""
    return Prompt.objects.filter(tenant_id=prompt.tenant_id, name=prompt.name).order_by("-version")


def prompt_diff(*, old: Prompt, new: Prompt) -> list[dict[str, Any]]:
    """Per compared field: ``field``, both values as text, ``changed``, and a unified ``diff``
    (lines starting with + or -) for the prompt texts. Both must be versions of one name."""
    if (old.tenant_id, old.name) != (new.tenant_id, new.name):
        raise ValueError(f"'{old}' and '{new}' are not versions of one prompt")
    rows = []
    for name in COMPARED_FIELDS:
        before, after = _as_text(getattr(old, name)), _as_text(getattr(new, name))
        diff = difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            f"v{old.version}",
            f"v{new.version}",
            lineterm="",
        )
        rows.append(
            {
                "field": name,
                "old": before,
                "new": after,
                "changed": before != after,
                "diff": list(diff),
            }
        )
    return rows


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
