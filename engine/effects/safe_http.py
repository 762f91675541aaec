"""Outbound HTTP for user-configured URLs (http_request / call_webhook steps), safe against SSRF.

Every hop is resolved and checked (engine.effects.net.addresses), then the request goes to the
checked IP with the original Host header and TLS SNI, so a DNS answer that changes between check
and connect (DNS rebinding) cannot redirect us. Redirects are followed by hand and re-checked.
"""

from __future__ import annotations

import base64
import json as jsonlib
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin

import httpx
from django.conf import settings

from engine.effects.durability import reached_outside
from engine.effects.net.addresses import DEFAULT_PORTS, ResolvedAddress, check_url, split_url
from engine.effects.net.errors import BlockedDestination, HttpError, HttpTimeout
from engine.effects.net.redact import display_url, is_secret_name, redact_headers

__all__ = [
    "BlockedDestination",
    "HttpError",
    "HttpTimeout",
    "ResolvedAddress",
    "SafeResponse",
    "check_url",
    "is_transient_status",
    "redact_headers",
    "safe_request",
]

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# We set these ourselves; a caller-supplied Host must not pick another virtual host than the URL.
_DROPPED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass
class SafeResponse:
    """A fully read, size-capped response; `url` is the final URL after redirects."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError naming the URL when it is not JSON."""
        try:
            return jsonlib.loads(self.body)
        except ValueError as exc:
            raise ValueError(f"response from {display_url(self.url)} is not JSON: {exc}") from None


def is_transient_status(status: int) -> bool:
    """True for statuses worth retrying: 429 Too Many Requests and every 5xx."""
    return status == 429 or 500 <= status <= 599


def _allowed_hosts_setting() -> list[str]:
    return list(getattr(settings, "STUDIO_HTTP_ALLOWED_HOSTS", []))


def _ascii_host(host: str) -> str:
    return host if host.isascii() else host.encode("idna").decode("ascii")


def _host_header(host: str, scheme: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else _ascii_host(host)
    return shown if DEFAULT_PORTS[scheme] == port else f"{shown}:{port}"


def _pinned_request(
    client: httpx.Client,
    method: str,
    url: str,
    target: ResolvedAddress,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: float,
) -> httpx.Request:
    """Build a request addressed to the checked IP, carrying the real name in Host and SNI."""
    parts, host, port = split_url(url)
    scheme = parts.scheme.lower()
    ip = target.address
    ip_text = f"[{ip}]" if ip.version == 6 else str(ip)
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    send_headers = {k: v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}
    send_headers["Host"] = _host_header(host, scheme, port)
    if parts.username is not None and not any(k.lower() == "authorization" for k in headers):
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        send_headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    extensions: dict[str, Any] = {"timeout": httpx.Timeout(timeout).as_dict()}
    if scheme == "https":
        extensions["sni_hostname"] = _ascii_host(host)
    try:
        return client.build_request(
            method,
            f"{scheme}://{ip_text}:{port}{path}{query}",
            headers=send_headers,
            content=body,
            extensions=extensions,
        )
    except (httpx.InvalidURL, ValueError) as exc:  # InvalidURL is not an httpx.HTTPError
        raise HttpError(f"{method} {display_url(url)}: invalid URL ({exc})") from None


def _read_capped(response: httpx.Response, shown: str, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HttpError(f"{shown}: response larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(f"{shown}: response larger than {max_bytes} bytes")
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the response kept trickling in past the deadline")
    return b"".join(chunks)


def _same_origin(a: str, b: str) -> bool:
    (pa, ha, porta), (pb, hb, portb) = split_url(a), split_url(b)
    return (pa.scheme.lower(), ha, porta) == (pb.scheme.lower(), hb, portb)


_MALFORMED_LOCATION = re.compile(r"[\\\x00-\x20\x7f]")


def _redirect_target(current: str, location: str, method: str) -> str:
    """The absolute URL a Location header names; HttpError for one we will not interpret.

    Browsers read ``http:\\127.0.0.1/`` as ``http://127.0.0.1/``; we refuse backslashes,
    spaces and control characters instead of guessing (and before httpx sees them).
    """
    if _MALFORMED_LOCATION.search(location):
        raise HttpError(
            f"{method} {display_url(current)}: redirected to a malformed URL "
            f"({location[:80]!r}: backslash, space or control character)"
        )
    following = urljoin(current, location)
    split_url(following)  # HttpError / BlockedDestination for a bad scheme, port or host
    return following


def _redirected(method: str, status: int, body: bytes | None) -> tuple[str, bytes | None]:
    """Method and body for the next hop, as browsers do: 303 (and 301/302 after POST) become GET."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        return "GET", None
    return method, body


def safe_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
    timeout: float = 10.0,
    max_redirects: int = 5,
    max_bytes: int = 1_000_000,
    allowed_hosts: Iterable[str] | None = None,
) -> SafeResponse:
    """Send one HTTP request to a user-supplied URL, refusing internal destinations.

    Raises BlockedDestination for refused hosts (every redirect hop is checked), HttpTimeout when
    `timeout` seconds pass for the whole exchange, HttpError for the rest (`.transient` says
    whether a retry may help). Non-2xx statuses are returned, not raised.
    """
    reached_outside()  # a step making a request commits synchronously (durability.py)
    allowed = list(allowed_hosts) if allowed_hosts is not None else _allowed_hosts_setting()
    method = method.upper()
    send_headers = dict(headers or {})
    body = content
    if json is not None:
        body = jsonlib.dumps(json).encode()
        if not any(k.lower() == "content-type" for k in send_headers):
            send_headers["Content-Type"] = "application/json"
    deadline = time.monotonic() + timeout
    current = url
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
        for hop in range(max_redirects + 1):
            shown = display_url(current)
            target = check_url(current, allowed_hosts=allowed)[0]
            remaining = max(deadline - time.monotonic(), 0.001)
            request = _pinned_request(
                client, method, current, target, send_headers, body, remaining
            )
            try:
                response = client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    redirect = response.status_code in REDIRECT_STATUSES and bool(location)
                    data = b"" if redirect else _read_capped(response, shown, max_bytes, deadline)
                finally:
                    response.close()
            except httpx.TimeoutException:
                raise HttpTimeout(f"{method} {shown}: timed out after {timeout}s") from None
            except httpx.InvalidURL as exc:  # httpx parses Location even when not following
                raise HttpError(
                    f"{method} {shown}: redirected to a malformed URL ({exc})"
                ) from None
            except httpx.HTTPError as exc:
                kind = type(exc).__name__
                raise HttpError(f"{method} {shown}: {kind}: {exc}", transient=True) from None
            logger.info("http %s %s -> %s", method, shown, response.status_code)
            if not redirect:
                return SafeResponse(
                    status=response.status_code,
                    headers=dict(response.headers),
                    body=data,
                    url=current,
                )
            if hop == max_redirects:
                break
            following = _redirect_target(current, response.headers["location"], method)
            method, body = _redirected(method, response.status_code, body)
            if body is None:
                send_headers = {
                    k: v for k, v in send_headers.items() if k.lower() != "content-type"
                }
            if not _same_origin(current, following):
                # Credentials meant for one host must not travel to the next one.
                send_headers = {k: v for k, v in send_headers.items() if not is_secret_name(k)}
            current = following
    raise HttpError(f"{method} {display_url(url)}: too many redirects (max {max_redirects})")
