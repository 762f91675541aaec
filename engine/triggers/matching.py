"""Which workflows listen to an event: a per-tenant index by kind, then config, then filters.

The index is built from the *published* definitions (not the editable draft), kept in a
process dict for ``STUDIO_TRIGGER_INDEX_SECONDS`` and dropped at once on ``workflow_changed``
(publish, pause, resume, archive). A stale index can only delay a new workflow's first events
in other processes: enrolling re-reads the workflow and refuses one that is not active.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import timezone

from engine.definition.triggers import get_trigger_kind
from engine.language.conditions import evaluate, reads_contact
from engine.runtime.flow import flow_for_version
from engine.triggers.registry import SOURCES
from workflows.models import Workflow

logger = logging.getLogger(__name__)

_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
# Workflows whose enrollments may still be running and so need goal / exit re-checks.
_RECHECK_STATUSES = (Workflow.Status.ACTIVE, Workflow.Status.PAUSED, Workflow.Status.ARCHIVED)


@dataclass(frozen=True)
class Listener:
    """One active workflow listening to one kind, with its published trigger."""

    workflow_id: int
    kind: str
    config: dict[str, Any]
    filters: Any
    timezone: str
    needs_contact: bool


@dataclass(frozen=True)
class TenantIndex:
    """A tenant's listeners by trigger kind; ``recheck``: some workflow has goals or exit
    conditions, so every contact event re-checks the contact's live enrollments; ``replies``:
    some workflow sends messages, so an inbound message marks the send it answers."""

    by_kind: dict[str, tuple[Listener, ...]] = field(default_factory=dict)
    recheck: bool = False
    replies: bool = False

    def listens(self, kinds: list[str] | tuple[str, ...]) -> bool:
        return any(kind in self.by_kind for kind in kinds)


RECHECK_KINDS = frozenset({"goal"})
# Steps whose sends an inbound message can answer (``record_reply``).
REPLY_KINDS = frozenset({"send_sms", "send_whatsapp", "send_message", "send_email", "make_call"})

_cache: dict[int, tuple[float, TenantIndex]] = {}


def _ttl() -> float:
    return float(getattr(settings, "STUDIO_TRIGGER_INDEX_SECONDS", 30))


def tenant_index(tenant_id: int) -> TenantIndex:
    """The tenant's trigger index, from the process cache or (once per TTL) the database."""
    hit = _cache.get(tenant_id)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    index = build_index(tenant_id)
    _cache[tenant_id] = (now + _ttl(), index)
    return index


def invalidate(tenant_id: int | None = None) -> None:
    """Forget one tenant's index (or all); the next event rebuilds it."""
    if tenant_id is None:
        _cache.clear()
    else:
        _cache.pop(tenant_id, None)


def build_index(tenant_id: int) -> TenantIndex:
    """One query: the tenant's published workflows, grouped by the kind they listen to."""
    rows = Workflow.objects.filter(
        tenant_id=tenant_id, status__in=_RECHECK_STATUSES, published_version__isnull=False
    ).values_list("id", "status", "published_version__definition", "tenant__timezone")
    by_kind: dict[str, list[Listener]] = {}
    recheck = replies = False
    for workflow_id, status, definition, tenant_zone in rows:
        definition = definition or {}
        wf_settings = definition.get("settings") or {}
        steps = definition.get("steps") or []
        kinds = {s.get("type") for s in steps}
        # Goals and exit conditions re-check on every contact event; send steps only need
        # inbound messages (a tag or a field change in such a tenant is no event for them).
        if wf_settings.get("exit_conditions") or kinds & RECHECK_KINDS:
            recheck = True
        if kinds & REPLY_KINDS:
            replies = True
        if status != Workflow.Status.ACTIVE:
            continue
        listener = listener_from(workflow_id, definition, tenant_zone)
        if listener is not None:
            by_kind.setdefault(listener.kind, []).append(listener)
    return TenantIndex({k: tuple(v) for k, v in by_kind.items()}, recheck, replies)


