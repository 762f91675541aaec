"""Messaging kinds: email, SMS, WhatsApp, any channel, and calls with a voicemail drop."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_core import PydanticCustomError

from engine.definition.registry import Group, StepConfig, register_step_kind

Channel = Literal["sms", "whatsapp", "email", "webchat", "voice"]

RECIPIENT_HELP = "Phone number; defaults to the contact's phone"


@register_step_kind(
    "send_email",
    group=Group.MESSAGING,
    label="Send email",
    description="Send an email from a stored template, or from a subject and body.",
    has_side_effects=True,
)
class SendEmailConfig(StepConfig):
    template_id: str | None = Field(
        None, description='EmailTemplate slug, usually "{{templates.<slug>}}"'
    )
    subject: str | None = Field(None, description="Subject line (when no template is used)")
    body: str | None = Field(
        None,
        validation_alias=AliasChoices("body", "message"),
        description="Plain-text body (when no template is used)",
    )
    html: str | None = Field(None, description="Optional HTML body (rendered with escaping)")
    to: str | None = Field(
        None,
        validation_alias=AliasChoices("to", "recipient"),
        description="Address; defaults to the contact's email",
    )

    @model_validator(mode="after")
    def _template_or_body(self) -> SendEmailConfig:
        if not self.template_id and not (self.subject and self.body):
            raise PydanticCustomError("studio", "needs template_id, or subject and body")
        return self


class _TextMessage(StepConfig):
    message: str = Field(min_length=1, description="Message text; may use {{ variables }}")
    recipient: str | None = Field(None, description=RECIPIENT_HELP)


@register_step_kind(
    "send_sms",
    group=Group.MESSAGING,
    label="Send SMS",
    description="Send a text message to the contact.",
    has_side_effects=True,
)
class SendSmsConfig(_TextMessage):
    pass


@register_step_kind(
    "send_whatsapp",
    group=Group.MESSAGING,
    label="Send WhatsApp",
    description="Send a WhatsApp message to the contact.",
    has_side_effects=True,
)
class SendWhatsappConfig(_TextMessage):
    pass


@register_step_kind(
    "send_message",
    group=Group.MESSAGING,
    label="Send message",
    description="Send a message on a chosen channel (default: the triggering message's channel).",
    has_side_effects=True,
)
class SendMessageConfig(_TextMessage):
    recipient: str | None = Field(None, description="Address or number on the channel")
    channel: Channel | None = Field(
        None, description="sms, whatsapp, email, webchat or voice; default the trigger's channel"
    )


@register_step_kind(
    "make_call",
    group=Group.MESSAGING,
    label="Make call",
    description="Place a call that plays a voicemail drop.",
    has_side_effects=True,
)
class MakeCallConfig(StepConfig):
    voicemail_drop_id: str = Field(
        min_length=1, description='VoicemailDrop slug, usually "{{voicemails.<slug>}}"'
    )
    recipient: str | None = Field(None, description=RECIPIENT_HELP)
