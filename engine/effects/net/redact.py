"""Keep secrets out of logs and error messages: header values and URL credentials."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

REDACTED = "[redacted]"
_ALWAYS_SECRET = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
# Substrings that mark a header or query parameter as carrying a credential.
_SECRET_NAME = re.compile(r"token|secret|key|password|passwd|auth|signature|session", re.I)


def is_secret_name(name: str) -> bool:
    """True when a header or query parameter name suggests its value is a credential."""
    return name.lower() in _ALWAYS_SECRET or bool(_SECRET_NAME.search(name))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of `headers` with credential-bearing values replaced by "[redacted]"."""
    return {k: (REDACTED if is_secret_name(k) else v) for k, v in headers.items()}


def display_url(url: str) -> str:
    """The URL as safe to show: no userinfo, secret-looking query values redacted, no fragment."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = "&".join(f"{k}={REDACTED if is_secret_name(k) else v}" for k, v in pairs)
    except ValueError:
        return "<unparseable URL>"
    shown = f"{parts.scheme}:" if parts.scheme else ""
    shown += f"//{netloc}{parts.path}"
    return f"{shown}?{query}" if query else shown