# What the hot paths (a webhook request, an enrolling task) read of a workflow: not its draft
# (source text, settings, trigger JSON), which would be fetched and decoded on every call.
HOT_WORKFLOW_FIELDS = (
    "id",
    "tenant_id",
    "name",
    "status",
    "webhook_token",
    "webhook_secret",
    "published_version",
    "published_version__id",
    "published_version__workflow_id",
)


def live_workflows():
    """Workflows with their published version's id but not its definition (QuerySet).

    Versions never change, so their definitions come from the per-process flow cache
    (``engine.runtime.flow``); read them with :func:`live_definition`.
    """
    return Workflow.objects.select_related("published_version").only(*HOT_WORKFLOW_FIELDS)


def live_definition(workflow: Workflow) -> dict[str, Any]:
    """The published version's trigger and settings (``{}`` when nothing is published)."""
    if workflow.published_version_id is None:
        return {}
    flow = flow_for_version(workflow.published_version_id)
    return {"trigger": dict(flow.trigger), "settings": dict(flow.settings)}


def listener_from(workflow_id: int, definition: dict[str, Any], zone: str) -> Listener | None:
    trigger = definition.get("trigger") or {}
    kind = get_trigger_kind(str(trigger.get("type", "")))
    if kind is None:
        return None
    filters = trigger.get("filters") or None
    return Listener(
        workflow_id=workflow_id,
        kind=kind.type,
        config=dict(trigger.get("config") or {}),
        filters=filters,
        timezone=(definition.get("settings") or {}).get("timezone") or zone or "UTC",
        # CEL expressions count too: 'vip' in contact.tags needs the contact loaded.
        needs_contact=bool(filters) and reads_contact(filters),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def config_matches(listener: Listener, data: dict[str, Any]) -> bool:
    """The kind's own config (channel, tag, fields, intent, min_confidence, form) vs the event."""
    config = listener.config
    source = SOURCES.get(listener.kind)
    channel = config.get("channel") or (source.channel if source else None)
    if channel and str(data.get("channel", "")).lower() != str(channel).lower():
        return False
    if config.get("tag") and str(data.get("tag", "")).casefold() != str(config["tag"]).casefold():
        return False
    if config.get("fields") and not set(config["fields"]) & set(data.get("changed") or ()):
        return False
    if config.get("intent") and (
        str(data.get("intent") or "").casefold() != str(config["intent"]).casefold()
    ):
        return False
    minimum = config.get("min_confidence")
    if minimum is not None:
        # As in conditions: a missing, blank or non-numeric confidence never meets a minimum.
        confidence = _number(data.get("intent_confidence"))
        if confidence is None or confidence < (_number(minimum) or 0.0):
            return False
    return not (config.get("form") and data.get("form") != config["form"])


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def trigger_context(listener: Listener, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    """``trigger.*`` as this workflow sees it: the event, plus hour / weekday in its zone."""
    local = at.astimezone(_zone(listener.timezone))
    weekday = (local.weekday() + 1) % 7  # 0 = Sunday, as the TypeScript write-up counts
    return {
        **data,
        "type": listener.kind,
        "hour": local.hour,
        "weekday": weekday,
        "day": _DAYS[weekday],
    }


def candidates(tenant_id: int, kinds: list[str], data: dict[str, Any]) -> list[Listener]:
    """Active listeners of ``kinds`` whose trigger config accepts ``data`` (no filters yet)."""
    index = tenant_index(tenant_id)
    return [
        listener
        for kind in kinds
        for listener in index.by_kind.get(kind, ())
        if config_matches(listener, data)
    ]


def filters_pass(
    listener: Listener, trigger: dict[str, Any], contact: dict[str, Any] | None
) -> bool:
    """The workflow's filters over ``contact`` and ``trigger``; a malformed rule never matches."""
    if not listener.filters:
        return True
    context = {"contact": contact or {}, "trigger": trigger, "now": timezone.now()}
    errors: list[str] = []
    try:
        with timezone.override(_zone(listener.timezone)):
            passed = evaluate(listener.filters, context, errors=errors)
    except ValueError:
        return False
    for error in errors:  # an expression that fails only fails this workflow's filter
        logger.warning("trigger filter of workflow %s: %s", listener.workflow_id, error)
    return passed
