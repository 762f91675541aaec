"""Per-tenant AI usage from the StepLog, and the monthly cost cap that stops AI steps."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from engine.effects.ai_ops import AiCallFailed, DryRunAi, LiveAi
from engine.runtime.enrollment import enrollment_create
from prompts.generation import PromptSpec
from prompts.selectors import (
    month_bounds,
    month_cost,
    usage_by_day,
    usage_by_prompt,
    usage_by_workflow,
)
from prompts.services import cost_cap_check, prompt_create, usd
from tests.cast import make_contact, make_published, make_tenant
from tests.fakes.gemini_server import Reply
from workflows.models import Enrollment, StepLog

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
SPEC = PromptSpec(name="hello", version=1, system_text="Say hello")


@pytest.fixture
def berlin():
    return make_tenant(timezone="Europe/Berlin")


def log(tenant, *, at, cost, tokens=(10, 5), model="gemini-2.5-flash", **fields):
    return StepLog.objects.create(
        tenant=tenant,
        step_id=fields.pop("step_id", "ai"),
        step_type="ai_prompt",
        status=StepLog.Status.SUCCEEDED,
        model_name=model,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost=Decimal(cost),
        started_at=at,
        **fields,
    )


def test_the_month_is_the_tenants_own_calendar_month(berlin):
    start, end = month_bounds(tenant=berlin, now=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
    assert (start.isoformat(), end.isoformat()) == (
        "2026-04-01T00:00:00+02:00",
        "2026-05-01T00:00:00+02:00",
    )
    december = month_bounds(tenant=berlin, now=datetime(2026, 12, 5, tzinfo=UTC))
    assert december[1].isoformat() == "2027-01-01T00:00:00+01:00"


def test_an_unknown_time_zone_counts_in_utc():
    tenant = make_tenant(timezone="Mars/Olympus")
    start, _ = month_bounds(tenant=tenant, now=NOW)
    assert start == datetime(2026, 3, 1, tzinfo=UTC)


def test_month_cost_sums_this_months_ai_calls_of_the_tenant_only(berlin):
    log(berlin, at=datetime(2026, 2, 28, 23, 30, tzinfo=UTC), cost="0.10")  # 1 March in Berlin
    log(berlin, at=datetime(2026, 3, 10, tzinfo=UTC), cost="0.25")
    log(berlin, at=datetime(2026, 2, 27, tzinfo=UTC), cost="9")  # last month
    log(berlin, at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC), cost="9")  # April in Berlin
    log(berlin, at=NOW, cost="9", model="")  # not an AI call
    log(make_tenant(), at=NOW, cost="9")
    assert month_cost(tenant=berlin, now=NOW) == Decimal("0.35")


def test_month_cost_is_zero_without_calls(berlin):
    assert month_cost(tenant=berlin, now=NOW) == 0


def test_usage_by_day_groups_tokens_and_cost_per_local_day(berlin):
    log(berlin, at=datetime(2026, 3, 9, 23, 30, tzinfo=UTC), cost="0.1", tokens=(100, 10))
    log(berlin, at=datetime(2026, 3, 10, 8, 0, tzinfo=UTC), cost="0.2", tokens=(200, 20))
    log(berlin, at=datetime(2026, 3, 11, 8, 0, tzinfo=UTC), cost="0.4", tokens=(1, 2))
    log(berlin, at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC), cost="5")  # before since
    rows = usage_by_day(tenant=berlin, since=date(2026, 3, 2))
    assert rows == [
        {
            "day": date(2026, 3, 10),
            "calls": 2,
            "input_tokens": 300,
            "output_tokens": 30,
            "thinking_tokens": 0,
            "cached_tokens": 0,
            "cost": Decimal("0.3"),
        },
        {
            "day": date(2026, 3, 11),
            "calls": 1,
            "input_tokens": 1,
            "output_tokens": 2,
            "thinking_tokens": 0,
            "cached_tokens": 0,
            "cost": Decimal("0.4"),
        },
    ]


def test_usage_by_workflow_and_by_prompt_put_the_dearest_first(tenant):
    cheap = make_published(tenant, {"name": "Cheap", "steps": []})
    dear = make_published(tenant, {"name": "Dear", "steps": []})
    prompt = prompt_create(tenant=tenant, name="plan", system_prompt_text="Plan")
    log(tenant, at=NOW, cost="0.1", workflow=cheap, prompt=prompt)
    log(tenant, at=NOW, cost="0.5", workflow=dear)
    log(tenant, at=NOW, cost="0.3", workflow=dear, prompt=prompt)
    log(tenant, at=NOW, cost="0.05", prompt=prompt, step_id="try_it")

    by_workflow = usage_by_workflow(tenant=tenant, since=NOW)
    assert [(r["workflow__name"], r["calls"], r["cost"]) for r in by_workflow] == [
        ("Dear", 2, Decimal("0.8")),
        ("Cheap", 1, Decimal("0.1")),
        (None, 1, Decimal("0.05")),
    ]
    by_prompt = usage_by_prompt(tenant=tenant, since=NOW)
    assert [(r["prompt__name"], r["prompt__version"], r["cost"]) for r in by_prompt] == [
        (None, None, Decimal("0.5")),
        ("plan", 1, Decimal("0.45")),
    ]


def test_usd_shows_cents_or_every_digit_below_a_cent():
    assert (usd(Decimal("5")), usd(Decimal("0.0015")), usd(Decimal("2.500"))) == (
        "$5.00",
        "$0.0015",
        "$2.50",
    )


def test_no_cap_means_no_limit(tenant):
    log(tenant, at=NOW, cost="1000")
    cost_cap_check(tenant_id=tenant.pk, now=NOW)


@time_machine.travel(NOW, tick=True)
def test_a_reached_cap_fails_the_ai_step_for_good_without_calling_the_model(
    gemini_server, inline_queue
):
    tenant = make_tenant(ai_monthly_cost_cap=Decimal("0.0010"))
    log(tenant, at=NOW, cost="0.0015")
    workflow = make_published(
        tenant, {"steps": [{"id": "ai", "type": "ask_ai", "config": {"prompt": "Hi"}}]}
    )
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    inline_queue.drain()

    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    assert enrollment.error == (
        "step 'ai' failed: AI cost cap of $0.001 for March 2026 reached ($0.0015 spent)"
    )
    assert gemini_server.requests == []


@time_machine.travel(NOW, tick=True)
def test_spend_below_the_cap_or_from_last_month_does_not_stop_a_call(gemini_server):
    tenant = make_tenant(ai_monthly_cost_cap=Decimal("1.00"))
    log(tenant, at=NOW, cost="0.99")
    log(tenant, at=datetime(2026, 2, 20, tzinfo=UTC), cost="50")
    gemini_server.enqueue(Reply.ok("hi", prompt_tokens=1000, output_tokens=1000))
    outcome = LiveAi(tenant_id=tenant.pk).generate(spec=SPEC, variables={})
    assert outcome.text == "hi"
    assert outcome.cost == Decimal("0.0028")


def test_a_dry_run_uses_the_offline_provider_and_pays_nothing(tenant, gemini_server):
    outcome = DryRunAi(tenant_id=tenant.pk).generate(spec=SPEC, variables={})
    assert outcome.provider == "offline"
    assert outcome.cost == 0
    assert "[offline provider" in outcome.text
    assert gemini_server.requests == []


@time_machine.travel(NOW, tick=True)
def test_a_dry_run_asked_to_use_gemini_calls_it_but_respects_the_cap(gemini_server):
    tenant = make_tenant(ai_monthly_cost_cap=Decimal("1"))
    log(tenant, at=NOW, cost="0.9")
    # 1M prompt tokens: $0.30, which takes the month past the cap.
    gemini_server.enqueue(Reply.ok("live", prompt_tokens=10**6))
    assert (
        DryRunAi(tenant_id=tenant.pk, provider="gemini").generate(spec=SPEC, variables={}).text
        == "live"
    )
    with pytest.raises(AiCallFailed, match=r"AI cost cap of \$1\.00 for March 2026"):
        DryRunAi(tenant_id=tenant.pk, provider="gemini").generate(spec=SPEC, variables={})


def test_a_dry_run_names_a_provider_that_cannot_start(tenant, no_gemini_key):
    with pytest.raises(AiCallFailed, match="GEMINI_API_KEY is not set"):
        DryRunAi(tenant_id=tenant.pk, provider="gemini").generate(spec=SPEC, variables={})
