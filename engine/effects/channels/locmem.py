"""An in-memory backend for tests, like django.core.mail's locmem backend.

Messages and calls land in the module-level `outbox`. A repeated idempotency key returns the
first result without appending again, the way a provider with idempotency keys behaves, so tests
can count duplicates that got through to the "provider".
"""

from __future__ import annotations

import threading

from engine.effects.channels.base import ChannelBackend, OutboundCall, OutboundMessage, SendResult

outbox: list[OutboundMessage | OutboundCall] = []
sent_keys: dict[str, SendResult] = {}
_lock = threading.Lock()


def reset() -> None:
    """Empty the outbox and forget idempotency keys (call between tests)."""
    with _lock:
        outbox.clear()
        sent_keys.clear()


class LocMemBackend(ChannelBackend):
    """Keeps every message and call in `engine.effects.channels.locmem.outbox`."""

    name = "locmem"

    def _record(self, item: OutboundMessage | OutboundCall, status: str) -> SendResult:
        key = item.idempotency_key
        with _lock:  # the check and the append are one step, so threads cannot both append
            if key and key in sent_keys:
                return sent_keys[key]
            outbox.append(item)
            result = SendResult(
                provider_id=f"locmem-{len(outbox)}", status=status, provider=self.name, raw={}
            )
            if key:
                sent_keys[key] = result
            return result

    def send_message(self, message: OutboundMessage) -> SendResult:
        """Append `message` to the outbox (once per idempotency key)."""
        return self._record(message, "sent")

    def place_call(self, call: OutboundCall) -> SendResult:
        """Append `call` to the outbox (once per idempotency key)."""
        return self._record(call, "queued")
