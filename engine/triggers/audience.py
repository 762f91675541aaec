"""Which contacts of a tenant pass a workflow's filters (for schedules and manual bulk)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.utils import timezone

from engine.effects.contacts import CrmContactAdapter, contact_adapter, contact_model
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
    contacts = contact_model().objects.filter(tenant_id=tenant_id).order_by("pk").iterator(CHUNK)
    while chunk := list(islice(contacts, CHUNK)):
        for contact, snapshot in zip(chunk, snapshots(chunk), strict=True):
            context["contact"] = snapshot
            if evaluate(filters, context):
                yield contact.pk


def snapshots(contacts: list[Any]) -> list[dict[str, Any]]:
    """Snapshots of many contacts: the adapter's ``snapshots`` if it has one; for the bundled
    CRM one tag query per chunk (its ``snapshot`` reads tags per contact); else one by one."""
    adapter = contact_adapter()
    if hasattr(adapter, "snapshots"):
        return adapter.snapshots(contacts)
    if type(adapter) is not CrmContactAdapter:
        return [adapter.snapshot(contact) for contact in contacts]
    through = contact_model().tags.through
    names: dict[Any, list[str]] = {contact.pk: [] for contact in contacts}
    rows = through.objects.filter(contact_id__in=list(names)).values_list("contact_id", "tag__name")
    for contact_id, name in rows:
        names[contact_id].append(name)
    out = []
    for contact in contacts:
        snapshot = _plain_snapshot(contact)
        snapshot["tags"] = sorted(names[contact.pk])
        out.append(snapshot)
    return out


def _plain_snapshot(contact: Any) -> dict[str, Any]:
    fields = ("first_name", "last_name", "email", "phone", "stage", "source", "timezone")
    snapshot: dict[str, Any] = {"id": contact.pk, "full_name": contact.full_name}
    snapshot.update({name: getattr(contact, name) for name in fields})
    snapshot["custom_fields"] = dict(contact.custom_fields or {})
    for stamp in ("created_at", "updated_at"):
        value = getattr(contact, stamp)
        snapshot[stamp] = value.isoformat() if value else None
    snapshot["opted_out"] = {
        channel: contact.is_opted_out(channel) for channel in ("email", "sms", "whatsapp", "voice")
    }
    return snapshot
