"""The OpenAI-compatible provider drives the real openai SDK against a local chat-completions server."""

from __future__ import annotations

import socket

import pytest

from prompts.providers.base import GenerationRequest, ProviderError, ProviderTimeout
from prompts.providers.openai_compatible import DEFAULT_BASE_URL, OpenAICompatibleProvider
from tests.ai.conftest import OPENAI_KEY
from tests.fakes.openai_server import Reply

SCHEMA = {"type": "object", "properties": {"intent": {"type": "string"}}, "required": ["intent"]}


def request(**overrides) -> GenerationRequest:
    values = {"model": "google/gemini-2.5-flash", "system_text": "Classify.", "user_text": "Hi"}
    return GenerationRequest(**{**values, **overrides})


def test_it_sends_system_and_user_messages_and_returns_text_and_tokens(openai_server):
    openai_server.enqueue(Reply.ok("greeting", prompt_tokens=30, output_tokens=2))

    response = OpenAICompatibleProvider().generate(
        request(temperature=0.1, max_output_tokens=64, top_p=0.5)
    )

    sent = openai_server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.json["messages"] == [
        {"role": "system", "content": "Classify."},
        {"role": "user", "content": "Hi"},
    ]
    assert (sent.json["temperature"], sent.json["max_tokens"], sent.json["top_p"]) == (0.1, 64, 0.5)
    assert "response_format" not in sent.json
    assert response.text == "greeting"
    assert (response.input_tokens, response.output_tokens) == (30, 2)
    assert (response.model, response.provider) == ("google/gemini-2.5-flash", "openai_compatible")


def test_it_asks_for_a_json_schema_when_the_prompt_has_one(openai_server):
    OpenAICompatibleProvider().generate(request(json_output=True, response_schema=SCHEMA))

    response_format = openai_server.requests[0].json["response_format"]
    assert response_format == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": SCHEMA},
    }


def test_it_asks_for_a_json_object_without_a_schema(openai_server):
    OpenAICompatibleProvider().generate(request(json_output=True, system_text="", user_text=""))

    sent = openai_server.requests[0].json
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["messages"] == [{"role": "user", "content": "Follow the instructions."}]


@pytest.mark.parametrize(("status", "transient"), [(429, True), (500, True), (400, False)])
def test_status_errors_are_transient_only_for_rate_limits_and_server_errors(
    openai_server, status, transient
):
    openai_server.enqueue(Reply.error(status, f"boom for {OPENAI_KEY}"))

    with pytest.raises(ProviderError) as caught:
        OpenAICompatibleProvider().generate(request())

    assert (caught.value.status, caught.value.transient) == (status, transient)
    assert OPENAI_KEY not in str(caught.value)
    assert len(openai_server.requests) == 1


@pytest.mark.parametrize(
    ("header", "expected"), [("3", 3.0), ("Wed, 21 Oct 2015 07:28:00 GMT", None)]
)
def test_a_retry_after_header_in_seconds_is_kept(openai_server, header, expected):
    openai_server.enqueue(Reply.error(429, headers={"Retry-After": header}))

    with pytest.raises(ProviderError) as caught:
        OpenAICompatibleProvider().generate(request())

    assert caught.value.retry_after == expected


def test_a_slow_server_is_a_provider_timeout(openai_server):
    openai_server.enqueue(Reply.slow(5))

    with pytest.raises(ProviderTimeout):
        OpenAICompatibleProvider().generate(request(timeout_seconds=0.3))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"unexpected": True}, "no choices"),
        (b"not json at all", "malformed response from openai_compatible"),
        (
            {"choices": [{"index": 0, "message": {"role": "assistant"}, "finish_reason": "stop"}]},
            "has no content",
        ),
    ],
)
def test_a_malformed_response_is_a_permanent_error(openai_server, body, expected):
    openai_server.enqueue(Reply.malformed(body))

    with pytest.raises(ProviderError) as caught:
        OpenAICompatibleProvider().generate(request())

    assert caught.value.transient is False
    assert expected in str(caught.value)


def test_an_unreachable_server_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = OpenAICompatibleProvider(api_key="k", base_url=f"http://127.0.0.1:{port}/v1")

    with pytest.raises(ProviderError) as caught:
        provider.generate(request())

    assert caught.value.transient is True


def test_it_defaults_to_openrouter(settings):
    settings.OPENAI_COMPATIBLE_API_KEY = "k"
    settings.OPENAI_COMPATIBLE_BASE_URL = ""

    assert OpenAICompatibleProvider().base_url == DEFAULT_BASE_URL == "https://openrouter.ai/api/v1"


def test_it_refuses_to_start_without_an_api_key(settings):
    settings.OPENAI_COMPATIBLE_API_KEY = ""

    with pytest.raises(ProviderError, match="OPENAI_COMPATIBLE_API_KEY is not set"):
        OpenAICompatibleProvider()
