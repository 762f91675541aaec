"""Channel backends (SMS, WhatsApp, voice, web chat) chosen in settings, as Django does for email.

STUDIO_CHANNEL_BACKENDS = {
    "default": "engine.effects.channels.console.ConsoleBackend",
    "sms": "engine.effects.channels.twilio.TwilioBackend",
}
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from engine.effects.channels.base import (
    CHANNELS,
    ChannelBackend,
    ChannelError,
    OutboundCall,
    OutboundMessage,
    SendResult,
)

__all__ = [
    "CHANNELS",
    "ChannelBackend",
    "ChannelError",
    "OutboundCall",
    "OutboundMessage",
    "SendResult",
    "backend_path",
    "get_backend",
]

DEFAULT_BACKEND = "engine.effects.channels.console.ConsoleBackend"


def backend_path(channel: str) -> str:
    """The dotted class path configured for `channel` (falling back to "default", then console)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")
    configured = getattr(settings, "STUDIO_CHANNEL_BACKENDS", None) or {}
    return configured.get(channel) or configured.get("default") or DEFAULT_BACKEND


def get_backend(channel: str) -> ChannelBackend:
    """A ready backend instance for `channel` (sms / whatsapp / voice / webchat)."""
    path = backend_path(channel)
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"STUDIO_CHANNEL_BACKENDS[{channel!r}] = {path!r} cannot be imported: {exc}"
        ) from exc
    if not (isinstance(backend_class, type) and issubclass(backend_class, ChannelBackend)):
        raise ImproperlyConfigured(
            f"STUDIO_CHANNEL_BACKENDS[{channel!r}] = {path!r} is not a ChannelBackend subclass"
        )
    return backend_class()
