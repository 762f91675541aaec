"""The provider contract: one request shape, one response shape, one error family."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# Status codes worth another attempt: request timeout, rate limit, and server-side failures.
TRANSIENT_STATUSES = frozenset({408, 429})


def is_transient_status(status: int | None) -> bool:
    """True for statuses a retry may cure (408, 429, any 5xx)."""
    return status is not None and (status in TRANSIENT_STATUSES or status >= 500)


@dataclass
class GenerationRequest:
    """What the generation service asks of a provider; the texts are already rendered."""

    model: str
    system_text: str
    user_text: str = ""
    temperature: float | None = None
    max_output_tokens: int | None = None
    top_p: float | None = None
    json_output: bool = False
    response_schema: dict | None = None
    timeout_seconds: float = 30.0


@dataclass
class ProviderResponse:
    """A provider's answer: text, token counts as the provider reported them, raw JSON."""

    text: str
    input_tokens: int
    output_tokens: int
    model: str
    provider: str
    raw: dict = field(default_factory=dict)


class ProviderError(Exception):
    """A failed provider call. ``transient`` says whether a retry may succeed.

    Messages are built by our code from status codes and the provider's error text, with API keys
    scrubbed, so they are safe to log and to store on a StepLog.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after


class ProviderTimeout(ProviderError):
    """The provider did not answer in time; always worth another attempt."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True, status=None)


class UnknownProviderError(ProviderError, ValueError):
    """A prompt or caller named a provider that does not exist."""


@runtime_checkable
class Provider(Protocol):
    """Anything with a name that turns a GenerationRequest into a ProviderResponse."""

    name: str

    def generate(self, request: GenerationRequest) -> ProviderResponse: ...


def scrub(text: str, *secrets: str | None) -> str:
    """Replace every non-empty secret in ``text`` so error messages never carry API keys."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def short(text: str, limit: int = 300) -> str:
    """Trim provider error text so a huge HTML error page does not flood logs."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
