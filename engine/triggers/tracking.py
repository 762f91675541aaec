"""What opens, clicks, unsubscribes and replies do to the CRM and to running enrollments.

An open or click sets ``steps.<id>.opened`` / ``clicked`` on the enrollment that sent the email
(the row locked, as the executor does), then re-checks its goals; a reply sets ``replied`` on
the enrollment's latest sending step. Views and signal receivers call these and stay thin.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone

from crm.models import Direction, Message
from engine.effects import email_tracking
from engine.effects.contacts import contact_model
from engine.effects.outbound import SEND_KINDS
from engine.runtime import state
from engine.runtime.enrollment import enrollment_recheck
from engine.runtime.executor import lock_enrollment
from engine.triggers.scanners import Hit, scanner_reason
from workflows.models import Enrollment, SideEffect

logger = logging.getLogger(__name__)
MAX_CLICKS_KEPT = 50
A_PERSON = Hit()  # what a call without request details is taken to be


class InvalidToken(Exception):
    """A tracking token that was not made by us (tampered, truncated or for another purpose)."""


def _payload(purpose: str, token: str) -> dict[str, Any]:
    try:
        return email_tracking.read_token(purpose, token)
    except signing.BadSignature as exc:
        raise InvalidToken(f"bad {purpose} token") from exc


def _flag_step(effect: SideEffect, flags: tuple[str, ...]) -> bool:
    """Set flags on the step output that ``effect`` produced; False if the step moved on."""
    with transaction.atomic():
        enrollment = lock_enrollment(effect.enrollment_id)
        if enrollment is None:
            return False
        steps = (enrollment.context or {}).get("steps") or {}
        output = steps.get(effect.step_id)
        sent_id = (effect.result or {}).get("message_id")
        # A later visit of the step sent another message; an old one must not mark it.
        if not isinstance(output, dict) or output.get("message_id") != sent_id:
            return False
        if all(output.get(flag) is True for flag in flags):
            return False
        output.update(dict.fromkeys(flags, True))
        enrollment.save(update_fields=["context", "updated_at"])
    if enrollment.status in state.LIVE:
        enrollment_recheck(enrollment_id=enrollment.pk)
    return True


def _note_on_message(key: str, hit: Hit, *, target: str = "") -> str:
    """Note the open or click on the CRM Message; returns why it looks automated ("" if not).

    People's opens and clicks set ``opened_at`` / ``open_count`` / ``clicked_at`` / ``clicks``;
    scanners' go to ``scanner_hits`` with the reason, and count for nothing.
    """
    message = (
        Message.objects.select_for_update()
        .filter(external_id=email_tracking.message_id_for(key), channel="email")
        .first()
    )
    now = timezone.now()
    metadata = dict(message.metadata or {}) if message is not None else {}
    every_click = [*metadata.get("clicks", []), *metadata.get("scanner_hits", [])]
    reason = scanner_reason(
        hit,
        now=now,
        delivered_at=message.created_at if message is not None else None,
        target=target,
        recent_clicks=[c for c in every_click if c.get("url")],
    )
    if message is None:
        return reason
    at = now.isoformat()
    if reason:
        hits = metadata.setdefault("scanner_hits", [])
        if len(hits) < MAX_CLICKS_KEPT:
            entry = {"at": at, "reason": reason, "user_agent": hit.user_agent[:200]}
            hits.append({**entry, "url": target} if target else {**entry, "kind": "open"})
    elif target:
        metadata.setdefault("opened_at", at)
        metadata.setdefault("clicked_at", at)
        clicks = metadata.setdefault("clicks", [])
        if len(clicks) < MAX_CLICKS_KEPT:
            clicks.append({"url": target, "at": at})
    else:
        metadata.setdefault("opened_at", at)
        metadata["open_count"] = int(metadata.get("open_count", 0)) + 1
    message.metadata = metadata
    message.save(update_fields=["metadata"])
    return reason


def _track(key: str, flags: tuple[str, ...], hit: Hit, *, target: str = "") -> bool:
    with transaction.atomic():
        reason = _note_on_message(key, hit, target=target)
    if reason:
        logger.info("tracking hit on %s flagged as automated: %s", key, reason)
        return False
    effect = SideEffect.objects.filter(key=key, status=SideEffect.Status.DONE).first()
    if effect is None or effect.enrollment_id is None:
        return False
    return _flag_step(effect, flags)


def record_open(*, token: str, hit: Hit = A_PERSON) -> bool:
    """The open pixel was fetched; True when a running step's ``opened`` changed.

    A scanner's or prefetcher's fetch (engine.triggers.scanners) is noted but changes nothing.
    """
    key = _payload(email_tracking.OPEN, token)["k"]
    return _track(key, ("opened",), hit)


def record_click(*, token: str, hit: Hit = A_PERSON) -> str:
    """A tracked link was followed: mark ``clicked`` (and ``opened``); returns the target URL.

    A scanner's click (engine.triggers.scanners) is noted on the message but marks nothing and
    fires no automation; the redirect is the same either way.
    """
    payload = _payload(email_tracking.CLICK, token)
    target = str(payload.get("u") or "")
    if not target.startswith(("http://", "https://")):
        raise InvalidToken("click token without an http(s) target")
    _track(payload["k"], ("opened", "clicked"), hit, target=target)
    return target


def check_unsubscribe(*, token: str) -> None:
    """Raise InvalidToken unless ``token`` is one of our unsubscribe tokens (changes nothing)."""
    _payload(email_tracking.UNSUBSCRIBE, token)


def record_unsubscribe(*, token: str) -> bool:
    """Opt the email's contact out of email; False when it already was (or is gone).

    Called on POST only (the confirmation form, or RFC 8058 one-click from the mail client):
    a GET of the link, which scanners make, only shows the confirmation page.
    """
    payload = _payload(email_tracking.UNSUBSCRIBE, token)
    with transaction.atomic():
        contact = contact_model().objects.select_for_update().filter(pk=payload.get("c")).first()
        if contact is None or contact.email_opt_out:
            return False
        contact.email_opt_out = True
        contact.save(update_fields=["email_opt_out", "updated_at"])
    logger.info("contact %s unsubscribed from email", contact.pk)
    return True


def record_reply(message: Message) -> int:
    """An inbound message: set ``replied`` on each live enrollment's latest send before it.

    Returns how many enrollments changed. Called by the message-received signal receiver.
    """
    if message.direction != Direction.INBOUND:
        return 0
    live = Enrollment.objects.filter(contact_id=message.contact_id, status__in=state.LIVE)
    changed = 0
    for enrollment_id in list(live.values_list("id", flat=True)):
        effect = (
            SideEffect.objects.filter(
                enrollment_id=enrollment_id,
                kind__in=SEND_KINDS,
                status=SideEffect.Status.DONE,
                created_at__lte=message.created_at,
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if effect is not None and _flag_step(effect, ("replied",)):
            changed += 1
    return changed
