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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from engine.language.templating import TemplateError, referenced_paths, render, render_value
from prompts.pricing import PriceError, cost_for, max_cost_for
from prompts.providers import (
    GenerationRequest,
    Provider,
    ProviderError,
    ProviderResponse,
    get_provider,
)
from prompts.schemas import schema_error, schema_mismatch

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "gemini-2.5-flash"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_RETRY_BASE_SECONDS = 1.0
RETRY_MAX_DELAY_SECONDS = 30.0
# Sent when a prompt sets no max_output_tokens, so every call has a known most it can cost.
DEFAULT_MAX_OUTPUT_TOKENS = 8192
# Role markers and framing a provider adds around the texts, in tokens (generous).
REQUEST_OVERHEAD_TOKENS = 64
# The name under which a step's raw input is offered to a user template.
USER_INPUT_VARIABLE = "input"
# Values a contact (or an event it caused) wrote: they go to the model in the user turn, never
# in the system instruction. ``steps`` holds earlier answers and webhook replies built from them.
UNTRUSTED_NAMES = frozenset({"contact", "trigger", "steps", USER_INPUT_VARIABLE})
# Names a workflow step always supplies; any other variable a prompt uses must come from the
# step's ``variables`` (or try-it's sample values).
STEP_NAMESPACES = frozenset(
    {"contact", "trigger", "steps", "workflow", "enrollment", "now", "channel", "input"}
)
# Finish reasons that mean the answer hit the token limit.
CUT_OFF = frozenset({"MAX_TOKENS", "LENGTH"})

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
    output_tokens: int  # billed as output: the answer plus thinking_tokens
    cost: Decimal
    model: str
    provider: str
    attempts: int
    duration_ms: int
    rendered_system: str
    rendered_user: str
    raw: dict
    thinking_tokens: int = 0
    cached_tokens: int = 0


@dataclass
class PreparedCall:
    """A rendered request, ready to be priced (``max_cost``) and sent (``complete``)."""

    spec: PromptSpec
    request: GenerationRequest
    label: str


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
        # Set when the model answered (and was paid) but the answer was unusable: model,
        # provider, input/output/thinking/cached tokens and cost (USD, None if unpriceable).
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
    problem = schema_error(schema) if schema else None
    if problem:
        raise ValueError(f"generation_config.response_schema is not a valid JSON Schema {problem}")
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


def missing_variables(*, spec: PromptSpec, supplied: Collection[str]) -> list[str]:
    """Variables the prompt's texts use that are neither a step namespace nor ``supplied``."""
    used = prompt_variables_used(spec.system_text) + prompt_variables_used(spec.user_template)
    known = STEP_NAMESPACES | set(supplied)
    return [name for name in dict.fromkeys(used) if name not in known]


def untrusted_variable_names(variables: Any) -> set[str]:
    """Names of a step's ``variables`` whose templates read contact-supplied data (an
    UNTRUSTED_NAMES namespace): their values are the contact's words, not the author's."""
    names = set()
    for name, value in (variables or {}).items() if isinstance(variables, Mapping) else ():
        for text in _template_strings(value):
            try:
                heads = {path.split(".", 1)[0] for path in referenced_paths(text)}
            except TemplateError:
                continue  # reported by validation; rendering fails on it later
            if heads & UNTRUSTED_NAMES:
                names.add(str(name))
    return names


def _template_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if "{" in value else []
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _template_strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _template_strings(item)]
    return []


