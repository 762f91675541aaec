"""One accounting path for steps and try-it: thinking and cached tokens, paid but unusable answers,
schema mismatches and unpriceable answers are all recorded on the StepLog the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from engine.runtime.enrollment import enrollment_create
from prompts.selectors import usage_by_day
from prompts.services import prompt_create, prompt_try
from tests.cast import make_contact, make_published, make_tenant
from tests.fakes.gemini_server import Reply
from workflows.models import Enrollment, StepLog

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
SCHEMA = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}


def step_run(tenant, inline_queue, prompt_name: str) -> tuple[Enrollment, StepLog]:
    definition = {"steps": [{"id": "ai", "type": "ai_prompt", "config": {"prompt": prompt_name}}]}
    enrollment = enrollment_create(
        workflow=make_published(tenant, definition), contact=make_contact(tenant)
    )
    inline_queue.drain()
    enrollment.refresh_from_db()
    return enrollment, StepLog.objects.get(enrollment=enrollment, step_id="ai")


def billed(log: StepLog) -> tuple:
    return (
        log.model_name,
        log.input_tokens,
        log.output_tokens,
        log.thinking_tokens,
        log.cached_tokens,
        log.token_usage,
        log.cost,
    )


# Thinking (billed as output) and cached (billed at the cached price) tokens, in their own columns.
THINKING_REPLY = {
    "prompt_tokens": 1000,
    "output_tokens": 100,
    "thinking_tokens": 800,
    "cached_tokens": 0,
}
THINKING_BILL = ("gemini-2.5-flash", 1000, 900, 800, 0, 1900, Decimal("0.002550"))


def test_a_step_records_thinking_tokens_as_output_and_on_their_own(
    tenant, gemini_server, inline_queue
):
    prompt_create(tenant=tenant, name="plan", system_prompt_text="Plan.")
    gemini_server.enqueue(Reply.ok("plan", **THINKING_REPLY))

    enrollment, log = step_run(tenant, inline_queue, "plan")

    assert enrollment.status == Enrollment.Status.COMPLETED
    assert billed(log) == THINKING_BILL
    assert enrollment.context["steps"]["ai"]["thinking_tokens"] == 800


def test_try_it_records_thinking_and_cached_tokens_the_same_way(tenant, gemini_server):
    prompt = prompt_create(tenant=tenant, name="plan", system_prompt_text="Plan.")
    gemini_server.enqueue(Reply.ok("plan", **THINKING_REPLY))
    assert billed(prompt_try(prompt=prompt, variables={})) == THINKING_BILL

    gemini_server.enqueue(
        Reply.ok("plan", prompt_tokens=10_000, output_tokens=0, cached_tokens=8000)
    )
    log = prompt_try(prompt=prompt, variables={})
    # 2000 × $0.30/M + 8000 × $0.03/M
    assert billed(log) == ("gemini-2.5-flash", 10_000, 0, 0, 8000, 10_000, Decimal("0.000840"))


def test_a_step_cut_off_by_thinking_keeps_model_tokens_and_cost(
    tenant, gemini_server, inline_queue
):
    prompt_create(
        tenant=tenant,
        name="plan",
        system_prompt_text="Plan.",
        generation_config={"max_output_tokens": 800},
    )
    gemini_server.enqueue(Reply.cut_off(prompt_tokens=1000, thinking_tokens=800))

    enrollment, log = step_run(tenant, inline_queue, "plan")

    assert enrollment.status == Enrollment.Status.FAILED
    assert "cut the answer off at the token limit" in log.error_message
    assert "malformed" not in log.error_message
    assert billed(log) == ("gemini-2.5-flash", 1000, 800, 800, 0, 1800, Decimal("0.002300"))


def test_a_safety_blocked_step_says_why_and_keeps_the_usage(tenant, gemini_server, inline_queue):
    prompt_create(tenant=tenant, name="plan", system_prompt_text="Plan.")
    gemini_server.enqueue(Reply.blocked(prompt_tokens=100))

    enrollment, log = step_run(tenant, inline_queue, "plan")

    assert "gemini blocked the prompt (SAFETY" in enrollment.error
    assert billed(log) == ("gemini-2.5-flash", 100, 0, 0, 0, 100, Decimal("0.000030"))


def test_try_it_keeps_the_usage_of_invalid_json_like_a_step_does(tenant, gemini_server):
    prompt = prompt_create(
        tenant=tenant,
        name="qualify",
        system_prompt_text="Qualify.",
        generation_config={"json_output": True},
    )
    gemini_server.enqueue(Reply.ok("not json", prompt_tokens=1000, output_tokens=100))

    log = prompt_try(prompt=prompt, variables={})

    assert log.status == StepLog.Status.FAILED
    assert "invalid JSON" in log.error_message
    assert log.raw_output == "not json"
    assert billed(log) == ("gemini-2.5-flash", 1000, 100, 0, 0, 1100, Decimal("0.000550"))


def test_a_step_whose_json_breaks_the_response_schema_fails_with_usage_and_raw_text(
    tenant, gemini_server, inline_queue
):
    prompt_create(
        tenant=tenant,
        name="qualify",
        system_prompt_text="Qualify.",
        generation_config={"response_schema": SCHEMA},
    )
    gemini_server.enqueue(Reply.json_text({"score": "high"}, prompt_tokens=1000, output_tokens=100))

    enrollment, log = step_run(tenant, inline_queue, "qualify")

    assert enrollment.status == Enrollment.Status.FAILED
    assert log.error_message == (
        "prompt 'qualify' v1: model's JSON does not match the response schema: "
        "at $.score: 'high' is not of type 'integer'"
    )
    assert log.raw_output == '{"score": "high"}'
    assert enrollment.context["steps"]["ai"]["result"] == '{"score": "high"}'
    assert billed(log)[6] == Decimal("0.000550")


def test_try_it_refuses_a_schema_mismatch_too(tenant, gemini_server):
    prompt = prompt_create(
        tenant=tenant,
        name="qualify",
        system_prompt_text="Qualify.",
        generation_config={"response_schema": SCHEMA},
    )
    gemini_server.enqueue(Reply.json_text({"points": 3}))

    log = prompt_try(prompt=prompt, variables={})

    assert log.status == StepLog.Status.FAILED
    assert "at $: 'score' is a required property" in log.error_message
    assert log.parsed_output is None


@time_machine.travel(NOW, tick=True)
def test_a_try_it_stopped_by_the_cap_is_not_counted_as_a_call(gemini_server):
    tenant = make_tenant(ai_monthly_cost_cap=Decimal("0"))
    prompt = prompt_create(tenant=tenant, name="plan", system_prompt_text="Plan.")

    log = prompt_try(prompt=prompt, variables={})

    assert log.status == StepLog.Status.FAILED
    assert log.model_name == ""
    assert gemini_server.requests == []
    assert usage_by_day(tenant=tenant, since=NOW.date()) == []


@time_machine.travel(NOW, tick=True)
def test_a_try_it_with_a_price_typo_fails_cleanly_before_any_call(tenant, gemini_server, settings):
    settings.STUDIO_AI_PRICES = {"gemini-2.5-flash": {"input": "0.30", "ouput": "2.50"}}
    prompt = prompt_create(tenant=tenant, name="plan", system_prompt_text="Plan.")

    log = prompt_try(prompt=prompt, variables={})

    assert log.status == StepLog.Status.FAILED
    assert "STUDIO_AI_PRICES['gemini-2.5-flash']: unknown key(s) ouput" in log.error_message
    assert gemini_server.requests == []


def test_a_step_with_a_price_typo_fails_cleanly_before_any_call(
    tenant, gemini_server, inline_queue, settings
):
    settings.STUDIO_AI_PRICES = {"gemini-2.5-flash": "0.30"}
    prompt_create(tenant=tenant, name="plan", system_prompt_text="Plan.")

    enrollment, log = step_run(tenant, inline_queue, "plan")

    assert enrollment.status == Enrollment.Status.FAILED
    assert "STUDIO_AI_PRICES['gemini-2.5-flash'] must be" in log.error_message
    assert gemini_server.requests == []


def test_the_try_prompt_command_shows_thinking_and_cached_tokens(tenant, gemini_server):
    prompt_create(tenant=tenant, name="plan", system_prompt_text="Plan.")
    gemini_server.enqueue(
        Reply.ok(
            "plan", prompt_tokens=1000, output_tokens=100, thinking_tokens=800, cached_tokens=600
        )
    )
    err = StringIO()

    call_command("try_prompt", "plan", tenant=tenant.slug, stdout=StringIO(), stderr=err)

    assert "1000 in (600 cached) / 900 out (800 thinking)" in err.getvalue()
