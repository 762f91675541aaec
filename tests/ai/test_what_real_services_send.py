"""What the real services send and the old fakes did not: thinking and cached tokens, answers cut
off at the token limit, safety blocks, keys echoed in error fields. Real SDKs, local wire fakes."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from prompts.generation import GenerationError, PromptSpec, generate
from prompts.providers.base import GenerationRequest, ProviderError
from prompts.providers.gemini import GeminiProvider
from prompts.providers.openai_compatible import OpenAICompatibleProvider
from tests.ai.conftest import GEMINI_KEY, OPENAI_KEY
from tests.fakes.gemini_server import Reply

SPEC = PromptSpec(name="plan", version=3, system_text="Write a plan.")
OPENAI_SPEC = PromptSpec(
    name="plan",
    version=3,
    system_text="Write a plan.",
    provider="openai_compatible",
    model="google/gemini-2.5-flash",
)


def request(**overrides) -> GenerationRequest:
    values = {"model": "gemini-2.5-flash", "system_text": "Plan.", "user_text": "Hi"}
    return GenerationRequest(**{**values, **overrides})


# 1. Every billed token is counted.


def test_gemini_thinking_tokens_are_billed_as_output(gemini_server):
    # The reply: 1000 prompt, 100 answer, 800 thinking on gemini-2.5-flash.
    gemini_server.enqueue(
        Reply.ok("plan", prompt_tokens=1000, output_tokens=100, thinking_tokens=800)
    )

    outcome = generate(spec=SPEC, variables={})

    assert (outcome.input_tokens, outcome.output_tokens) == (1000, 900)
    assert outcome.thinking_tokens == 800
    # 1000 × $0.30/M + 900 × $2.50/M (it was $0.000550: the thinking went unbilled)
    assert outcome.cost == Decimal("0.002550")


def test_gemini_cached_prompt_tokens_are_billed_at_the_cached_price(gemini_server):
    gemini_server.enqueue(
        Reply.ok("plan", prompt_tokens=10_000, output_tokens=0, cached_tokens=8000)
    )

    outcome = generate(spec=SPEC, variables={})

    assert (outcome.input_tokens, outcome.cached_tokens) == (10_000, 8000)
    # 2000 × $0.30/M + 8000 × $0.03/M
    assert outcome.cost == Decimal("0.000840")


def test_openai_reasoning_and_cached_tokens_are_read_from_the_usage_details(openai_server):
    openai_server.enqueue(
        Reply.ok(
            "plan", prompt_tokens=10_000, output_tokens=100, thinking_tokens=800, cached_tokens=8000
        )
    )

    outcome = generate(spec=OPENAI_SPEC, variables={})

    # completion_tokens already include reasoning: 900 output, 800 of them reasoning.
    assert (outcome.output_tokens, outcome.thinking_tokens, outcome.cached_tokens) == (
        900,
        800,
        8000,
    )
    # 2000 × 0.30 + 8000 × 0.03 + 900 × 2.50, per million
    assert outcome.cost == Decimal("0.003090")


# 2. A paid answer is never dropped.


def test_thinking_that_uses_up_the_token_limit_keeps_the_usage_and_says_so(gemini_server):
    gemini_server.enqueue(Reply.cut_off(prompt_tokens=1000, thinking_tokens=256))
    plan = PromptSpec(
        name="plan", version=3, system_text="Plan.", generation_config={"max_output_tokens": 256}
    )

    with pytest.raises(GenerationError) as caught:
        generate(spec=plan, variables={})

    message = str(caught.value)
    assert "cut the answer off at the token limit before any text" in message
    assert "max_output_tokens 256" in message
    assert "malformed" not in message
    assert caught.value.transient is False
    usage = caught.value.usage
    assert (usage["model"], usage["input_tokens"], usage["output_tokens"]) == (
        "gemini-2.5-flash",
        1000,
        256,
    )
    assert usage["thinking_tokens"] == 256
    assert usage["cost"] == Decimal("0.000940")


def test_openai_cut_off_by_length_keeps_the_usage(openai_server):
    openai_server.enqueue(Reply.cut_off(prompt_tokens=100, thinking_tokens=64))

    with pytest.raises(GenerationError) as caught:
        generate(spec=OPENAI_SPEC, variables={})

    assert "cut the answer off at the token limit" in str(caught.value)
    assert caught.value.usage["output_tokens"] == 64


def test_a_safety_blocked_prompt_says_it_was_blocked_and_why_and_keeps_the_usage(gemini_server):
    gemini_server.enqueue(Reply.blocked("SAFETY", prompt_tokens=40))

    with pytest.raises(GenerationError) as caught:
        generate(spec=SPEC, variables={})

    message = str(caught.value)
    assert "gemini blocked the prompt (SAFETY: HARM_CATEGORY_HARASSMENT)" in message
    assert "no candidates" not in message
    assert caught.value.usage["input_tokens"] == 40
    assert caught.value.usage["cost"] == Decimal("0.000012")


def test_a_withheld_answer_names_the_finish_reason(gemini_server):
    gemini_server.enqueue(Reply.filtered(prompt_tokens=40))

    with pytest.raises(ProviderError) as caught:
        GeminiProvider().generate(request())

    assert str(caught.value) == (
        "gemini withheld the answer (finish reason SAFETY: HARM_CATEGORY_HARASSMENT)"
    )
    assert caught.value.usage.input_tokens == 40


def test_openai_content_filter_is_reported_as_withheld(openai_server):
    openai_server.enqueue(Reply.blocked())

    with pytest.raises(ProviderError, match=r"withheld the answer \(finish reason content_filter"):
        OpenAICompatibleProvider().generate(request())


def test_a_partial_json_answer_cut_off_at_the_limit_says_so(gemini_server):
    gemini_server.enqueue(Reply.cut_off(text='{"plan": "run', prompt_tokens=10))

    with pytest.raises(GenerationError) as caught:
        generate(
            spec=PromptSpec(
                name="p", version=1, system_text="x", generation_config={"json_output": True}
            ),
            variables={},
        )

    assert "invalid JSON (the answer was cut off at the token limit)" in str(caught.value)
    assert caught.value.raw_text == '{"plan": "run'
    assert caught.value.usage["input_tokens"] == 10


# 7. Structured output is checked.

SCHEMA = {
    "type": "OBJECT",
    "properties": {"weeks": {"type": "INTEGER"}, "note": {"type": "STRING", "nullable": True}},
    "required": ["weeks"],
}


def test_json_that_does_not_match_the_response_schema_is_refused_with_usage(gemini_server):
    gemini_server.enqueue(Reply.json_text({"weeks": "eight"}, prompt_tokens=100, output_tokens=10))
    plan = PromptSpec(
        name="plan", version=3, system_text="x", generation_config={"response_schema": SCHEMA}
    )

    with pytest.raises(GenerationError) as caught:
        generate(spec=plan, variables={})

    assert str(caught.value) == (
        "prompt 'plan' v3: model's JSON does not match the response schema: "
        "at $.weeks: 'eight' is not of type 'integer'"
    )
    assert caught.value.raw_text == '{"weeks": "eight"}'
    assert caught.value.usage["output_tokens"] == 10
    assert caught.value.usage["cost"] == Decimal("0.000055")


def test_json_matching_a_gemini_style_schema_with_nullable_is_accepted(gemini_server):
    gemini_server.enqueue(Reply.json_text({"weeks": 8, "note": None}))
    plan = PromptSpec(
        name="plan", version=3, system_text="x", generation_config={"response_schema": SCHEMA}
    )

    assert generate(spec=plan, variables={}).parsed == {"weeks": 8, "note": None}


# 8. Secrets: a key echoed in any field of an error.


def logged_failure(call) -> ProviderError:
    """Run ``call``, which must fail, and log its error with the traceback as a worker would."""
    try:
        call()
    except ProviderError as exc:
        logging.getLogger("test").exception("provider failed")
        return exc
    raise AssertionError("the call did not fail")


def test_a_gemini_key_echoed_in_status_message_and_details_is_scrubbed_everywhere(
    gemini_server, caplog
):
    gemini_server.enqueue(Reply.error(400, "denied", echo=GEMINI_KEY))

    with caplog.at_level(logging.DEBUG):
        error = logged_failure(lambda: GeminiProvider().generate(request()))

    assert str(error) == "gemini returned 400 INVALID_ARGUMENT ***: denied ***"
    assert GEMINI_KEY not in json.dumps(error.details)
    assert error.details["error"]["details"][0]["metadata"]["key"] == "***"
    assert error.__cause__ is None
    assert GEMINI_KEY not in caplog.text


def test_an_openai_key_echoed_in_every_field_is_scrubbed_everywhere(openai_server, caplog):
    openai_server.enqueue(Reply.error(401, "bad key", echo=OPENAI_KEY))

    with caplog.at_level(logging.DEBUG):
        error = logged_failure(lambda: OpenAICompatibleProvider().generate(request()))

    assert OPENAI_KEY not in str(error)
    assert "openai_compatible returned 401" in str(error)
    assert OPENAI_KEY not in json.dumps(error.details)
    assert error.details["param"] == "***"
    assert OPENAI_KEY not in caplog.text


def test_keys_shaped_like_google_or_openai_keys_are_scrubbed_even_when_not_ours(gemini_server):
    stranger = "AIza" + "B" * 35
    gemini_server.enqueue(Reply.error(403, f"key {stranger} and sk-{'x' * 20} refused"))

    with pytest.raises(ProviderError) as caught:
        GeminiProvider().generate(request())

    assert str(caught.value) == "gemini returned 403 PERMISSION_DENIED: key *** and *** refused"
