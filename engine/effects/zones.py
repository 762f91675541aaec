"""Which time zone a workflow's dates and times are read and shown in.

The workflow's ``settings.timezone``, else its tenant's zone, else UTC (docs/engine.md "Time
zones"). The runtime and the dry-run activate it (Django's ``timezone.override``) around
everything that renders, compares or computes a moment, so templates, filters, conditions and
waits all see one clock.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm.models import Tenant

# Tenant zones change rarely; a worker re-reads one at most this often (seconds).
TENANT_ZONE_TTL_SECONDS = 60.0
_tenant_zones: dict[Any, tuple[float, str]] = {}


def tenant_zone_name(tenant_id: Any) -> str:
    """The tenant's IANA zone name (``""`` for no tenant), cached per process for a minute."""
    if not tenant_id:
        return ""
    cached = _tenant_zones.get(tenant_id)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    name = Tenant.objects.filter(pk=tenant_id).values_list("timezone", flat=True).first() or ""
    _tenant_zones[tenant_id] = (time.monotonic() + TENANT_ZONE_TTL_SECONDS, name)
    return name


def forget_tenant_zones() -> None:
    """Drop the cached zones (tests: a rolled-back tenant's id may be used again)."""
    _tenant_zones.clear()


def workflow_zone(settings: Mapping[str, Any], tenant_id: Any) -> ZoneInfo:
    """The zone of a workflow with these ``settings`` in this tenant; an unknown name is UTC."""
    for name in (settings.get("timezone"), tenant_zone_name(tenant_id)):
        if name:
            try:
                return ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
