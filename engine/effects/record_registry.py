"""Which CRM models and fields the generic ``create_record`` / ``update_record`` steps may touch.

STUDIO_RECORD_MODELS = {
    "task": {"model": "crm.Task", "fields": ["title", "notes", "due_at", "status", "contact"]},
}

Anything not listed is refused: a workflow author must never reach users, tenants or secrets.
Every registered model needs a ``tenant`` foreign key, so rows stay inside their tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models
from django.utils import timezone

DEFAULT_RECORD_MODELS: dict[str, dict[str, Any]] = {
    "task": {"model": "crm.Task", "fields": ["title", "notes", "due_at", "status", "contact"]},
    "booking": {
        "model": "crm.Booking",
        "fields": ["title", "starts_at", "ends_at", "status", "contact"],
    },
}


class RecordRefused(Exception):
    """The model or a field is not exposed by the registry, or a value does not fit."""


@dataclass(frozen=True)
class RecordType:
    name: str
    model: type[models.Model]
    fields: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label


def _entries() -> dict[str, dict[str, Any]]:
    return dict(getattr(settings, "STUDIO_RECORD_MODELS", DEFAULT_RECORD_MODELS))


def _load(name: str, entry: dict[str, Any]) -> RecordType:
    try:
        model = apps.get_model(entry["model"])
    except (KeyError, LookupError, ValueError) as exc:
        raise ImproperlyConfigured(f"STUDIO_RECORD_MODELS[{name!r}]: bad model ({exc})") from exc
    names = {f.name for f in model._meta.get_fields()}
    if "tenant" not in names:
        raise ImproperlyConfigured(
            f"STUDIO_RECORD_MODELS[{name!r}]: {model._meta.label} has no tenant field"
        )
    fields = tuple(entry.get("fields") or ())
    unknown = [f for f in fields if f not in names or f in ("id", "tenant")]
    if unknown:
        raise ImproperlyConfigured(
            f"STUDIO_RECORD_MODELS[{name!r}]: {', '.join(unknown)} cannot be exposed"
        )
    return RecordType(name=name, model=model, fields=fields)


def record_types() -> list[RecordType]:
    """Every registered record type, in setting order (for the builder's data dictionary)."""
    return [_load(name, entry) for name, entry in _entries().items()]


def record_type(name_or_label: str) -> RecordType:
    """The type registered as ``name_or_label`` ("task" or "crm.Task", any case)."""
    wanted = str(name_or_label).strip().lower()
    for name, entry in _entries().items():
        if wanted in (name.lower(), str(entry.get("model", "")).lower()):
            return _load(name, entry)
    known = ", ".join(sorted(_entries())) or "none"
    raise RecordRefused(f"model '{name_or_label}' is not open to workflows (registered: {known})")


_BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def clean_field_value(field: models.Field, value: Any) -> Any:
    """``value`` validated by the model field; rendered "true"/"false" count as booleans."""
    if isinstance(field, models.BooleanField) and isinstance(value, str):
        value = _BOOLEAN_WORDS.get(value.strip().lower(), value)
    cleaned = field.clean(value, None)
    if isinstance(cleaned, datetime) and timezone.is_naive(cleaned):
        cleaned = timezone.make_aware(cleaned, UTC)
    return cleaned


def _clean_value(field: models.Field, value: Any) -> Any:
    if isinstance(field, models.ForeignKey):
        if value in (None, ""):
            return None
        return field.target_field.to_python(value)
    if value is None and field.null:
        return None
    return clean_field_value(field, value)


def clean_record_fields(record: RecordType, fields: dict[str, Any]) -> dict[str, Any]:
    """Field name → cleaned value (foreign keys as ``<name>_id``); refuses unexposed fields."""
    cleaned: dict[str, Any] = {}
    for name, value in (fields or {}).items():
        if name not in record.fields:
            allowed = ", ".join(record.fields) or "none"
            raise RecordRefused(
                f"{record.label}.{name} is not open to workflows (allowed: {allowed})"
            )
        field = record.model._meta.get_field(name)
        try:
            cleaned[field.attname] = _clean_value(field, value)
        except ValidationError as exc:
            raise RecordRefused(f"{record.label}.{name}: {' '.join(exc.messages)}") from None
    return cleaned
