"""The CRM data dictionary for the builder's dropdowns (the Laravel plan's SchemaController).

Models are the contact model plus the record registry's (``STUDIO_RECORD_MODELS``): only
what workflows may touch, never users or secrets.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from crm.models import Tag, Tenant
from engine.effects.contacts import contact_model
from engine.effects.record_registry import record_types

# Contact fields a workflow may read or write (the snapshot's keys).
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "stage",
    "source",
    "timezone",
    "custom_fields",
    "email_opt_out",
    "sms_opt_out",
    "whatsapp_opt_out",
    "voice_opt_out",
    "created_at",
    "updated_at",
)

TYPE_NAMES = {
    "CharField": "string",
    "SlugField": "string",
    "EmailField": "email",
    "TextField": "text",
    "URLField": "url",
    "BooleanField": "boolean",
    "IntegerField": "integer",
    "PositiveIntegerField": "integer",
    "BigIntegerField": "integer",
    "DecimalField": "decimal",
    "FloatField": "number",
    "DateTimeField": "datetime",
    "DateField": "date",
    "TimeField": "time",
    "JSONField": "json",
    "ForeignKey": "relation",
}


def field_entry(field: models.Field) -> dict[str, Any]:
    """``{name, label, type, required, choices, relation}`` for one model field."""
    kind = TYPE_NAMES.get(field.get_internal_type(), field.get_internal_type())
    return {
        "name": field.name,
        "label": str(field.verbose_name).capitalize(),
        "type": kind,
        "required": not (field.blank or field.null or field.has_default()),
        "choices": [{"value": v, "label": str(label)} for v, label in field.choices or []],
        "relation": field.related_model._meta.label if field.is_relation else None,
        "help": str(field.help_text or ""),
    }


def data_dictionary(*, tenant: Tenant) -> dict[str, Any]:
    """``{models: [{name, label, fields: [...]}], tags: [names]}`` for ``tenant``."""
    contact = contact_model()
    entries = [
        {
            "name": "contact",
            "label": contact._meta.label,
            "fields": [field_entry(contact._meta.get_field(n)) for n in _present(contact)],
            "extra_fields": [
                {"name": "tags", "type": "list of string", "help": "tag names"},
                {"name": "full_name", "type": "string", "help": "first and last name"},
            ],
        }
    ]
    for record in record_types():
        entries.append(
            {
                "name": record.name,
                "label": record.label,
                "fields": [field_entry(record.model._meta.get_field(n)) for n in record.fields],
                "extra_fields": [],
            }
        )
    tags = list(Tag.objects.filter(tenant=tenant).order_by("name").values_list("name", flat=True))
    return {"models": entries, "tags": tags}


def _present(model) -> list[str]:
    names = {f.name for f in model._meta.get_fields()}
    return [n for n in CONTACT_FIELDS if n in names]
