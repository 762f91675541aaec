"""The channel backend contract: what the engine hands to a provider and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHANNELS = ("sms", "whatsapp", "voice", "webchat")


@dataclass
class OutboundMessage:
    """A text (optionally with media) to send on `channel` to `to` (E.164 for sms/whatsapp)."""

    channel: str
    to: str
    body: str
    from_: str = ""
    idempotency_key: str = ""
    media_url: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class OutboundCall:
    """A phone call that drops a voicemail: a recording URL to play, or text to speak."""

    to: str
    from_: str = ""
    voicemail_url: str = ""
    voicemail_text: str = ""
    idempotency_key: str = ""


@dataclass
class SendResult:
    """What the provider said: its id for the message/call, its status, and the raw answer."""

    provider_id: str
    status: str
    provider: str
    raw: dict[str, Any]


class ChannelError(Exception):
    """Sending failed; `transient` says whether retrying later may succeed."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ChannelBackend:
    """Base class: one instance sends messages and places calls through one provider."""

    name: str = "base"

    def send_message(self, message: OutboundMessage) -> SendResult:
        """Send `message`; raise ChannelError on failure."""
        raise NotImplementedError

    def place_call(self, call: OutboundCall) -> SendResult:
        """Place `call`; raise ChannelError on failure."""
        raise NotImplementedError
