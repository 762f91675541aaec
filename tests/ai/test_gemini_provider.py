"""The Gemini provider drives the real google-genai SDK against a local Gemini-protocol server."""

from __future__ import annotations

import socket

import pytest
from django.utils.safestring import SafeString

from prompts.providers.base import GenerationRequest, ProviderError, ProviderTimeout
from prompts.providers.gemini import DEFAULT_PROMPT_TEXT, GeminiProvider
from tests.ai.conftest import GEMINI_KEY
from tests.fakes.gemini_server import Reply

SCHEMA = {
    "type": "object",
    "properties": {"plan": {"type": "string"}, "weeks": {"type": "integer"}},
    "required": ["plan", "weeks"],
}


def request(**overrides) -> GenerationRequest:
    values = {"model": "gemini-2.5-flash", "system_text": "You are a coach.", "user_text": "Hi"}
    return GenerationRequest(**{**values, **overrides})


def test_it_returns_text_tokens_and_model_from_a_successful_call(gemini_server):
    gemini_server.enqueue(Reply.ok("Hello Ana", prompt_tokens=42, output_tokens=7))

    response = GeminiProvider().generate(request())

    assert response.text == "Hello Ana"
    assert (response.input_tokens, response.output_tokens) == (42, 7)
    assert response.model == "gemini-2.5-flash"
    assert response.provider == "gemini"
    assert response.raw["usage_metadata"]["total_token_count"] == 49


def test_it_sends_the_system_instruction_and_generation_config(gemini_server):
    GeminiProvider().generate(request(temperature=0.2, max_output_tokens=256, top_p=0.9))

    sent = gemini_server.requests[0]
    assert sent.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    assert sent.json["systemInstruction"]["parts"] == [{"text": "You are a coach."}]
    assert sent.json["contents"] == [{"parts": [{"text": "Hi"}], "role": "user"}]
    assert sent.json["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 256,
        "topP": 0.9,
    }


def test_it_sends_django_safe_strings_as_plain_text(gemini_server):
    GeminiProvider().generate(
        request(system_text=SafeString("Be kind."), user_text=SafeString("Hi"))
    )

    sent = gemini_server.requests[0].json
    assert sent["systemInstruction"]["parts"] == [{"text": "Be kind."}]
    assert sent["contents"][0]["parts"] == [{"text": "Hi"}]


def test_it_asks_for_json_with_the_response_schema(gemini_server):
    gemini_server.enqueue(Reply.json_text({"plan": "run", "weeks": 4}))

    response = GeminiProvider().generate(request(json_output=True, response_schema=SCHEMA))

    config = gemini_server.requests[0].json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["required"] == ["plan", "weeks"]
    assert response.text == '{"plan": "run", "weeks": 4}'


def test_it_sends_a_default_user_turn_when_there_is_no_user_text(gemini_server):
    GeminiProvider().generate(request(user_text=""))

    assert gemini_server.requests[0].json["contents"][0]["parts"] == [{"text": DEFAULT_PROMPT_TEXT}]


def test_a_rate_limit_is_transient_with_the_servers_retry_delay_and_is_not_retried_by_the_sdk(
    gemini_server,
):
    gemini_server.enqueue(Reply.error(429, "quota exceeded", retry_delay="7s"))

    with pytest.raises(ProviderError) as caught:
        GeminiProvider().generate(request())

    assert caught.value.transient is True
    assert caught.value.status == 429
    assert caught.value.retry_after == 7.0
    assert "quota exceeded" in str(caught.value)
    assert len(gemini_server.requests) == 1


def test_a_server_error_is_transient(gemini_server):
    gemini_server.enqueue(Reply.error(500))

    with pytest.raises(ProviderError) as caught:
        GeminiProvider().generate(request())

    assert (caught.value.transient, caught.value.status, caught.value.retry_after) == (
        True,
        500,
        None,
    )


def test_a_bad_request_is_permanent(gemini_server):
    gemini_server.enqueue(Reply.error(400, "model not supported"))

    with pytest.raises(ProviderError) as caught:
        GeminiProvider().generate(request())

    assert caught.value.transient is False
    assert caught.value.status == 400


def test_an_error_message_never_carries_the_api_key(gemini_server):
    gemini_server.enqueue(Reply.error(403, f"API key {GEMINI_KEY} is not valid"))

    with pytest.raises(ProviderError) as caught:
        GeminiProvider().generate(request())

    assert GEMINI_KEY not in str(caught.value)
    assert "API key *** is not valid" in str(caught.value)


def test_a_slow_server_is_a_provider_timeout(gemini_server):
    gemini_server.enqueue(Reply.slow(5))

    with pytest.raises(ProviderTimeout) as caught:
        GeminiProvider().generate(request(timeout_seconds=0.3))

    assert caught.value.transient is True
    assert "within 0.3s" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"unexpected": True}, "no candidates"),
        ({"candidates": []}, "no candidates"),
        (b"this is not json", "malformed response from gemini"),
        (
            {"candidates": [{"content": {"parts": [], "role": "model"}, "finishReason": "OTHER"}]},
            "no text (finish reason OTHER)",
        ),
    ],
)
def test_a_malformed_response_is_a_permanent_error(gemini_server, body, expected):
    gemini_server.enqueue(Reply.malformed(body))

    with pytest.raises(ProviderError) as caught:
        GeminiProvider().generate(request())

    assert caught.value.transient is False
    assert "malformed response" in str(caught.value)
    assert expected in str(caught.value)


def test_an_unreachable_server_is_transient(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = GeminiProvider(api_key=GEMINI_KEY, base_url=f"http://127.0.0.1:{port}")

    with pytest.raises(ProviderError) as caught:
        provider.generate(request())

    assert caught.value.transient is True
    assert "could not be reached" in str(caught.value)


def test_it_refuses_to_start_without_an_api_key(no_gemini_key):
    with pytest.raises(ProviderError, match="GEMINI_API_KEY is not set"):
        GeminiProvider()
