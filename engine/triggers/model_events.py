"""Wires a host model's saves to trigger events: the host CRM's way in without editing the engine.

It sits above both the registry (what kinds exist) and the bus (how events are announced),
so neither of those needs the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.db.models.signals import post_save

from engine.triggers.bus import announce


def register_model_event(
    *,
    model: str | type,
    kind: str | Callable[[Any, bool], list[str]],
    when: Callable[[Any, bool], bool],
    contact: Callable[[Any], Any],
    tenant: Callable[[Any], int],
    context: Callable[[Any], dict[str, Any]] | None = None,
) -> Callable[..., None]:
    """Announce ``kind`` whenever a ``model`` row is saved and ``when(instance, created)`` holds.

    ``kind`` may be a function of (instance, created) returning several kinds. Returns the
    connected receiver (kept alive here; signals hold receivers weakly otherwise).
    """
    model_class = apps.get_model(model) if isinstance(model, str) else model

    def receiver(sender, instance, created, raw=False, **kwargs):
        if raw or not when(instance, created):
            return
        kinds = kind(instance, created) if callable(kind) else [kind]
        contact_id = contact(instance)
        if contact_id is None or not kinds:
            return
        data = context(instance) if context else {}
        announce(kinds=kinds, tenant_id=tenant(instance), contact_id=contact_id, data=data)

    post_save.connect(receiver, sender=model_class, weak=False)
    return receiver
