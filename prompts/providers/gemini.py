"""Gemini through the google-genai SDK, with the SDK's own retries off so ours are the only ones."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from prompts.providers.base import (
    GenerationRequest,
    ProviderError,
    ProviderResponse,
    ProviderTimeout,
    is_transient_status,
    scrub,
    scrub_value,
    short,
)

try:  # the SDK sends through httpx or its fork httpx2, whichever is installed
    import httpx2 as _httpx2
except ImportError:  # pragma: no cover - depends on the installed SDK extras
    _httpx2 = None
import httpx

DEFAULT_PROMPT_TEXT = "Follow the instructions."

_TIMEOUTS: tuple[type[Exception], ...] = tuple(
    mod.TimeoutException for mod in (httpx, _httpx2) if mod is not None
)
_TRANSPORT_ERRORS: tuple[type[Exception], ...] = tuple(
    mod.TransportError for mod in (httpx, _httpx2) if mod is not None
)
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class GeminiProvider:
    """Calls ``models.generate_content`` on Gemini (or any server speaking its REST protocol)."""

    name = "gemini"

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None) -> None:
        self.api_key = api_key if api_key is not None else getattr(settings, "GEMINI_API_KEY", "")
        if not self.api_key:
            raise ProviderError(
                "GEMINI_API_KEY is not set: the gemini provider needs it "
                "(or choose the offline provider)",
                transient=False,
            )
        self.base_url = base_url or getattr(settings, "GEMINI_BASE_URL", "") or None

    def _client(self, timeout_seconds: float) -> genai.Client:
        options = types.HttpOptions(
            base_url=self.base_url,
            timeout=max(1, int(timeout_seconds * 1000)),  # the SDK counts milliseconds
            retry_options=types.HttpRetryOptions(attempts=1),  # one attempt: we retry ourselves
        )
        return genai.Client(api_key=self.api_key, vertexai=False, http_options=options)

    def _config(self, request: GenerationRequest) -> types.GenerateContentConfig:
        config: dict[str, Any] = {
            # An exact str: the SDK sends str subclasses (Django's SafeString) as an empty object.
            "system_instruction": str.__str__(request.system_text) or None,
            "temperature": request.temperature,
            "max_output_tokens": request.max_output_tokens,
            "top_p": request.top_p,
            # No tools are declared, so the SDK's automatic function calling has nothing to do.
            "automatic_function_calling": types.AutomaticFunctionCallingConfig(disable=True),
        }
        if request.json_output:
            config["response_mime_type"] = "application/json"
            config["response_schema"] = request.response_schema or None
        return types.GenerateContentConfig(**config)

    def generate(self, request: GenerationRequest) -> ProviderResponse:
        """Send one generateContent call and map every failure to a ProviderError."""
        client = self._client(request.timeout_seconds)
        try:
            response = client.models.generate_content(
                model=request.model,
                contents=str.__str__(request.user_text) or DEFAULT_PROMPT_TEXT,
                config=self._config(request),
            )
        except genai_errors.APIError as exc:
            # from None: the SDK's exception carries the unscrubbed body, keep it off tracebacks.
            raise self._api_error(exc) from None
        except _TIMEOUTS as exc:
            raise ProviderTimeout(
                f"gemini did not answer within {request.timeout_seconds:g}s (model {request.model})"
            ) from exc
        except _TRANSPORT_ERRORS as exc:
            raise ProviderError(
                f"gemini could not be reached: {type(exc).__name__}: "
                f"{scrub(str(exc), self.api_key)}",
                transient=True,
            ) from None
        except ValueError as exc:  # an unparsable body (JSON or schema validation)
            raise ProviderError(
                f"malformed response from gemini: {short(scrub(str(exc), self.api_key))}",
                transient=False,
            ) from None
        finally:
            client.close()
        return self._to_response(response, request)

    def _api_error(self, exc: genai_errors.APIError) -> ProviderError:
        # Every field of the error (status, message, details) may echo the key: the whole
        # message is scrubbed after it is put together, and so are the details kept.
        text = f"gemini returned {exc.code} {exc.status or ''}: {exc.message or 'no message'}"
        return ProviderError(
            short(scrub(text, self.api_key)),
            transient=is_transient_status(exc.code),
            status=exc.code,
            retry_after=_retry_delay(exc.details),
            details=scrub_value(exc.details, self.api_key),
        )

    def _to_response(
        self, response: types.GenerateContentResponse, request: GenerationRequest
    ) -> ProviderResponse:
        answer = ProviderResponse(
            text="",
            model=response.model_version or request.model,
            provider=self.name,
            raw=response.model_dump(mode="json", exclude_none=True, exclude={"sdk_http_response"}),
            **_usage(response.usage_metadata),
        )
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason:
            raise ProviderError(
                f"gemini blocked the prompt ({_name(feedback.block_reason)}"
                f"{_blocked_categories(feedback.safety_ratings)})"
                + (f": {feedback.block_reason_message}" if feedback.block_reason_message else ""),
                usage=answer,
            )
        if not response.candidates:
            raise ProviderError(
                "malformed response from gemini: no candidates", transient=False, usage=answer
            )
        candidate = response.candidates[0]
        answer.finish_reason = _name(candidate.finish_reason)
        text = response.text
        if not text:
            raise ProviderError(_no_text(answer, candidate, request), usage=answer)
        answer.text = text
        return answer


def _name(value: Any) -> str:
    """An SDK enum (or plain string) as the provider's upper-case name."""
    return str(getattr(value, "value", value) or "")


def _usage(usage: types.GenerateContentResponseUsageMetadata | None) -> dict[str, int]:
    """Billed tokens: candidates exclude thoughts, so output is candidates + thoughts; the
    prompt count already includes the cached part."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    thinking = usage.thoughts_token_count or 0
    return {
        "input_tokens": usage.prompt_token_count or 0,
        "output_tokens": (usage.candidates_token_count or 0) + thinking,
        "thinking_tokens": thinking,
        "cached_tokens": usage.cached_content_token_count or 0,
    }


def _blocked_categories(ratings: list[types.SafetyRating] | None) -> str:
    names = [_name(r.category) for r in ratings or [] if r.blocked and r.category]
    return f": {', '.join(names)}" if names else ""


def _no_text(
    answer: ProviderResponse, candidate: types.Candidate, request: GenerationRequest
) -> str:
    reason = answer.finish_reason
    if reason == "MAX_TOKENS":
        thinking = f", {answer.thinking_tokens} of them thinking" if answer.thinking_tokens else ""
        return (
            "gemini cut the answer off at the token limit before any text "
            f"(max_output_tokens {request.max_output_tokens}; {answer.output_tokens} output "
            f"tokens used{thinking}): raise max_output_tokens or lower the thinking budget"
        )
    if reason in _WITHHELD:
        return (
            f"gemini withheld the answer (finish reason {reason}"
            f"{_blocked_categories(candidate.safety_ratings)})"
        )
    return f"malformed response from gemini: the candidate has no text (finish reason {reason})"


# Finish reasons meaning the answer was filtered rather than broken.
_WITHHELD = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)


def _retry_delay(details: Any) -> float | None:
    """Read Gemini's ``RetryInfo.retryDelay`` ("13s") from an error body, if it has one."""
    error = details.get("error", {}) if isinstance(details, dict) else {}
    for item in error.get("details", []) if isinstance(error, dict) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = _SECONDS.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
