"""How the engine sees a contact: a plain-dict snapshot, never a model instance.

The contact model is a setting (``STUDIO_CONTACT_MODEL``); a host CRM with its own model
points ``STUDIO_CONTACT_ADAPTER`` at a class with the same two methods as ``CrmContactAdapter``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils.module_loading import import_string

from engine.effects.prepared import Along, first_row

CHANNELS = ("email", "sms", "whatsapp", "voice")


def contact_model():
    return apps.get_model(settings.STUDIO_CONTACT_MODEL)


class CrmContactAdapter:
    """Snapshots of the bundled ``crm.Contact``."""

    def load(self, contact_id: Any):
        """The contact, with its tag names in the same query on PostgreSQL (``tag_names``).

        Raises the model's DoesNotExist when there is no such contact. On PostgreSQL the
        query's text is compiled once per process and run by ``raw()`` (engine.effects.prepared):
        the ORM compiling it anew took three quarters of the load's CPU (bench/README.md).
        """
        model = contact_model()
        if connection.vendor != "postgresql":
            return model.objects.filter(pk=contact_id).get()
        found = first_row(**_load_query(model, contact_id))
        if found is None:
            raise model.DoesNotExist(f"no {model._meta.label} with id {contact_id}")
        return found

    def load_along(self, contact_id: Any) -> Along | None:
        """:meth:`load`'s query to run inside another statement (``prepared.Along``), so the
        contact comes back with an enrollment's INSERT; None where it cannot (not PostgreSQL).
        A host adapter without this method is loaded by :meth:`load` as before."""
        return Along.of(**_load_query(contact_model(), contact_id))

    def snapshot(self, contact) -> dict[str, Any]:
        return {
            "id": contact.pk,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "full_name": contact.full_name,
            "email": contact.email,
            "phone": contact.phone,
            "tags": sorted(_tag_names(contact)),
            "custom_fields": dict(contact.custom_fields or {}),
            "stage": contact.stage,
            "source": contact.source,
            "timezone": contact.timezone,
            "created_at": contact.created_at.isoformat() if contact.created_at else None,
            "updated_at": contact.updated_at.isoformat() if contact.updated_at else None,
            "opted_out": {channel: contact.is_opted_out(channel) for channel in CHANNELS},
        }

    def tenant_id(self, contact) -> int:
        return contact.tenant_id


PROBE_ID = -918_273_645  # where the contact's id goes in the compiled query


def _load_query(model, contact_id: Any) -> dict[str, Any]:
    """``first_row`` / ``Along.of`` arguments of the contact's load (one compiled query)."""
    return {
        "key": ("contact with tags", model._meta.label),
        "build": lambda pk: _with_tags(model, pk),
        "probes": [PROBE_ID],
        "values": [contact_id],
    }


def _with_tags(model, contact_id: Any):
    """The contact by id, annotated with ``tag_names`` (an ARRAY subquery).

    The subquery reads the contact's links (the through table's index on the contact) and
    each link's tag name by primary key (a scalar subquery per link). A join of links and
    tags instead let the planner, without statistics on a table (a server whose autovacuum
    has not analyzed it yet), hash-join against a scan of every tenant's tags, once per step.
    """
    tags = model._meta.get_field("tags")
    through = tags.remote_field.through
    name = tags.related_model.objects.filter(pk=OuterRef(tags.m2m_reverse_field_name()))
    names = through.objects.filter(**{tags.m2m_field_name(): OuterRef("pk")}).values(
        tag_name=Subquery(name.values("name")[:1])
    )
    return model.objects.filter(pk=contact_id).annotate(tag_names=ArraySubquery(names))


def _tag_names(contact) -> list[str]:
    loaded = getattr(contact, "tag_names", None)
    return list(loaded) if loaded is not None else list(contact.tags.values_list("name", flat=True))


@cache
def contact_adapter():
    path = getattr(settings, "STUDIO_CONTACT_ADAPTER", "engine.effects.contacts.CrmContactAdapter")
    return import_string(path)()


def load_snapshot(contact_id: Any) -> dict[str, Any]:
    adapter = contact_adapter()
    return adapter.snapshot(adapter.load(contact_id))
