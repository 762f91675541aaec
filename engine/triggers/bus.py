"""The event bus: receivers announce, matching and enrolling happen after commit, in a task.

``announce`` costs a dict lookup when no workflow of the tenant listens (the index is cached
per tenant) and nothing at all when ``STUDIO_TRIGGERS_ENABLED`` is off. Otherwise an
``on_commit`` callback hands the event to a batching publisher, which sends the events of
many saves as one ``engine.tasks.dispatch_event`` task within ``STUDIO_DISPATCH_BATCH_MS``;
a rolled-back transaction drops the callback, so nothing fires.

Bulk writes (``QuerySet.update``, ``bulk_create``) send no model signals; fire their events
with ``announce_bulk`` (one task per ``STUDIO_TRIGGER_BULK_CHUNK`` contacts)::

    ids = [c.pk for c in Contact.objects.bulk_create(rows)]
    announce_bulk(kinds=["contact_created"], tenant_id=tenant.pk, contact_ids=ids)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.runtime import queue
from engine.triggers.matching import tenant_index

DISPATCH_EVENT = "engine.tasks.dispatch_event"
# Events of many saves travel together: one broker message per batch, not per save.
_events = queue.BatchingPublisher(DISPATCH_EVENT)


def enabled() -> bool:
    """False when the host turned triggers off (benchmarks, data migrations, imports)."""
    return getattr(settings, "STUDIO_TRIGGERS_ENABLED", True)


def make_event(
    *, kinds: list[str], tenant_id: int, contact_id: Any, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An event as plain JSON: it travels through the broker to the worker."""
    payload = dict(data or {})
    payload.setdefault("occurred_at", timezone.now().isoformat())
    payload["contact_id"] = contact_id
    return {"kinds": list(kinds), "tenant_id": tenant_id, "contact_id": contact_id, "data": payload}


# The event an inbound message fires (crm/signals.py); it is what ``record_reply`` reads.
REPLY_EVENT = "message_received"


def wanted(tenant_id: int, kinds: list[str]) -> bool:
    """Does any workflow of the tenant listen to one of ``kinds``, need goal re-checks, or
    (for an inbound message) wait to learn that a send was answered?"""
    index = tenant_index(tenant_id)
    if index.recheck or index.listens(kinds):
        return True
    return index.replies and REPLY_EVENT in kinds


def announce(
    *, kinds: list[str], tenant_id: int, contact_id: Any, data: dict[str, Any] | None = None
) -> bool:
    """Queue an event for after commit; False when triggers are off or nobody listens."""
    if not enabled() or not wanted(tenant_id, kinds):
        return False
    event = make_event(kinds=kinds, tenant_id=tenant_id, contact_id=contact_id, data=data)
    transaction.on_commit(lambda: _events.add(event))
    return True


def announce_bulk(
    *,
    kinds: list[str],
    tenant_id: int,
    contact_ids: Iterable[Any],
    data: dict[str, Any] | None = None,
) -> int:
    """Fire ``kinds`` for many contacts after a bulk write; returns how many were queued."""
    if not enabled() or not wanted(tenant_id, kinds):
        return 0
    events = [
        make_event(kinds=kinds, tenant_id=tenant_id, contact_id=cid, data=data)
        for cid in contact_ids
    ]
    size = int(getattr(settings, "STUDIO_TRIGGER_BULK_CHUNK", 500))
    chunks = [events[i : i + size] for i in range(0, len(events), size)]

    def send() -> None:
        for chunk in chunks:
            queue.dispatch(DISPATCH_EVENT, [chunk])

    transaction.on_commit(send)
    return len(events)
