"""The provider contract: one request shape, one response shape, one error family."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

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
    """A provider's answer: text, the billed token counts, raw JSON.

    ``input_tokens`` is the whole prompt, of which ``cached_tokens`` were served from a cache
    (billed at the cached price). ``output_tokens`` is every token billed at the output price:
    the answer plus ``thinking_tokens`` (Gemini's ``thoughtsTokenCount``, OpenAI's
    ``reasoning_tokens``). ``finish_reason`` is the provider's own word, upper-cased.
    """

    text: str
    input_tokens: int
    output_tokens: int
    model: str
    provider: str
    raw: dict = field(default_factory=dict)
    thinking_tokens: int = 0
    cached_tokens: int = 0
    finish_reason: str = ""


class ProviderError(Exception):
    """A failed provider call. ``transient`` says whether a retry may succeed.

    Messages are built by our code from status codes and the provider's error text, with API keys
    scrubbed, so they are safe to log and to store on a StepLog. ``usage`` is set when the
    provider answered and billed the call but the answer is unusable (cut off, blocked): its
    tokens still count. ``details`` is the provider's error body, scrubbed.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        usage: ProviderResponse | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after
        self.usage = usage
        self.details = details


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


# Key shapes scrubbed even when they are not ours (a proxy echoing another key): Google API
# keys (AIza + 35), OpenAI / OpenRouter secret keys (sk-…).
_KEY_SHAPES = re.compile(r"AIza[0-9A-Za-z_\-]{35}|\bsk-[A-Za-z0-9_\-]{16,}")


def scrub(text: str, *secrets: str | None) -> str:
    """Replace every non-empty secret, and anything shaped like an API key, with ``***``."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _KEY_SHAPES.sub("***", text)


def scrub_value(value: Any, *secrets: str | None) -> Any:
    """``value`` (a JSON error body) with ``scrub`` applied to every string, key or value."""
    if isinstance(value, dict):
        return {scrub(k, *secrets): scrub_value(v, *secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(item, *secrets) for item in value]
    if isinstance(value, str):
        return scrub(value, *secrets)
    return value


def short(text: str, limit: int = 300) -> str:
    """Trim provider error text so a huge HTML error page does not flood logs."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
