"""The trigger API: everything a host CRM app may call in the engine, and nothing more.

A host (the bundled ``crm`` app or an existing Django CRM) talks to the engine only by
announcing what happened to its contacts. import-linter holds ``crm`` to this module
(``.importlinter``), so the engine's internals can move without touching the host.

- ``announce`` / ``announce_bulk`` publish events after commit; ``enabled`` says whether
  triggers are on; ``wanted`` says whether any published workflow of a tenant listens to a
  kind (so a receiver can skip building data nobody needs).
- ``CHANNEL_KINDS`` maps an inbound message channel to its trigger kind.
- ``register_model_event`` wires a host model's saves to a trigger kind.
- ``manual_enroll`` is the "manual" trigger (staff enrolling chosen contacts); it raises
  ``ManualEnrollError`` or ``EnrollmentRefused`` with a message fit for the user.
- ``record_open`` / ``record_click`` / ``record_unsubscribe`` are the email tracking events
  (``InvalidToken`` for a forged or expired token); ``Hit`` says how a link was fetched, so
  scanners and prefetchers are told apart from people.
"""

from __future__ import annotations

from engine.runtime.enrollment import EnrollmentRefused
from engine.triggers.bus import announce, announce_bulk, enabled, wanted
from engine.triggers.manual import ManualEnrollError, manual_enroll
from engine.triggers.model_events import register_model_event
from engine.triggers.registry import CHANNEL_KINDS
from engine.triggers.scanners import Hit
from engine.triggers.tracking import (
    InvalidToken,
    check_unsubscribe,
    record_click,
    record_open,
    record_unsubscribe,
)

__all__ = [
    "CHANNEL_KINDS",
    "EnrollmentRefused",
    "Hit",
    "InvalidToken",
    "ManualEnrollError",
    "announce",
    "announce_bulk",
    "check_unsubscribe",
    "enabled",
    "manual_enroll",
    "record_click",
    "record_open",
    "record_unsubscribe",
    "register_model_event",
    "wanted",
]
