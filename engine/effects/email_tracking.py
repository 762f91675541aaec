"""Signed tracking links for sent email: an open pixel, click redirects and an unsubscribe link.

Tokens carry the send step's idempotency key (stable across a re-sent step) and are signed
with django.core.signing, so nobody can forge an open or turn our redirect into an open one.
"""

from __future__ import annotations

import hashlib
import html as htmllib
import re
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

OPEN, CLICK, UNSUBSCRIBE = "open", "click", "unsubscribe"
_SALT = "engine.effects.email_tracking."
_LINK = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def public_url(path: str) -> str:
    """An absolute URL on this studio (STUDIO_PUBLIC_BASE_URL + path)."""
    base = str(getattr(settings, "STUDIO_PUBLIC_BASE_URL", "http://127.0.0.1:8000"))
    return base.rstrip("/") + path


def message_id_for(key: str) -> str:
    """The email's Message-ID, derived from the idempotency key so a re-send carries the same."""
    sender = str(getattr(settings, "DEFAULT_FROM_EMAIL", "") or "")
    domain = sender.rpartition("@")[2].strip("> ") or "studio.local"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    return signing.dumps(payload, salt=_SALT + purpose)


def read_token(purpose: str, token: str) -> dict[str, Any]:
    """The payload of a token made for ``purpose``; raises signing.BadSignature if tampered."""
    payload = signing.loads(token, salt=_SALT + purpose)
    if not isinstance(payload, dict) or "k" not in payload:
        raise signing.BadSignature("tracking token without a key")
    return payload


def open_url(key: str) -> str:
    return public_url(reverse("studio-track-open", kwargs={"token": make_token(OPEN, {"k": key})}))


def click_url(key: str, target: str) -> str:
    token = make_token(CLICK, {"k": key, "u": target})
    return public_url(reverse("studio-track-click", kwargs={"token": token}))


def unsubscribe_url(key: str, contact_id: Any) -> str:
    token = make_token(UNSUBSCRIBE, {"k": key, "c": contact_id})
    return public_url(reverse("studio-track-unsubscribe", kwargs={"token": token}))


def _before_body_end(html: str, snippet: str) -> str:
    ends = [found.start() for found in _BODY_END.finditer(html)]
    if not ends:
        return html + snippet
    at = ends[-1]  # the last </body> is the real one
    return html[:at] + snippet + html[at:]


def track_html(html: str, *, key: str) -> str:
    """Rewrite http(s) links to signed click redirects and add the open pixel."""

    def rewrite(match: re.Match) -> str:
        target = htmllib.unescape(match.group(3))
        tracked = htmllib.escape(click_url(key, target))
        return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

    rewritten = _LINK.sub(rewrite, html)
    pixel = f'<img src="{htmllib.escape(open_url(key))}" width="1" height="1" alt="">'
    return _before_body_end(rewritten, pixel)


def add_unsubscribe(text: str, html: str, *, url: str) -> tuple[str, str]:
    """The text and HTML parts with an unsubscribe footer (HTML left empty when it was)."""
    text = f"{text.rstrip()}\n\n--\nUnsubscribe: {url}\n"
    if html:
        footer = f'<p style="font-size:12px"><a href="{htmllib.escape(url)}">Unsubscribe</a></p>'
        html = _before_body_end(html, footer)
    return text, html
