"""The trigger registry: every kind's source, the ``trigger.*`` context it gives, its config.

The bundled CRM's model events are wired in ``crm/signals.py``. A host CRM feeds the same
kinds from its own models without editing the engine, through
``engine.triggers.api.register_model_event`` (see ``engine/triggers/model_events.py``)::

    # myhost/apps.py, in ready()
    from engine.triggers.api import register_model_event

    register_model_event(
        model="shop.Order",
        kind="booking_created",
        when=lambda order, created: created,
        contact=lambda order: order.customer_id,
        tenant=lambda order: order.location_id,
        context=lambda order: {"booking_id": order.pk, "title": order.summary},
    )
"""

from __future__ import annotations

from dataclasses import dataclass

COMMON_KEYS = ("type", "occurred_at", "contact_id", "hour", "weekday", "day")
MESSAGE_KEYS = (
    "message_id",
    "channel",
    "content",
    "subject",
    "from",
    "to",
    "intent",
    "intent_confidence",
)
CALL_KEYS = ("call_id", "channel", "direction", "status", "from", "to", "duration_seconds")


@dataclass(frozen=True)
class TriggerSource:
    """One trigger kind: where its events come from, what they carry, what config narrows it."""

    kind: str
    source: str
    context_keys: tuple[str, ...]
    config_keys: tuple[str, ...] = ()
    # Message kinds imply a channel (sms_received → sms); None means any channel.
    channel: str | None = None


SOURCES: dict[str, TriggerSource] = {}

# Inbound message channel → the per-channel trigger kind.
CHANNEL_KINDS = {
    "sms": "sms_received",
    "whatsapp": "whatsapp_message",
    "email": "email_received",
    "webchat": "web_chat",
    "voice": "voice_call",
}


def register_source(
    *,
    kind: str,
    source: str,
    context_keys: tuple[str, ...] = (),
    config_keys: tuple[str, ...] = (),
    channel: str | None = None,
) -> TriggerSource:
    """Add (or replace) a kind's description; returns it."""
    entry = TriggerSource(kind, source, (*COMMON_KEYS, *context_keys), config_keys, channel)
    SOURCES[kind] = entry
    return entry


def trigger_source(kind: str) -> TriggerSource | None:
    """The registered source of ``kind`` (canonical name), or None."""
    return SOURCES.get(kind)


def _builtin() -> None:
    contact = "contact model post_save"
    register_source(
        kind="contact_created", source=f"{contact} (created)", context_keys=("stage", "source")
    )
    register_source(
        kind="contact_updated",
        source=f"{contact} (fields changed)",
        context_keys=("changed", "changes"),
        config_keys=("fields",),
    )
    for kind, verb in (("tag_added", "added"), ("tag_removed", "removed")):
        register_source(
            kind=kind,
            source=f"contact tag {verb} (m2m add/remove, ContactTag save/delete)",
            context_keys=("tag", "tag_id"),
            config_keys=("tag",),
        )
    register_source(
        kind="lead_created",
        source=f"{contact} (created as, or changed to, stage lead)",
        context_keys=("leadId", "lead_id", "stage", "source"),
    )
    register_source(
        kind="message_received",
        source="inbound Message created",
        context_keys=MESSAGE_KEYS,
        config_keys=("channel",),
    )
    for channel, kind in CHANNEL_KINDS.items():
        keys = (*MESSAGE_KEYS, *CALL_KEYS) if channel == "voice" else MESSAGE_KEYS
        source = (
            "inbound Call (not missed) or voice Message"
            if channel == "voice"
            else (f"inbound {channel} Message created")
        )
        register_source(kind=kind, source=source, context_keys=keys, channel=channel)
    register_source(
        kind="intent_detected",
        source="inbound Message saved with an intent (on create or when first set)",
        context_keys=MESSAGE_KEYS,
        config_keys=("intent", "min_confidence"),
    )
    register_source(
        kind="missed_call", source="Call saved with status missed", context_keys=CALL_KEYS
    )
    register_source(
        kind="booking_created",
        source="Booking created",
        context_keys=("booking_id", "title", "starts_at", "ends_at", "status"),
    )
    register_source(
        kind="form_submitted",
        source="crm.forms_intake.form_submit()",
        context_keys=("form", "fields"),
        config_keys=("form",),
    )
    register_source(
        kind="webhook",
        source="signed POST /hooks/<token>/",
        context_keys=("body", "delivery_id", "received_at"),
        config_keys=("match_by", "create"),
    )
    register_source(
        kind="schedule",
        source="django-celery-beat crontab → engine.tasks.run_schedule",
        context_keys=("scheduled_at", "cron", "timezone"),
        config_keys=("cron", "timezone"),
    )
    register_source(
        kind="manual",
        source="admin action, `enroll` command, API",
        context_keys=("by", "via"),
    )


_builtin()
