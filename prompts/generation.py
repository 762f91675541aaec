"""The AI generation service: render a prompt, call a provider with retries, parse, account.

Variables are values. They are inserted into the prompt's templates as text by the engine's
sandboxed renderer and never rendered again, and the model's output is returned as data: it is never
rendered, evaluated or fetched.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from engine.language.templating import TemplateError, referenced_paths, render
from prompts.pricing import cost_for
from prompts.providers import (
    GenerationRequest,
    Provider,
    ProviderError,
    ProviderResponse,
    get_provider,
)

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gemini-2.5-flash"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_RETRY_BASE_SECONDS = 1.0
RETRY_MAX_DELAY_SECONDS = 30.0
# The name under which a step's raw input is offered to a user template.
USER_INPUT_VARIABLE = "input"

CONFIG_KEYS = {
    "temperature": "temperature",
    "max_output_tokens": "max_output_tokens",
    "maxOutputTokens": "max_output_tokens",
    "max_tokens": "max_output_tokens",
    "top_p": "top_p",
    "topP": "top_p",
    "json_output": "json_output",
    "response_schema": "response_schema",
    "responseSchema": "response_schema",
    "timeout_seconds": "timeout_seconds",
}
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n?(.*?)\n?```\s*$", re.DOTALL)


@dataclass
class PromptSpec:
    """Everything the service needs from a prompt, whether from the library or inline in a step."""

    name: str
    version: int
    system_text: str
    user_template: str = ""
    model: str = DEFAULT_MODEL
    provider: str | None = None
    generation_config: dict = field(default_factory=dict)
    template_variables: list[str] = field(default_factory=list)


@dataclass
class GenerationOutcome:
    """The result of a generation, with what a StepLog needs to record it."""

    text: str
    parsed: Any
    input_tokens: int
    output_tokens: int
    cost: Decimal
    model: str
    provider: str
    attempts: int
    duration_ms: int
    rendered_system: str
    rendered_user: str
    raw: dict


class GenerationError(Exception):
    """A generation that failed; ``transient`` is True when retries ran out on a transient error."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        raw_text: str | None = None,
        attempts: int = 0,
        usage: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.raw_text = raw_text
        self.attempts = attempts
        # Set when the model answered (and was paid) but the answer was unusable.
        self.usage = usage


def normalize_generation_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Canonical generation config keys; Gemini's camelCase and ``responseMimeType`` are accepted.

    Raises ValueError naming any unknown key or a value of the wrong type.
    """
    result: dict[str, Any] = {}
    unknown = []
    for key, value in (config or {}).items():
        if key == "responseMimeType":
            result["json_output"] = value == "application/json"
        elif key in CONFIG_KEYS:
            result[CONFIG_KEYS[key]] = value
        else:
            unknown.append(key)
    if unknown:
        allowed = ", ".join(sorted({*CONFIG_KEYS.values()}))
        raise ValueError(f"generation_config: unknown key(s) {', '.join(unknown)}; use {allowed}")
    for key in ("temperature", "top_p", "timeout_seconds"):
        if result.get(key) is not None and not isinstance(result[key], int | float):
            raise ValueError(f"generation_config.{key} must be a number, got {result[key]!r}")
    tokens = result.get("max_output_tokens")
    if tokens is not None and (not isinstance(tokens, int) or isinstance(tokens, bool)):
        raise ValueError(f"generation_config.max_output_tokens must be an integer, got {tokens!r}")
    schema = result.get("response_schema")
    if schema is not None and not isinstance(schema, dict):
        raise ValueError("generation_config.response_schema must be an object (a JSON Schema)")
    result["json_output"] = bool(result.get("json_output") or schema)
    return result


def prompt_variables_used(text: str) -> list[str]:
    """The sorted top-level variable names a prompt text uses (``contact`` for contact.email)."""
    names: dict[str, None] = {}
    for path in referenced_paths(text):
        names.setdefault(path.split(".", 1)[0], None)
    return list(names)


def undeclared_variables(*, spec: PromptSpec) -> list[str]:
    """Variables the prompt's texts use that its ``template_variables`` do not document."""
    used = prompt_variables_used(spec.system_text) + prompt_variables_used(spec.user_template)
    declared = set(spec.template_variables) | {USER_INPUT_VARIABLE}
    return [name for name in dict.fromkeys(used) if name not in declared]


