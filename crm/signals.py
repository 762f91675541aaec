"""CRM signal receivers. They only announce events; the engine matches after commit.

Bulk writes (``QuerySet.update``, ``bulk_create``) send no signals: call
``engine.triggers.bus.announce_bulk`` after them (see docs/triggers.md).
"""

from __future__ import annotations

import copy
from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_init, post_save

from engine.triggers.api import CHANNEL_KINDS, announce, enabled, wanted

from .models import Booking, Call, Contact, ContactTag, Direction, Message, Tag

_OLD = "_studio_old"
# Bookkeeping columns whose change is not news.
_UNTRACKED = {"id", "tenant_id", "created_at", "updated_at"}
CONTACT_FIELDS = tuple(
    f.attname for f in Contact._meta.concrete_fields if f.attname not in _UNTRACKED
)


def _remember(instance: Any, fields: tuple[str, ...]) -> None:
    values = instance.__dict__
    instance.__dict__[_OLD] = {
        name: _copied(values[name]) if isinstance(values[name], dict | list) else values[name]
        for name in fields
        if name in values
    }


def _copied(value: Any) -> Any:
    """A copy of JSON-shaped data (dicts, lists, scalars) that an in-place change of the
    original cannot reach; anything else goes through ``copy.deepcopy``. Runs for every contact
    loaded (a filtered schedule loads the whole tenant): ``deepcopy``'s memo bookkeeping cost
    several times this for the usual small ``custom_fields``."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return copy.deepcopy(value)


def contact_loaded(sender, instance: Contact, **kwargs) -> None:
    # Only rows read from the database have "old" values worth comparing.
    if instance.pk is not None:
        _remember(instance, CONTACT_FIELDS)


def _changes(instance: Any, fields: tuple[str, ...], update_fields) -> dict[str, dict[str, Any]]:
    old = instance.__dict__.get(_OLD)
    if old is None:
        return {}
    names = fields if update_fields is None else [f for f in fields if f in update_fields]
    changes = {}
    for name in names:
        if name in old and old[name] != getattr(instance, name):
            changes[name] = {"from": old[name], "to": getattr(instance, name)}
    return changes


def _changed_names(changes: dict[str, dict[str, Any]]) -> list[str]:
    names = list(changes)
    custom = changes.get("custom_fields")
    if custom:
        before, after = custom["from"] or {}, custom["to"] or {}
        keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        names.extend(f"custom_fields.{key}" for key in keys)
    return names


def contact_saved(sender, instance: Contact, created: bool, raw=False, update_fields=None, **kw):
    if raw or not enabled():
        return
    lead = {"leadId": instance.pk, "lead_id": instance.pk, "stage": instance.stage}
    if created:
        kinds = ["contact_created"] + (["lead_created"] if instance.stage == "lead" else [])
        data = {**lead, "source": instance.source}
    else:
        changes = _changes(instance, CONTACT_FIELDS, update_fields)
        if not changes:
            return
        kinds = ["contact_updated"]
        if "stage" in changes and instance.stage == "lead":
            kinds.append("lead_created")
        data = {
            **lead,
            "source": instance.source,
            "changed": _changed_names(changes),
            "changes": _jsonable(changes),
        }
    _remember(instance, CONTACT_FIELDS)
    announce(kinds=kinds, tenant_id=instance.tenant_id, contact_id=instance.pk, data=data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _announce_tag(kind: str, tenant_id: int, contact_id: Any, tag_id: int, name: str | None):
    if name is None:
        name = Tag.objects.filter(pk=tag_id).values_list("name", flat=True).first()
    announce(
        kinds=[kind],
        tenant_id=tenant_id,
        contact_id=contact_id,
        data={"tag": name, "tag_id": tag_id},
    )


def tags_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    # Removals are announced by post_delete of ContactTag, which covers remove() and clear().
    if action != "post_add" or not pk_set or not enabled():
        return
    if not wanted(instance.tenant_id, ["tag_added"]):
        return
    if reverse:  # tag.contacts.add(...)
        tenants = dict(Contact.objects.filter(pk__in=pk_set).values_list("pk", "tenant_id"))
        for contact_id in sorted(pk_set):
            _announce_tag("tag_added", tenants[contact_id], contact_id, instance.pk, instance.name)
        return
    names = dict(Tag.objects.filter(pk__in=pk_set).values_list("pk", "name"))
    for tag_id in sorted(pk_set):
        _announce_tag("tag_added", instance.tenant_id, instance.pk, tag_id, names.get(tag_id))


def _tenant_of(link: ContactTag) -> int | None:
    for related in ("contact", "tag"):
        cached = link._state.fields_cache.get(related)
        if cached is not None:
            return cached.tenant_id
    return Tag.objects.filter(pk=link.tag_id).values_list("tenant_id", flat=True).first()


def _tag_name(link: ContactTag) -> str | None:
    cached = link._state.fields_cache.get("tag")
    return cached.name if cached is not None else None


def contact_tag_saved(sender, instance: ContactTag, created: bool, raw=False, **kwargs) -> None:
    if raw or not created or not enabled():
        return
    tenant_id = _tenant_of(instance)
    if tenant_id is not None and wanted(tenant_id, ["tag_added"]):
        _announce_tag(
            "tag_added", tenant_id, instance.contact_id, instance.tag_id, _tag_name(instance)
        )


def contact_tag_deleted(sender, instance: ContactTag, origin=None, **kwargs) -> None:
    # A contact being deleted loses its tags: that is not "tag removed".
    if not enabled() or isinstance(origin, Contact) or getattr(origin, "model", None) is Contact:
        return
    name = origin.name if isinstance(origin, Tag) else _tag_name(instance)
    tenant_id = origin.tenant_id if isinstance(origin, Tag) else _tenant_of(instance)
    if tenant_id is not None and wanted(tenant_id, ["tag_removed"]):
        _announce_tag("tag_removed", tenant_id, instance.contact_id, instance.tag_id, name)


def message_loaded(sender, instance: Message, **kwargs) -> None:
    if instance.pk is not None:
        instance.__dict__[_OLD] = {"intent": instance.__dict__.get("intent")}


def message_saved(sender, instance: Message, created: bool, raw=False, **kwargs) -> None:
    if raw or instance.direction != Direction.INBOUND or not enabled():
        return
    had_intent = bool((instance.__dict__.get(_OLD) or {}).get("intent"))
    instance.__dict__[_OLD] = {"intent": instance.intent}
    kinds = []
    if created:
        kinds = ["message_received", CHANNEL_KINDS.get(instance.channel, "message_received")]
    if instance.intent and (created or not had_intent):
        kinds.append("intent_detected")
    if not kinds:
        return
    data = {
        "message_id": instance.pk,
        "channel": instance.channel,
        "content": instance.body,
        "subject": instance.subject,
        "from": instance.from_address,
        "to": instance.to_address,
        "intent": instance.intent or None,
        "intent_confidence": instance.intent_confidence,
    }
    announce(
        kinds=list(dict.fromkeys(kinds)),
        tenant_id=instance.tenant_id,
        contact_id=instance.contact_id,
        data=data,
    )


def call_loaded(sender, instance: Call, **kwargs) -> None:
    if instance.pk is not None:
        instance.__dict__[_OLD] = {"status": instance.__dict__.get("status")}


def call_saved(sender, instance: Call, created: bool, raw=False, **kwargs) -> None:
    if raw or not enabled():
        return
    was = (instance.__dict__.get(_OLD) or {}).get("status")
    instance.__dict__[_OLD] = {"status": instance.status}
    kinds = []
    if instance.status == Call.Status.MISSED and (created or was != Call.Status.MISSED):
        kinds.append("missed_call")
    elif (
        created
        and instance.direction == Direction.INBOUND
        and instance.status != Call.Status.FAILED
    ):
        kinds.append("voice_call")
    if not kinds:
        return
    data = {
        "call_id": instance.pk,
        "channel": "voice",
        "direction": instance.direction,
        "status": instance.status,
        "from": instance.from_number,
        "to": instance.to_number,
        "duration_seconds": instance.duration_seconds,
        "content": instance.transcript,
    }
    announce(kinds=kinds, tenant_id=instance.tenant_id, contact_id=instance.contact_id, data=data)


def booking_saved(sender, instance: Booking, created: bool, raw=False, **kwargs) -> None:
    if raw or not created or not enabled():
        return
    data = {
        "booking_id": instance.pk,
        "title": instance.title,
        "starts_at": _iso(instance.starts_at),
        "ends_at": _iso(instance.ends_at),
        "status": instance.status,
    }
    announce(
        kinds=["booking_created"],
        tenant_id=instance.tenant_id,
        contact_id=instance.contact_id,
        data=data,
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else value


def connect() -> None:
    """Wire the receivers (crm.apps.CRMConfig.ready); dispatch_uid keeps it idempotent."""
    post_init.connect(contact_loaded, sender=Contact, dispatch_uid="studio_contact_loaded")
    post_save.connect(contact_saved, sender=Contact, dispatch_uid="studio_contact_saved")
    m2m_changed.connect(tags_changed, sender=ContactTag, dispatch_uid="studio_tags_changed")
    post_save.connect(contact_tag_saved, sender=ContactTag, dispatch_uid="studio_tag_saved")
    post_delete.connect(contact_tag_deleted, sender=ContactTag, dispatch_uid="studio_tag_deleted")
    post_init.connect(message_loaded, sender=Message, dispatch_uid="studio_message_loaded")
    post_save.connect(message_saved, sender=Message, dispatch_uid="studio_message_saved")
    post_init.connect(call_loaded, sender=Call, dispatch_uid="studio_call_loaded")
    post_save.connect(call_saved, sender=Call, dispatch_uid="studio_call_saved")
    post_save.connect(booking_saved, sender=Booking, dispatch_uid="studio_booking_saved")