def generate(
    *,
    spec: PromptSpec,
    variables: Mapping[str, Any],
    user_input: str = "",
    provider: Provider | None = None,
    untrusted: Collection[str] = (),
    max_attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> GenerationOutcome:
    """Render ``spec`` with ``variables``, call the provider and return text, parsed JSON and cost.

    ``prepare`` then ``complete``; callers that reserve budget in between (prompts.services)
    call the two themselves. Raises GenerationError.
    """
    prepared = prepare(spec=spec, variables=variables, user_input=user_input, untrusted=untrusted)
    return complete(prepared, provider=provider, max_attempts=max_attempts, sleep=sleep)


def prepare(
    *,
    spec: PromptSpec,
    variables: Mapping[str, Any],
    user_input: str = "",
    untrusted: Collection[str] = (),
) -> PreparedCall:
    """Render the prompt into the request a provider will get; nothing is sent.

    The system instruction is trusted text: it is rendered without the untrusted values
    (UNTRUSTED_NAMES plus ``untrusted``, e.g. step variables built from contact fields); each
    reference to one becomes ``[path: see the user message]`` and its value goes into the user
    turn. The user turn is ``spec.user_template`` rendered (``{{input}}`` is ``user_input``), or
    ``user_input`` verbatim. Raises GenerationError for a bad config, a template error or a
    variable the prompt needs that is not given.
    """
    label = f"prompt {spec.name!r} v{spec.version}"
    try:
        config = normalize_generation_config(spec.generation_config)
    except ValueError as exc:
        raise GenerationError(f"{label}: {exc}") from exc
    context = {USER_INPUT_VARIABLE: user_input, **variables}
    rendered_system, moved = _render_system(
        spec.system_text, context, UNTRUSTED_NAMES | set(untrusted), label
    )
    if spec.user_template:
        rendered_user = _render(spec.user_template, context, f"{label}: user template")
    else:
        rendered_user = user_input
    missing = missing_variables(spec=spec, supplied=context)  # both texts parsed by now
    if missing:
        raise GenerationError(f"{label}: missing variable(s) {', '.join(missing)}")
    moved = {path: value for path, value in moved.items() if value != rendered_user}
    if moved:
        facts = "\n".join(f"{path}: {value}" for path, value in moved.items())
        rendered_user = f"{facts}\n\n{rendered_user}" if rendered_user else facts
    max_output = config.get("max_output_tokens") or int(
        getattr(settings, "STUDIO_AI_MAX_OUTPUT_TOKENS", DEFAULT_MAX_OUTPUT_TOKENS)
    )
    request = GenerationRequest(
        model=spec.model or DEFAULT_MODEL,
        system_text=rendered_system,
        user_text=rendered_user,
        temperature=config.get("temperature"),
        max_output_tokens=max_output,
        top_p=config.get("top_p"),
        json_output=config["json_output"],
        response_schema=config.get("response_schema"),
        timeout_seconds=float(
            config.get("timeout_seconds")
            or getattr(settings, "STUDIO_AI_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
        ),
    )
    return PreparedCall(spec=spec, request=request, label=label)


def resolve_provider(prepared: PreparedCall, provider: Provider | None = None) -> Provider:
    """``provider``, or the prompt's own (the default when it names none); GenerationError."""
    if provider is not None:
        return provider
    try:
        return get_provider(prepared.spec.provider)
    except ProviderError as exc:
        raise GenerationError(f"{prepared.label}: {exc}") from exc


def max_cost(prepared: PreparedCall, provider: Provider) -> Decimal:
    """The most this call can cost (USD): a token per UTF-8 byte of everything sent (no
    tokenizer makes more), plus every allowed output token. Raises GenerationError on a
    price that cannot be read."""
    request = prepared.request
    sent = request.system_text + request.user_text + json.dumps(request.response_schema or {})
    input_bound = len(sent.encode()) + REQUEST_OVERHEAD_TOKENS
    try:
        return max_cost_for(
            request.model, input_bound, request.max_output_tokens or 0, provider=provider.name
        )
    except PriceError as exc:
        raise GenerationError(f"{prepared.label}: {exc}") from exc


def complete(
    prepared: PreparedCall,
    *,
    provider: Provider | None = None,
    max_attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> GenerationOutcome:
    """Call the provider with retries, price the answer and parse it.

    Transient provider errors are retried up to ``max_attempts`` with exponential backoff and
    jitter; permanent ones fail at once. A call that was answered (and billed) but is unusable
    — cut off, blocked, invalid JSON, not matching the response schema, unpriceable — raises
    GenerationError with ``usage`` set, so the tokens and cost are recorded all the same.
    """
    label, request = prepared.label, prepared.request
    provider = resolve_provider(prepared, provider)
    started = time.perf_counter()
    try:
        response, attempts = _call_with_retries(provider, request, label, max_attempts, sleep)
    except GenerationError as exc:
        if isinstance(exc.usage, ProviderResponse):  # answered and billed, but unusable
            exc.usage, _ = _usage(exc.usage, provider)
        raise
    usage, price_problem = _usage(response, provider)
    try:
        if price_problem:
            raise GenerationError(f"{label}: the answer cannot be priced: {price_problem}")
        parsed = _parse_json(response, request, label, attempts) if request.json_output else None
    except GenerationError as exc:
        exc.usage, exc.raw_text, exc.attempts = usage, response.text, attempts
        raise
    return GenerationOutcome(
        text=response.text,
        parsed=parsed,
        input_tokens=response.input_tokens,
        output_tokens=response.output_tokens,
        thinking_tokens=response.thinking_tokens,
        cached_tokens=response.cached_tokens,
        cost=usage["cost"],
        model=response.model,
        provider=response.provider,
        attempts=attempts,
        duration_ms=int((time.perf_counter() - started) * 1000),
        rendered_system=request.system_text,
        rendered_user=request.user_text,
        raw=response.raw,
    )


def _usage(response: ProviderResponse, provider: Provider) -> tuple[dict[str, Any], str]:
    """What a StepLog records of a billed answer, and why it cannot be priced ("" if it can;
    ``cost`` is then None)."""
    usage: dict[str, Any] = {
        "model": response.model,
        "provider": response.provider,
        "input_tokens": response.input_tokens,
        "output_tokens": response.output_tokens,
        "thinking_tokens": response.thinking_tokens,
        "cached_tokens": response.cached_tokens,
    }
    try:
        usage["cost"] = cost_for(
            response.model,
            response.input_tokens,
            response.output_tokens,
            cached_tokens=response.cached_tokens,
            provider=provider.name,
        )
    except PriceError as exc:
        usage["cost"] = None
        return usage, str(exc)
    return usage, ""


def _render_system(
    text: str, context: Mapping[str, Any], untrusted: set[str], label: str
) -> tuple[str, dict[str, str]]:
    """The system text rendered with trusted values only, and the untrusted values it asked for
    ({path: value as text}), which belong in the user turn."""
    where = f"{label}: system text"
    try:
        paths = referenced_paths(text)
    except TemplateError as exc:
        raise GenerationError(f"{where}: {exc}") from exc
    trusted = {name: value for name, value in context.items() if name not in untrusted}
    moved: dict[str, str] = {}
    for path in paths:
        if path.split(".", 1)[0] not in untrusted:
            continue
        moved[path] = _as_text(render_value("{{ " + path + " }}", context))
        _place(trusted, path.split("."), f"[{path}: see the user message]")
    return _render(text, trusted, where), moved


def _place(target: dict[str, Any], bits: list[str], placeholder: str) -> None:
    """Put ``placeholder`` at a dotted path in plain nested dicts (a shorter path wins)."""
    for bit in bits[:-1]:
        child = target.setdefault(bit, {})
        if not isinstance(child, dict):
            return
        target = child
    target.setdefault(bits[-1], placeholder)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


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
                raise GenerationError(
                    f"{label}: {exc}",
                    attempts=attempt,
                    usage=exc.usage,  # type: ignore[arg-type]
                ) from exc
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


def _parse_json(
    response: ProviderResponse, request: GenerationRequest, label: str, attempts: int
) -> Any:
    cut = ""
    if response.finish_reason in CUT_OFF:
        cut = " (the answer was cut off at the token limit)"
    try:
        parsed = json.loads(strip_code_fence(response.text))
    except ValueError as exc:
        raise GenerationError(
            f"{label}: model returned invalid JSON{cut}: {exc}",
            raw_text=response.text,
            attempts=attempts,
        ) from exc
    if request.response_schema:
        problem = schema_mismatch(parsed, request.response_schema)
        if problem:
            raise GenerationError(
                f"{label}: model's JSON does not match the response schema: {problem}",
                raw_text=response.text,
                attempts=attempts,
            )
    return parsed