def generate(
    *,
    spec: PromptSpec,
    variables: Mapping[str, Any],
    user_input: str = "",
    provider: Provider | None = None,
    max_attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> GenerationOutcome:
    """Render ``spec`` with ``variables``, call the provider and return text, parsed JSON and cost.

    The user message is ``spec.user_template`` rendered (``{{input}}`` is ``user_input``), or
    ``user_input`` verbatim when the prompt has no user template. Transient provider errors are
    retried up to ``max_attempts`` with exponential backoff and jitter; permanent ones fail at once.
    Raises GenerationError.
    """
    label = f"prompt {spec.name!r} v{spec.version}"
    try:
        config = normalize_generation_config(spec.generation_config)
    except ValueError as exc:
        raise GenerationError(f"{label}: {exc}") from exc
    context = {USER_INPUT_VARIABLE: user_input, **variables}
    rendered_system = _render(spec.system_text, context, f"{label}: system text")
    if spec.user_template:
        rendered_user = _render(spec.user_template, context, f"{label}: user template")
    else:
        rendered_user = user_input
    request = GenerationRequest(
        model=spec.model or DEFAULT_MODEL,
        system_text=rendered_system,
        user_text=rendered_user,
        temperature=config.get("temperature"),
        max_output_tokens=config.get("max_output_tokens"),
        top_p=config.get("top_p"),
        json_output=config["json_output"],
        response_schema=config.get("response_schema"),
        timeout_seconds=float(
            config.get("timeout_seconds")
            or getattr(settings, "STUDIO_AI_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
        ),
    )
    started = time.perf_counter()
    if provider is None:
        try:
            provider = get_provider(spec.provider)
        except ProviderError as exc:
            raise GenerationError(f"{label}: {exc}") from exc
    response, attempts = _call_with_retries(provider, request, label, max_attempts, sleep)
    cost = cost_for(
        response.model, response.input_tokens, response.output_tokens, provider=provider.name
    )
    try:
        parsed = _parse_json(response.text, label, attempts) if request.json_output else None
    except GenerationError as exc:
        exc.usage = {
            "model": response.model,
            "input_tokens": response.input_tokens,
            "output_tokens": response.output_tokens,
            "cost": cost,
        }
        raise
    return GenerationOutcome(
        text=response.text,
        parsed=parsed,
        input_tokens=response.input_tokens,
        output_tokens=response.output_tokens,
        cost=cost,
        model=response.model,
        provider=response.provider,
        attempts=attempts,
        duration_ms=int((time.perf_counter() - started) * 1000),
        rendered_system=rendered_system,
        rendered_user=rendered_user,
        raw=response.raw,
    )


def _render(text: str, context: Mapping[str, Any], where: str) -> str:
    try:
        # An exact str: the SDKs serialise str subclasses such as Django's SafeString wrongly.
        return str.__str__(render(text, context))
    except TemplateError as exc:
        raise GenerationError(f"{where}: {exc}") from exc


def retry_delay(attempt: int, *, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): base·2^(n-1) plus jitter,
    at least the provider's own retry hint, never more than RETRY_MAX_DELAY_SECONDS."""
    base = float(getattr(settings, "STUDIO_AI_RETRY_BASE_SECONDS", DEFAULT_RETRY_BASE_SECONDS))
    delay = base * 2 ** (attempt - 1) + random.uniform(0, base)
    return min(max(delay, retry_after or 0.0), RETRY_MAX_DELAY_SECONDS)


def _call_with_retries(
    provider: Provider,
    request: GenerationRequest,
    label: str,
    max_attempts: int,
    sleep: Callable[[float], None],
) -> tuple[ProviderResponse, int]:
    attempts = max(1, max_attempts)
    for attempt in range(1, attempts + 1):
        try:
            return provider.generate(request), attempt
        except ProviderError as exc:
            if not exc.transient:
                raise GenerationError(f"{label}: {exc}", attempts=attempt) from exc
            if attempt == attempts:
                raise GenerationError(
                    f"{label}: {exc} (gave up after {attempt} attempts)",
                    transient=True,
                    attempts=attempt,
                ) from exc
            delay = retry_delay(attempt, retry_after=exc.retry_after)
            logger.warning(
                "AI call for %s failed (attempt %d of %d), retrying in %.1fs: %s",
                label,
                attempt,
                attempts,
                delay,
                exc,
            )
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def strip_code_fence(text: str) -> str:
    """The content of a Markdown code fence (```json … ```) if the text is one, else the text."""
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _parse_json(text: str, label: str, attempts: int) -> Any:
    try:
        return json.loads(strip_code_fence(text))
    except ValueError as exc:
        raise GenerationError(
            f"{label}: model returned invalid JSON: {exc}",
            raw_text=text,
            attempts=attempts,
        ) from exc
