"""A development backend: prints each message or call as one readable line."""

from __future__ import annotations

import sys
import threading
import uuid
from typing import TextIO

from engine.effects.channels.base import ChannelBackend, OutboundCall, OutboundMessage, SendResult


class ConsoleBackend(ChannelBackend):
    """Writes "[sms] +1… -> +49…: text" lines to `stream` (stdout by default); sends nothing."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def _write(self, line: str) -> None:
        stream = self.stream or sys.stdout  # looked up late so pytest's capsys sees it
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def send_message(self, message: OutboundMessage) -> SendResult:
        """Print the message and return a fake provider id."""
        provider_id = f"console-{uuid.uuid4().hex[:12]}"
        extras = "".join(
            f" [{label} {value}]"
            for label, value in (("media", message.media_url), ("key", message.idempotency_key))
            if value
        )
        sender = message.from_ or "(default sender)"
        self._write(f"[{message.channel}] {sender} -> {message.to}: {message.body}{extras}")
        return SendResult(provider_id=provider_id, status="sent", provider=self.name, raw={})

    def place_call(self, call: OutboundCall) -> SendResult:
        """Print the call and its voicemail, and return a fake provider id."""
        provider_id = f"console-{uuid.uuid4().hex[:12]}"
        voicemail = (
            f"play {call.voicemail_url}" if call.voicemail_url else f"say {call.voicemail_text!r}"
        )
        key = f" [key {call.idempotency_key}]" if call.idempotency_key else ""
        sender = call.from_ or "(default caller id)"
        self._write(f"[voice] call {sender} -> {call.to}: {voicemail}{key}")
        return SendResult(provider_id=provider_id, status="queued", provider=self.name, raw={})
