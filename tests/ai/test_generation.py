"""The generation service end to end: rendering, the real SDKs against local fakes, retries, JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prompts.generation import (
    DEFAULT_MODEL,
    GenerationError,
    PromptSpec,
    generate,
    retry_delay,
)
from prompts.providers import GenerationRequest, ProviderResponse, ProviderTimeout
from tests.fakes.gemini_server import Reply

PLAN_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "weeks": {"type": "integer"}},
    "required": ["title", "weeks"],
}


def spec(**overrides) -> PromptSpec:
    values = {
        "name": "welcome",
        "version": 2,
        "system_text": "Write to {{ contact.first_name }} about {{ contact.custom_fields.goal }}.",
        "template_variables": ["contact"],
    }
    return PromptSpec(**{**values, **overrides})


CONTACT = {"contact": {"first_name": "Ana", "custom_fields": {"goal": "a 5k run"}}}
# The contact's fields never enter the system instruction: each reference points to the user
# turn, which carries the values.
SYSTEM_SENT = (
    "Write to [contact.first_name: see the user message] about "
    "[contact.custom_fields.goal: see the user message]."
)
FACTS = "contact.custom_fields.goal: a 5k run\ncontact.first_name: Ana"


def test_it_renders_the_prompt_calls_gemini_and_accounts_tokens_and_cost(gemini_server, sleeps):
    gemini_server.enqueue(Reply.ok("Hi Ana!", prompt_tokens=1000, output_tokens=200))

    outcome = generate(spec=spec(), variables=CONTACT, user_input="hello", sleep=sleeps)

    sent = gemini_server.requests[0].json
    assert sent["systemInstruction"]["parts"][0]["text"] == SYSTEM_SENT
    assert sent["contents"][0]["parts"][0]["text"] == f"{FACTS}\n\nhello"
    assert outcome.text == "Hi Ana!"
    assert outcome.parsed is None
    assert (outcome.input_tokens, outcome.output_tokens) == (1000, 200)
    # 1000 × 0.30/1M + 200 × 2.50/1M
    assert outcome.cost == Decimal("0.000800")
    assert (outcome.model, outcome.provider, outcome.attempts) == (DEFAULT_MODEL, "gemini", 1)
    assert outcome.rendered_system == SYSTEM_SENT
    assert outcome.rendered_user == f"{FACTS}\n\nhello"
    assert outcome.duration_ms >= 0
    assert outcome.raw["candidates"][0]["content"]["parts"][0]["text"] == "Hi Ana!"
    assert sleeps.delays == []


def test_it_passes_the_generation_config_through(gemini_server):
    config = {"temperature": 0.4, "maxOutputTokens": 100, "top_p": 0.8}

    generate(spec=spec(generation_config=config), variables=CONTACT)

    assert gemini_server.requests[0].json["generationConfig"] == {
        "temperature": 0.4,
        "maxOutputTokens": 100,
        "topP": 0.8,
    }


def test_json_output_is_parsed_and_fences_are_stripped(gemini_server):
    gemini_server.enqueue(Reply.ok('```json\n{"title": "Couch to 5k", "weeks": 8}\n```'))
    config = {"json_output": True, "response_schema": PLAN_SCHEMA}

    outcome = generate(spec=spec(generation_config=config), variables=CONTACT)

    assert outcome.parsed == {"title": "Couch to 5k", "weeks": 8}
    assert gemini_server.requests[0].json["generationConfig"]["responseMimeType"] == (
        "application/json"
    )


def test_invalid_json_is_a_permanent_error_that_keeps_the_raw_text(gemini_server, sleeps):
    gemini_server.enqueue(Reply.ok("Sure! Here is your plan: weeks=8"))

    with pytest.raises(GenerationError) as caught:
        generate(
            spec=spec(generation_config={"json_output": True}), variables=CONTACT, sleep=sleeps
        )

    assert "model returned invalid JSON" in str(caught.value)
    assert caught.value.raw_text == "Sure! Here is your plan: weeks=8"
    assert (caught.value.transient, caught.value.attempts) == (False, 1)
    assert sleeps.delays == []


def test_a_rate_limit_then_success_takes_two_attempts(gemini_server, sleeps):
    gemini_server.enqueue(Reply.error(429, retry_delay="2s"), Reply.ok("done"))

    outcome = generate(spec=spec(), variables=CONTACT, sleep=sleeps)

    assert (outcome.text, outcome.attempts) == ("done", 2)
    assert len(gemini_server.requests) == 2
    assert len(sleeps.delays) == 1
    assert 2.0 <= sleeps.delays[0] <= 30.0


def test_server_errors_are_retried_until_the_attempts_run_out(gemini_server, sleeps):
    gemini_server.enqueue(*[Reply.error(500)] * 3)

    with pytest.raises(GenerationError) as caught:
        generate(spec=spec(), variables=CONTACT, sleep=sleeps)

    assert (caught.value.transient, caught.value.attempts) == (True, 3)
    assert "gave up after 3 attempts" in str(caught.value)
    assert "gemini returned 500" in str(caught.value)
    assert len(gemini_server.requests) == 3
    assert len(sleeps.delays) == 2
    assert sleeps.delays[0] < sleeps.delays[1] or sleeps.delays[1] == 30.0


def test_a_timeout_is_retried_then_reported(gemini_server, sleeps):
    gemini_server.enqueue(Reply.slow(5), Reply.slow(5))
    config = {"timeout_seconds": 0.3}

    with pytest.raises(GenerationError) as caught:
        generate(
            spec=spec(generation_config=config), variables=CONTACT, max_attempts=2, sleep=sleeps
        )

    assert caught.value.transient is True
    assert caught.value.attempts == 2
    assert "did not answer within 0.3s" in str(caught.value)
    assert isinstance(caught.value.__cause__, ProviderTimeout)


def test_a_malformed_response_fails_at_once(gemini_server, sleeps):
    gemini_server.enqueue(Reply.malformed())

    with pytest.raises(GenerationError) as caught:
        generate(spec=spec(), variables=CONTACT, sleep=sleeps)

    assert (caught.value.transient, caught.value.attempts) == (False, 1)
    assert "malformed response from gemini" in str(caught.value)
    assert "prompt 'welcome' v2" in str(caught.value)
    assert sleeps.delays == []


def test_a_variable_carrying_template_syntax_reaches_the_model_as_text(gemini_server):
    payload = "{{ settings.SECRET_KEY }} {% load x %}"
    variables = {"contact": {"first_name": payload, "custom_fields": {"goal": "{% debug %}"}}}

    outcome = generate(
        spec=spec(user_template="Message from {{ contact.first_name }}"), variables=variables
    )

    sent = gemini_server.requests[0].json
    assert sent["systemInstruction"]["parts"][0]["text"] == SYSTEM_SENT
    assert sent["contents"][0]["parts"][0]["text"] == (
        f"contact.custom_fields.goal: {{% debug %}}\ncontact.first_name: {payload}\n\n"
        f"Message from {payload}"
    )
    assert outcome.rendered_system == SYSTEM_SENT


def test_model_output_with_template_syntax_is_returned_verbatim(gemini_server):
    evil = "{{ settings.SECRET_KEY }} {% load x %} http://169.254.169.254/"
    gemini_server.enqueue(Reply.ok(evil))

    outcome = generate(spec=spec(), variables=CONTACT)

    assert outcome.text == evil


def test_the_user_template_sees_the_user_input_as_a_variable(gemini_server):
    outcome = generate(
        spec=spec(user_template="{{ contact.first_name }} wrote: {{ input }}"),
        variables=CONTACT,
        user_input="{{ contact.first_name }}",
    )

    assert outcome.rendered_user == f"{FACTS}\n\nAna wrote: {{{{ contact.first_name }}}}"


def test_a_prompt_can_pick_the_openai_compatible_provider(openai_server, no_gemini_key):
    outcome = generate(spec=spec(provider="openai_compatible", model="x/model"), variables=CONTACT)

    assert outcome.provider == "openai_compatible"
    messages = openai_server.requests[0].json["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == SYSTEM_SENT
    assert messages[1]["content"].startswith(FACTS)


def test_without_a_key_it_runs_offline_at_no_cost(no_gemini_key):
    outcome = generate(spec=spec(), variables=CONTACT, user_input="hi")

    assert outcome.provider == "offline"
    assert outcome.text.startswith("[offline provider — no GEMINI_API_KEY set]")
    assert outcome.cost == Decimal("0.000000")
    assert outcome.input_tokens > 0


def test_offline_json_output_parses(no_gemini_key):
    config = {"responseMimeType": "application/json", "responseSchema": PLAN_SCHEMA}

    outcome = generate(spec=spec(generation_config=config), variables=CONTACT)

    assert outcome.parsed["weeks"] == 0
    assert set(outcome.parsed) == {"title", "weeks"}


def test_a_template_error_names_the_prompt_and_the_text():
    with pytest.raises(GenerationError) as caught:
        generate(spec=spec(system_text="{% load i18n %}"), variables={})

    assert str(caught.value).startswith("prompt 'welcome' v2: system text: ")
    assert caught.value.attempts == 0


def test_an_unknown_provider_is_a_permanent_error():
    with pytest.raises(GenerationError, match="unknown AI provider 'nope'") as caught:
        generate(spec=spec(provider="nope"), variables=CONTACT)

    assert caught.value.transient is False


def test_a_bad_generation_config_is_reported_before_any_call():
    with pytest.raises(GenerationError, match=r"unknown key\(s\) temp;"):
        generate(spec=spec(generation_config={"temp": 1}), variables=CONTACT)


class ScriptedProvider:
    """A provider defined in the test, for retry arithmetic without a network."""

    name = "scripted"

    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> ProviderResponse:
        self.requests.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_an_injected_provider_is_used_and_max_attempts_is_at_least_one(sleeps):
    provider = ScriptedProvider(ProviderTimeout("slow"))

    with pytest.raises(GenerationError) as caught:
        generate(spec=spec(), variables=CONTACT, provider=provider, max_attempts=0, sleep=sleeps)

    assert caught.value.attempts == 1
    assert provider.requests[0].system_text == SYSTEM_SENT


def test_retry_delays_grow_exponentially_with_jitter_and_are_capped(settings):
    settings.STUDIO_AI_RETRY_BASE_SECONDS = 1.0

    assert 1.0 <= retry_delay(1) <= 2.0
    assert 2.0 <= retry_delay(2) <= 3.0
    assert 4.0 <= retry_delay(3) <= 5.0
    assert retry_delay(10) == 30.0
    assert retry_delay(1, retry_after=12) == 12
    assert retry_delay(1, retry_after=600) == 30.0
