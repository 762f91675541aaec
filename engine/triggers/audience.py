"""Which contacts of a tenant pass a workflow's filters (for schedules and manual bulk)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.utils import timezone

from engine.effects.contacts import CHANNELS, CrmContactAdapter, contact_adapter, contact_model
from engine.language.conditions import evaluate
from engine.runtime.bulk_enroll import tenant_contact_ids

CHUNK = 2000


def contacts_matching(
    *, tenant_id: int, filters: Any, trigger: dict[str, Any] | None = None
) -> Iterator[Any]:
    """Ids of the tenant's contacts for which ``filters`` hold (all of them when no filters).

    Filters are the engine's condition rules, evaluated on each contact's snapshot in chunks;
    a malformed rule set raises ConditionError before any contact is read.
    """
    if not filters:
        yield from tenant_contact_ids(tenant_id=tenant_id)
        return
    context: dict[str, Any] = {"trigger": trigger or {}, "now": timezone.now(), "contact": {}}
    evaluate(filters, context)  # fail fast on a malformed rule set
    for contact_id, snapshot in _snapshot_stream(tenant_id):
        context["contact"] = snapshot
        if evaluate(filters, context):
            yield contact_id


def _snapshot_stream(tenant_id: int) -> Iterator[tuple[Any, dict[str, Any]]]:
    """``(id, snapshot)`` of every contact of the tenant, by id, read in chunks of CHUNK.

    The bundled CRM's contacts are read as plain rows (``values_list``): a model instance
    per contact — its ``__init__`` and the ``post_init`` copy that change detection keeps
    (``crm.signals``) — was most of a filtered schedule's cost (bench/README.md, Triggers).
    Other models and adapters get instances and the adapter's own snapshots.
    """
    model = contact_model()
    rows = model.objects.filter(tenant_id=tenant_id).order_by("pk")
    if type(contact_adapter()) is not CrmContactAdapter or model._meta.label != "crm.Contact":
        contacts = rows.iterator(CHUNK)
        while chunk := list(islice(contacts, CHUNK)):
            yield from zip([contact.pk for contact in chunk], snapshots(chunk), strict=True)
        return
    values = rows.values_list(*ROW_FIELDS).iterator(CHUNK)
    while chunk := list(islice(values, CHUNK)):
        names = _tag_names([row[0] for row in chunk])
        for row in chunk:
            yield row[0], row_snapshot(row, names[row[0]])


# What row_snapshot reads of a bundled crm.Contact, in this order.
ROW_FIELDS = (
    "pk", "first_name", "last_name", "email", "phone", "stage", "source", "timezone",
    "custom_fields", "created_at", "updated_at", *(f"{channel}_opt_out" for channel in CHANNELS),
)  # fmt: skip


def row_snapshot(row: tuple[Any, ...], tags: list[str]) -> dict[str, Any]:
    """``CrmContactAdapter.snapshot`` of a bundled contact read as ``ROW_FIELDS`` (the same
    dict: ``full_name`` is ``Contact.full_name``'s rule, an opt-out its flag)."""
    pk, first, last, email, phone, stage, source, zone, custom, created, updated = row[:11]
    return {
        "id": pk,
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}".strip(),
        "email": email,
        "phone": phone,
        "tags": sorted(tags),
        "custom_fields": dict(custom or {}),
        "stage": stage,
        "source": source,
        "timezone": zone,
        "created_at": created.isoformat() if created else None,
        "updated_at": updated.isoformat() if updated else None,
        "opted_out": {
            channel: bool(flag) for channel, flag in zip(CHANNELS, row[11:], strict=True)
        },
    }


def _tag_names(contact_ids: list[Any]) -> dict[Any, list[str]]:
    """Each contact's tag names (unsorted), one query for all of them."""
    through = contact_model().tags.through
    names: dict[Any, list[str]] = {contact_id: [] for contact_id in contact_ids}
    rows = through.objects.filter(contact_id__in=contact_ids).values_list("contact_id", "tag__name")
    for contact_id, name in rows:
        names[contact_id].append(name)
    return names


def snapshots(contacts: list[Any]) -> list[dict[str, Any]]:
    """Snapshots of many contacts: the adapter's ``snapshots`` if it has one; for the bundled
    CRM one tag query per chunk (its ``snapshot`` reads tags per contact); else one by one."""
    adapter = contact_adapter()
    if hasattr(adapter, "snapshots"):
        return adapter.snapshots(contacts)
    if type(adapter) is not CrmContactAdapter:
        return [adapter.snapshot(contact) for contact in contacts]
    names = _tag_names([contact.pk for contact in contacts])
    for contact in contacts:
        contact.tag_names = names[contact.pk]  # what CrmContactAdapter.snapshot reads if set
    return [adapter.snapshot(contact) for contact in contacts]
