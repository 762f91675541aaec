"""Same-tenant relations: a row may only point at rows of its own tenant.

Each tenant-owned model lists its links (``tenant_links``); ``TenantLinkedModel.clean()``
checks them, so every ModelForm (admin, API serializers that call ``full_clean``) refuses a
cross-tenant link with a message on the field. The database enforces the same rules with
triggers (crm and workflows migrations ``0002``), so code that skips validation — services,
commands, the engine — cannot write such a row either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models


@dataclass(frozen=True)
class Link:
    """``field`` must point at a row whose ``target`` path equals this row's ``source`` path.

    Paths are ORM paths ending in a column (``tenant_id``, ``workflow__tenant_id``).
    """

    field: str
    target: str = "tenant_id"
    source: str = "tenant_id"
    message: str = "belongs to another tenant"


def _value(instance: models.Model, path: str) -> Any:
    """The value at ``path`` from ``instance``: an attribute, or one query through a FK."""
    head, _, rest = path.partition("__")
    if not rest:
        return getattr(instance, head)
    field = instance._meta.get_field(head)
    related_id = getattr(instance, field.attname)
    if related_id is None:
        return None
    rows = field.related_model._default_manager.filter(pk=related_id)
    return rows.values_list(rest, flat=True).first()


def link_errors(instance: models.Model, links: tuple[Link, ...]) -> dict[str, str]:
    """``{field: message}`` for every link of ``instance`` that leaves its tenant."""
    errors: dict[str, str] = {}
    for link in links:
        field = instance._meta.get_field(link.field)
        related_id = getattr(instance, field.attname)
        if related_id is None:
            continue
        mine = _value(instance, link.source)
        if mine is None:
            continue  # the row's own tenant is missing: the required-field check says so
        rows = field.related_model._default_manager.filter(pk=related_id)
        theirs = rows.values_list(link.target, flat=True).first()
        if theirs is not None and theirs != mine:
            label = field.related_model._meta.verbose_name
            errors[link.field] = f"{label} {related_id} {link.message}"
    return errors


class TenantLinkedModel(models.Model):
    """A model whose foreign keys to tenant-owned rows must stay inside its tenant."""

    tenant_links: tuple[Link, ...] = ()

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        errors = link_errors(self, self.tenant_links)
        if errors:
            raise ValidationError(errors)
