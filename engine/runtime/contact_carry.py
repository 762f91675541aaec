"""The contact snapshot a task carries from one step to the next, and when it must reload.

Loading the snapshot costs a query (two off PostgreSQL) per step; a task running several
steps of one enrollment keeps it instead. Steps that cannot change the enrolled contact keep
it as is, tag steps patch its ``tags`` from their own output, and anything else (contact and
record updates, kinds this module does not know) makes the next step load it afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.handlers.base import is_pure
from engine.runtime.machine import LogEntry

# Side effects that leave the enrolled contact's snapshot fields as they were.
KEEPS_CONTACT = frozenset(
    {
        "send_email",
        "send_sms",
        "send_whatsapp",
        "send_message",
        "make_call",
        "ai_prompt",
        "ask_ai",
        "http_request",
        "call_webhook",
        "schedule_follow_up",
        "create_lead",
    }
)

TAG_KINDS = ("add_tag", "remove_tag")


def contact_after(contact: dict[str, Any], entries: Iterable[LogEntry]) -> dict[str, Any] | None:
    """The snapshot after ``entries`` ran, or None when it must be loaded again."""
    tags = list(contact.get("tags") or [])
    for entry in entries:
        kind, output = entry.step_type, entry.output or {}
        if entry.status != "succeeded" and not is_pure(kind):
            return None  # a failed write may have changed part of the contact
        if kind == "add_tag" and output.get("added"):
            tags = sorted({*tags, output.get("tag")})
        elif kind == "remove_tag" and output.get("removed"):
            tags = [t for t in tags if t != output.get("tag")]
        elif kind not in KEEPS_CONTACT and kind not in TAG_KINDS and not is_pure(kind):
            return None
    return {**contact, "tags": tags}
