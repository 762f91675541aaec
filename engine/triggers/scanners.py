"""Telling mail security scanners and prefetchers from people on tracking links.

Gateways (Microsoft Defender Safe Links, Mimecast, Proofpoint, Barracuda…) fetch every link of
a message within seconds of delivery, often all at once, and some only ask with HEAD. Such a
fetch is recorded on the message but flagged, and does not count as an open or a click nor
fire automations (docs/channels.md "Email tracking and link scanners").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

# Lower-case substrings of user agents sent by scanners, prefetchers and scripts, not people.
SCANNER_AGENTS = (
    "barracuda",
    "mimecast",
    "proofpoint",
    "symantec",
    "messagelabs",
    "fireeye",
    "trendmicro",
    "sophos",
    "forcepoint",
    "ironport",
    "bitdefender",
    "zscaler",
    "safelinks",
    "microsoft office existence discovery",
    "ms-office",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-httpx",
    "go-http-client",
    "curl/",
    "wget/",
    "bot",
    "crawler",
    "spider",
    "preview",
    "scanner",
)


@dataclass(frozen=True)
class Hit:
    """One fetch of a tracking link: the HTTP method and the User-Agent header."""

    method: str = "GET"
    user_agent: str = ""


def _seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(getattr(settings, name, default)))


def scanner_agent(user_agent: str) -> str:
    """The scanner pattern ``user_agent`` matches, or ``""``."""
    agent = user_agent.lower()
    return next((pattern for pattern in SCANNER_AGENTS if pattern in agent), "")


def scanner_reason(
    hit: Hit,
    *,
    now: datetime,
    delivered_at: datetime | None,
    target: str = "",
    recent_clicks: Iterable[Mapping[str, Any]] = (),
) -> str:
    """Why this fetch looks automated (``""`` when it looks like a person).

    Clicks (``target`` set) also count as automated within
    ``STUDIO_TRACKING_SCANNER_SECONDS`` (10) of delivery, and when another link of the same
    message was clicked within ``STUDIO_TRACKING_BURST_SECONDS`` (3) before.
    """
    if hit.method.upper() == "HEAD":
        return "HEAD request"
    pattern = scanner_agent(hit.user_agent)
    if pattern:
        return f"scanner user agent ({pattern})"
    if not target:
        return ""
    window = _seconds("STUDIO_TRACKING_SCANNER_SECONDS", 10)
    if delivered_at is not None and now - delivered_at < window:
        return f"clicked {int((now - delivered_at).total_seconds())} s after delivery"
    burst = _seconds("STUDIO_TRACKING_BURST_SECONDS", 3)
    for click in recent_clicks:
        at = parse_datetime(str(click.get("at") or ""))
        if at is not None and click.get("url") != target and timedelta(0) <= now - at < burst:
            return "several links clicked at once"
    return ""
