"""Trigger kinds: canonical names, the TypeScript write-up's aliases, and one config model each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.definition.kinds.messaging import Channel


class TriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmptyConfig(TriggerConfig):
    pass


class ChannelConfig(TriggerConfig):
    channel: Channel | None = Field(None, description="Only messages on this channel")


class TagConfig(TriggerConfig):
    tag: str | None = Field(None, description="Only this tag; default any tag")


class ContactUpdatedConfig(TriggerConfig):
    fields: list[str] = Field(
        default_factory=list, description="Only when one of these fields changed; default any"
    )


class IntentConfig(TriggerConfig):
    intent: str | None = Field(None, description="The detected intent to react to")
    min_confidence: float | None = Field(
        None, ge=0, le=1, description="Lowest intent confidence accepted (0-1)"
    )


class FormConfig(TriggerConfig):
    form: str | None = Field(None, description="Only this form; default any form")


class WebhookConfig(TriggerConfig):
    match_by: Literal["email", "phone"] = Field(
        "email", description="Find the contact by the payload's email or phone"
    )
    create: bool = Field(False, description="Create the contact when none matches")


class ScheduleConfig(TriggerConfig):
    cron: str = Field(min_length=1, description="Five-field cron expression, e.g. 0 9 * * 1-5")
    timezone: str | None = Field(None, description="IANA zone; default the workflow's")


@dataclass(frozen=True)
class TriggerKind:
    type: str
    label: str
    description: str
    config_model: type[TriggerConfig]
    aliases: tuple[str, ...] = ()


TRIGGER_KINDS: dict[str, TriggerKind] = {
    k.type: k
    for k in [
        TriggerKind("contact_created", "Contact created", "A contact was created.", EmptyConfig),
        TriggerKind(
            "contact_updated",
            "Contact updated",
            "A contact's fields changed.",
            ContactUpdatedConfig,
        ),
        TriggerKind("tag_added", "Tag added", "A tag was added to a contact.", TagConfig),
        TriggerKind("tag_removed", "Tag removed", "A tag was removed from a contact.", TagConfig),
        TriggerKind("lead_created", "Lead created", "A lead was created.", EmptyConfig),
        TriggerKind(
            "message_received",
            "Message received",
            "A message arrived on any channel (or config.channel).",
            ChannelConfig,
        ),
        TriggerKind("sms_received", "SMS received", "An SMS arrived.", ChannelConfig),
        TriggerKind(
            "whatsapp_message",
            "WhatsApp message",
            "A WhatsApp message arrived.",
            ChannelConfig,
        ),
        TriggerKind("email_received", "Email received", "An email arrived.", ChannelConfig),
        TriggerKind("web_chat", "Web chat", "A web chat message arrived.", ChannelConfig),
        TriggerKind("voice_call", "Voice call", "A voice call was received.", ChannelConfig),
        TriggerKind(
            "intent_detected",
            "Intent detected",
            "An inbound message was classified with an intent.",
            IntentConfig,
        ),
        TriggerKind("missed_call", "Missed call", "A call was missed.", EmptyConfig),
        TriggerKind("booking_created", "Booking created", "A booking was made.", EmptyConfig),
        TriggerKind("form_submitted", "Form submitted", "A form was submitted.", FormConfig),
        TriggerKind(
            "webhook",
            "Inbound webhook",
            "A signed POST arrived at the workflow's webhook URL.",
            WebhookConfig,
        ),
        TriggerKind(
            "schedule",
            "Schedule",
            "A cron time came; enrolls the contacts that pass the filters.",
            ScheduleConfig,
            aliases=("time_based",),
        ),
        TriggerKind("manual", "Manual", "Enrolled by hand, the API or a bulk action.", EmptyConfig),
    ]
}


def get_trigger_kind(name: str) -> TriggerKind | None:
    """The trigger kind called ``name`` (canonical or alias, any case), or None."""
    key = str(name).strip().lower()
    for kind in TRIGGER_KINDS.values():
        if key == kind.type or key in kind.aliases:
            return kind
    return None
