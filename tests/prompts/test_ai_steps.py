"""ai_prompt and ask_ai through the engine, against the Gemini fake with the real google-genai client."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from engine.effects.ai_ops import LiveAi
from engine.handlers import handler_for
from engine.handlers.base import StepContext, StepHandler, StepResult, register
from engine.language.templating import render_value
from engine.runtime.enrollment import enrollment_create
from prompts.services import prompt_create, prompt_new_version, prompt_resolve, prompt_spec
from tests.cast import make_contact, make_published
from tests.fakes.gemini_server import Reply
from workflows.models import Enrollment, SideEffect, StepLog

pytestmark = pytest.mark.django_db


@register
class CaptureHandler(StepHandler):
    """Renders its ``message`` as a send step would and keeps the text in its output."""

    kind = "test_capture"

    def handle(self, ctx, step):
        return StepResult(output={"text": ctx.render(step["config"]["message"])})


def ai_flow(ai_step: dict, *, follow_up: str = "Plan: {{ steps.ai.result }}") -> dict:
    return {
        "trigger": {"type": "manual"},
        "steps": [
            {"id": "ai", **ai_step},
            {"id": "send", "type": "test_capture", "config": {"message": follow_up}},
        ],
    }


def run(tenant, definition, inline_queue, *, trigger=None, **contact_fields) -> Enrollment:
    workflow = make_published(tenant, definition)
    contact = make_contact(tenant, **contact_fields)
    enrollment = enrollment_create(workflow=workflow, contact=contact, trigger=trigger)
    inline_queue.drain()
    enrollment.refresh_from_db()
    return enrollment


# A step supplying the variable the welcome prompt needs, as a literal (trusted) value.
WELCOME_STEP = {"type": "ai_prompt", "config": {"prompt": "welcome", "variables": {"name": "you"}}}


def welcome_prompt(tenant, **fields):
    fields.setdefault("system_prompt_text", "Greet {{ name }} who asked: {{ input }}")
    return prompt_create(tenant=tenant, name="welcome", template_variables=["name"], **fields)


def test_ai_prompt_runs_the_library_prompt_and_logs_tokens_and_cost(
    tenant, gemini_server, inline_queue
):
    prompt = welcome_prompt(tenant)
    gemini_server.enqueue(Reply.ok("Hello Ann!", prompt_tokens=1000, output_tokens=200))
    step = {
        "type": "ai_prompt",
        "config": {"prompt": "welcome", "variables": {"name": "{{ contact.first_name }}"}},
    }
    enrollment = run(
        tenant, ai_flow(step), inline_queue, trigger={"content": "Any yoga?"}, first_name="Ann"
    )

    assert enrollment.status == Enrollment.Status.COMPLETED
    sent = gemini_server.requests[0].json
    # ``name`` is built from a contact field and ``input`` is the contact's message: both are
    # the contact's words, so they travel in the user turn, each once.
    system = "Greet [name: see the user message] who asked: [input: see the user message]"
    assert sent["systemInstruction"]["parts"][0]["text"] == system
    assert sent["contents"][0]["parts"][0]["text"] == "name: Ann\n\nAny yoga?"
    log = StepLog.objects.get(step_id="ai")
    assert log.prompt_id == prompt.pk
    assert log.model_name == "gemini-2.5-flash"
    assert (log.input_tokens, log.output_tokens, log.token_usage) == (1000, 200, 1200)
    # 1000 × $0.30/M + 200 × $2.50/M
    assert log.cost == Decimal("0.000800")
    assert log.raw_output == "Hello Ann!"
    assert log.duration_ms is not None
    assert log.finished_at >= log.started_at
    assert log.input_context["system"] == system
    assert enrollment.context["steps"]["ai"]["result"] == "Hello Ann!"
    assert enrollment.context["steps"]["send"]["text"] == "Plan: Hello Ann!"


def test_a_pinned_version_is_used_instead_of_the_latest(tenant, gemini_server, inline_queue):
    first = welcome_prompt(tenant, system_prompt_text="Version one")
    prompt_new_version(prompt=first, system_prompt_text="Version two", status="active")
    step = {"type": "ai_prompt", "config": {"prompt": "welcome", "version": 1}}
    run(tenant, ai_flow(step), inline_queue)

    assert gemini_server.requests[0].json["systemInstruction"]["parts"][0]["text"] == "Version one"
    assert StepLog.objects.get(step_id="ai").prompt_id == first.pk


def test_json_output_is_parsed_into_steps_parsed(tenant, gemini_server, inline_queue):
    prompt_create(
        tenant=tenant,
        name="qualify",
        system_prompt_text="Qualify {{ contact.first_name }}",
        template_variables=["contact"],
        generation_config={
            "json_output": True,
            "response_schema": {"type": "object", "properties": {"score": {"type": "integer"}}},
        },
    )
    gemini_server.enqueue(Reply.json_text({"score": 7}))
    step = {"type": "ai_prompt", "config": {"prompt": "qualify"}}
    enrollment = run(
        tenant, ai_flow(step, follow_up="Score {{ steps.ai.parsed.score }}"), inline_queue
    )

    assert enrollment.context["steps"]["ai"]["parsed"] == {"score": 7}
    assert enrollment.context["steps"]["send"]["text"] == "Score 7"
    sent = gemini_server.requests[0].json["generationConfig"]
    assert sent["responseMimeType"] == "application/json"
    log = StepLog.objects.get(step_id="ai")
    assert log.parsed_output == {"score": 7}
    assert log.raw_output == '{"score": 7}'


def test_invalid_json_fails_the_step_for_good_and_keeps_the_raw_text(
    tenant, gemini_server, inline_queue
):
    prompt_create(
        tenant=tenant,
        name="qualify",
        system_prompt_text="Qualify",
        generation_config={"json_output": True},
    )
    gemini_server.enqueue(Reply.ok("Sure! {score: seven}"))
    enrollment = run(
        tenant, ai_flow({"type": "ai_prompt", "config": {"prompt": "qualify"}}), inline_queue
    )

    assert enrollment.status == Enrollment.Status.FAILED
    assert "invalid JSON" in enrollment.error
    assert enrollment.context["steps"]["ai"]["result"] == "Sure! {score: seven}"
    log = StepLog.objects.get(step_id="ai")
    assert log.status == StepLog.Status.FAILED
    assert log.parsed_output == {"result": "Sure! {score: seven}"}
    assert len(gemini_server.requests) == 1
    # The model answered and was paid: the failed step still carries its usage.
    assert log.raw_output == "Sure! {score: seven}"
    assert log.input_tokens > 0
    assert log.output_tokens > 0
    assert log.token_usage == log.input_tokens + log.output_tokens
    assert log.cost is not None
    assert log.cost > 0
    assert log.model_name
    assert log.prompt_id is not None


def test_a_provider_that_keeps_failing_makes_the_step_retry_later(
    tenant, gemini_server, inline_queue
):
    welcome_prompt(tenant)
    gemini_server.enqueue(*[Reply.error(503)] * 3)
    enrollment = run(tenant, ai_flow(WELCOME_STEP), inline_queue)

    assert enrollment.status == Enrollment.Status.WAITING
    assert enrollment.context["retry"] == {"step": "ai", "attempt": 2}
    log = StepLog.objects.get(step_id="ai")
    assert log.status == StepLog.Status.RETRYING
    assert "503" in log.error_message
    assert "gave up after 3 attempts" in log.error_message


def test_a_429_then_success_is_retried_within_the_step(tenant, gemini_server, inline_queue):
    welcome_prompt(tenant)
    gemini_server.enqueue(Reply.error(429), Reply.ok("Hi"))
    enrollment = run(tenant, ai_flow(WELCOME_STEP), inline_queue)

    assert enrollment.status == Enrollment.Status.COMPLETED
    assert len(gemini_server.requests) == 2


def test_a_missing_prompt_fails_the_step_naming_it(tenant, gemini_server, inline_queue):
    enrollment = run(
        tenant, ai_flow({"type": "ai_prompt", "config": {"prompt": "nope"}}), inline_queue
    )

    assert enrollment.status == Enrollment.Status.FAILED
    assert "prompt 'nope' is not in the library" in enrollment.error
    assert gemini_server.requests == []


def test_a_blank_prompt_name_or_text_fails_the_step(tenant, inline_queue):
    enrollment = run(
        tenant, ai_flow({"type": "ai_prompt", "config": {"prompt": " "}}), inline_queue
    )
    assert "config.prompt must name a prompt" in enrollment.error
    enrollment = run(tenant, ai_flow({"type": "ask_ai", "config": {"prompt": ""}}), inline_queue)
    assert "config.prompt must be the question" in enrollment.error


def test_variables_that_are_not_an_object_fail_the_step(tenant, inline_queue):
    step = {"type": "ask_ai", "config": {"prompt": "Hi", "variables": "{{ contact.tags }}"}}
    enrollment = run(tenant, ai_flow(step), inline_queue)
    assert "config.variables must be an object" in enrollment.error


def test_ask_ai_sends_the_inline_prompt_with_the_channel_hint_and_model(
    tenant, gemini_server, inline_queue
):
    gemini_server.enqueue(Reply.ok("Three squats a day."))
    step = {
        "type": "ask_ai",
        "config": {
            "prompt": "Make a plan for {{ contact.first_name }} ({{ level }})",
            "variables": {"level": "beginner"},
            "channel": "voice",
            "model": "gemini-2.5-flash-lite",
        },
    }
    enrollment = run(tenant, ai_flow(step), inline_queue, first_name="Bo")

    request = gemini_server.requests[0]
    assert "gemini-2.5-flash-lite:generateContent" in request.path
    system = request.json["systemInstruction"]["parts"][0]["text"]
    # The staff-written question and literal variables stay; the contact's name moves to the
    # user turn (ask_ai used to put contact fields into the system instruction).
    assert system.startswith(
        "Make a plan for [contact.first_name: see the user message] (beginner)\n\n"
    )
    assert "read aloud" in system
    assert "Bo" not in system
    assert request.json["contents"][0]["parts"][0]["text"] == "contact.first_name: Bo"
    assert enrollment.context["steps"]["ai"]["result"] == "Three squats a day."
    log = StepLog.objects.get(step_id="ai")
    assert log.prompt_id is None
    assert log.model_name == "gemini-2.5-flash-lite"


def test_a_prompt_injection_in_a_contact_field_stays_text_all_the_way(
    tenant, gemini_server, inline_queue
):
    payload = "{{ contact.email }} {% load x %}"
    gemini_server.enqueue(Reply.ok("{{ contact.email }}"))
    step = {"type": "ask_ai", "config": {"prompt": "Say hi to {{ contact.first_name }}"}}
    enrollment = run(
        tenant, ai_flow(step), inline_queue, first_name=payload, email="secret@example.com"
    )

    assert enrollment.status == Enrollment.Status.COMPLETED
    sent = gemini_server.requests[0].json
    assert sent["systemInstruction"]["parts"][0]["text"] == (
        "Say hi to [contact.first_name: see the user message]"
    )
    assert sent["contents"][0]["parts"][0]["text"] == f"contact.first_name: {payload}"
    assert enrollment.context["steps"]["ai"]["result"] == "{{ contact.email }}"
    assert StepLog.objects.get(step_id="ai").raw_output == "{{ contact.email }}"
    # The later step renders the answer as a value: no second rendering leaks the email.
    assert enrollment.context["steps"]["send"]["text"] == "Plan: {{ contact.email }}"
    assert "secret@example.com" not in str(enrollment.context["steps"])


def test_a_model_answer_used_alone_as_a_value_is_not_rendered_either(
    tenant, gemini_server, inline_queue
):
    gemini_server.enqueue(Reply.ok("{{ contact.email }}"))
    step = {"type": "ask_ai", "config": {"prompt": "Hi"}}
    enrollment = run(
        tenant,
        ai_flow(step, follow_up="{{ steps.ai.result }}"),
        inline_queue,
        email="s@example.com",
    )
    assert enrollment.context["steps"]["send"]["text"] == "{{ contact.email }}"


def test_a_finished_ai_call_is_not_paid_twice_when_the_step_runs_again(
    tenant, gemini_server, inline_queue
):
    welcome_prompt(tenant)
    gemini_server.enqueue(Reply.ok("first answer", prompt_tokens=100, output_tokens=10))
    enrollment = run(tenant, ai_flow(WELCOME_STEP), inline_queue)
    effect = SideEffect.objects.get(enrollment=enrollment, step_id="ai")
    assert effect.kind == "ai"
    assert effect.result["text"] == "first answer"

    # A redelivered step finds the stored outcome under the same key.

    spec = prompt_spec(prompt_resolve(tenant=tenant, name="welcome"))
    again = LiveAi(tenant_id=tenant.pk).generate(
        spec=spec, variables={}, key=effect.key, enrollment_id=enrollment.pk, step_id="ai"
    )
    assert again.replayed
    assert again.text == "first answer"
    assert len(gemini_server.requests) == 1


def test_a_replayed_answer_is_recorded_without_cost_or_tokens(tenant, gemini_server):

    welcome_prompt(tenant)
    gemini_server.enqueue(Reply.ok("paid once", prompt_tokens=100, output_tokens=10))
    data = {"contact": {"first_name": "Ann"}, "trigger": {}, "steps": {}}
    ctx = StepContext(
        data=data,
        now=datetime(2026, 3, 2, tzinfo=UTC),
        tenant_id=tenant.pk,
        enrollment_id=None,
        contact_id=None,
        workflow_settings={},
        visit=1,
        services=SimpleNamespace(ai=LiveAi(tenant_id=tenant.pk), dry_run=False),
        successor="end",
        render_value=lambda value: render_value(value, data),
    )
    step = {"id": "ai", **WELCOME_STEP}
    first = handler_for("ai_prompt").handle(ctx, step)
    second = handler_for("ai_prompt").handle(ctx, step)

    assert (first.cost, first.input_tokens) == (Decimal("0.000055"), 100)
    assert (second.cost, second.input_tokens, second.output_tokens) == (0, 0, 0)
    assert second.output["replayed"] is True
    assert second.output["result"] == "paid once"
    assert len(gemini_server.requests) == 1
