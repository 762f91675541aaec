"""Errors raised by the SSRF-safe HTTP client; `transient` tells the caller whether to retry."""

from __future__ import annotations


class HttpError(Exception):
    """An outbound HTTP request failed; the message names the URL (without secrets) and why."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class BlockedDestination(HttpError):
    """The URL points somewhere we must not connect to (private, loopback, metadata, …)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class HttpTimeout(HttpError):
    """The request did not complete in time; worth retrying later."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)
