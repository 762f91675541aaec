"""OpenAI-compatible chat completions (OpenRouter and similar) through the ``openai`` SDK."""

from __future__ import annotations

from typing import Any

import openai
from django.conf import settings

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

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_PROMPT_TEXT = "Follow the instructions."


class OpenAICompatibleProvider:
    """Calls ``chat.completions.create`` with a system and a user message."""

    name = "openai_compatible"

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None) -> None:
        self.api_key = (
            api_key if api_key is not None else getattr(settings, "OPENAI_COMPATIBLE_API_KEY", "")
        )
        if not self.api_key:
            raise ProviderError(
                "OPENAI_COMPATIBLE_API_KEY is not set: the openai_compatible provider needs it",
                transient=False,
            )
        self.base_url = (
            base_url or getattr(settings, "OPENAI_COMPATIBLE_BASE_URL", "") or DEFAULT_BASE_URL
        )

    def _arguments(self, request: GenerationRequest) -> dict[str, Any]:
        messages = []
        if request.system_text:
            messages.append({"role": "system", "content": request.system_text})
        messages.append({"role": "user", "content": request.user_text or DEFAULT_PROMPT_TEXT})
        arguments: dict[str, Any] = {"model": request.model, "messages": messages}
        optional = {
            "temperature": request.temperature,
            "max_tokens": request.max_output_tokens,
            "top_p": request.top_p,
        }
        arguments.update({key: value for key, value in optional.items() if value is not None})
        if request.json_output and request.response_schema:
            arguments["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": request.response_schema},
            }
        elif request.json_output:
            arguments["response_format"] = {"type": "json_object"}
        return arguments

    def generate(self, request: GenerationRequest) -> ProviderResponse:
        """Send one chat completion and map every failure to a ProviderError."""
        client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self.api_key,
            max_retries=0,  # our retry policy is the only one
            timeout=request.timeout_seconds,
        )
        try:
            completion = client.chat.completions.create(**self._arguments(request))
        except openai.APITimeoutError:
            raise ProviderTimeout(
                f"{self.name} did not answer within {request.timeout_seconds:g}s "
                f"(model {request.model})"
            ) from None
        except openai.APIConnectionError:
            raise ProviderError(
                f"{self.name} could not be reached at {scrub(self.base_url, self.api_key)}",
                transient=True,
            ) from None
        except openai.APIStatusError as exc:
            # The SDK's message is built from the body (message, type, code, param …), any of
            # which may echo the key; the whole text is scrubbed, the body too, and the SDK's
            # exception is not chained (it would print the raw body on a traceback).
            text = f"{self.name} returned {exc.status_code}: {exc.message}"
            raise ProviderError(
                short(scrub(text, self.api_key)),
                transient=is_transient_status(exc.status_code),
                status=exc.status_code,
                retry_after=_retry_after(exc.response.headers.get("retry-after")),
                details=scrub_value(exc.body, self.api_key),
            ) from None
        except ValueError as exc:  # an unparsable body
            raise ProviderError(
                f"malformed response from {self.name}: {short(scrub(str(exc), self.api_key))}",
                transient=False,
            ) from None
        finally:
            client.close()
        return self._to_response(completion, request)

    def _to_response(self, completion: Any, request: GenerationRequest) -> ProviderResponse:
        answer = ProviderResponse(
            text="",
            model=completion.model or request.model,
            provider=self.name,
            raw=completion.model_dump(mode="json", exclude_none=True),
            **_usage(completion.usage),
        )
        if not completion.choices:
            raise ProviderError(
                f"malformed response from {self.name}: no choices", transient=False, usage=answer
            )
        choice = completion.choices[0]
        answer.finish_reason = str(choice.finish_reason or "").upper()
        text = choice.message.content
        if text:
            answer.text = text
            return answer
        if answer.finish_reason == "LENGTH":
            thinking = ""
            if answer.thinking_tokens:
                thinking = f", {answer.thinking_tokens} of them reasoning"
            message = (
                f"{self.name} cut the answer off at the token limit before any text "
                f"(max_tokens {request.max_output_tokens}; {answer.output_tokens} output tokens "
                f"used{thinking}): raise max_output_tokens"
            )
        elif answer.finish_reason == "CONTENT_FILTER":
            message = f"{self.name} withheld the answer (finish reason content_filter)"
        else:
            message = f"malformed response from {self.name}: the first choice has no content"
        raise ProviderError(message, usage=answer)


def _usage(usage: Any) -> dict[str, int]:
    """Billed tokens as OpenAI counts them: completion tokens already include the reasoning
    tokens and prompt tokens the cached ones; the details break them out."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return {
        "input_tokens": usage.prompt_tokens or 0,
        "output_tokens": usage.completion_tokens or 0,
        "thinking_tokens": getattr(completion_details, "reasoning_tokens", None) or 0,
        "cached_tokens": getattr(prompt_details, "cached_tokens", None) or 0,
    }


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds; dates are ignored (rare for APIs)."""
    try:
        return float(value) if value else None
    except ValueError:
        return None
