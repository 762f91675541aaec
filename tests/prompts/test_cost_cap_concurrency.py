"""The hard cost cap under concurrency, on PostgreSQL: threads with their own connections run
try-its and workflow steps at once; spend never passes the cap by more than one call's maximum."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from engine.runtime import executor, queue
from engine.runtime.enrollment import enrollment_create
from prompts.generation import max_cost, prepare
from prompts.models import AiBudget
from prompts.providers import get_provider
from prompts.services import prompt_create, prompt_spec, prompt_try
from tests.cast import make_contact, make_published, make_tenant
from tests.fakes.gemini_server import Reply
from workflows.models import StepLog

pytestmark = [pytest.mark.postgres]

# A 4,200-character instruction: the model counts 1000 tokens of it and answers with 200, so a
# call costs 1000 × $0.30/M + 200 × $2.50/M = $0.0008 (the figure).
SYSTEM = "Plan. " * 700
CALL_COST = Decimal("0.000800")


def run_at_once(jobs) -> list[BaseException]:
    """Run every job in its own thread (and database connection), all released together."""
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def worker(job):
        try:
            start.wait()
            job()
        except BaseException as exc:  # surfaced by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def capped_prompt(cap: str):
    tenant = make_tenant(ai_monthly_cost_cap=Decimal(cap))
    prompt = prompt_create(
        tenant=tenant,
        name="plan",
        system_prompt_text=SYSTEM,
        generation_config={"max_output_tokens": 200},
    )
    one_call_max = max_cost(prepare(spec=prompt_spec(prompt), variables={}), get_provider("gemini"))
    return tenant, prompt, one_call_max


def spent(tenant) -> Decimal:
    return StepLog.objects.filter(tenant=tenant).aggregate(total=Sum("cost"))["total"] or 0


def answer(gemini_server, count: int) -> None:
    # Slow enough that every thread is in flight before the first answer comes back.
    gemini_server.enqueue(
        *[Reply.ok("plan", prompt_tokens=1000, output_tokens=200, delay=0.5)] * count
    )


def test_ten_concurrent_try_its_against_a_cap_just_above_one_call(
    require_postgres, transactional_db, gemini_server
):
    tenant, prompt, one_call_max = capped_prompt("0.0009")
    answer(gemini_server, 10)

    errors = run_at_once([lambda: prompt_try(prompt=prompt, variables={})] * 10)

    assert errors == []
    assert one_call_max < Decimal("0.002")
    # Before the cap held: 10 calls, $0.0080 against $0.0009. Now one call gets through.
    assert len(gemini_server.requests) == 1
    assert spent(tenant) == CALL_COST
    assert spent(tenant) <= tenant.ai_monthly_cost_cap + one_call_max
    refused = StepLog.objects.filter(tenant=tenant, status=StepLog.Status.FAILED)
    assert refused.count() == 9
    assert all(log.error_message.startswith("AI cost cap of $0.0009 for ") for log in refused)
    assert set(refused.values_list("model_name", flat=True)) == {""}
    budget = AiBudget.objects.get(tenant=tenant)
    assert (budget.spent, budget.reserved) == (CALL_COST, 0)


def test_concurrent_steps_and_try_its_share_the_cap(
    require_postgres, transactional_db, gemini_server
):
    tenant, prompt, one_call_max = capped_prompt("0.0025")
    definition = {"steps": [{"id": "ai", "type": "ai_prompt", "config": {"prompt": "plan"}}]}
    workflow = make_published(tenant, definition)
    sent: list[tuple[str, list]] = []
    with queue.use_dispatcher(lambda name, args: sent.append((name, list(args)))):
        for _ in range(5):
            enrollment_create(workflow=workflow, contact=make_contact(tenant))
    steps = [args for name, args in sent if name == queue.RUN_STEP]
    assert len(steps) == 5
    answer(gemini_server, 10)

    def step(args):
        return lambda: executor.step_run(enrollment_id=args[0], step_id=args[1], seq=args[2])

    jobs = [step(args) for args in steps]
    jobs += [lambda: prompt_try(prompt=prompt, variables={})] * 5
    errors = run_at_once(jobs)

    assert errors == []
    calls = len(gemini_server.requests)
    assert 1 <= calls < 10
    assert spent(tenant) == CALL_COST * calls
    assert spent(tenant) <= tenant.ai_monthly_cost_cap + one_call_max
    ai_logs = StepLog.objects.filter(tenant=tenant)
    assert ai_logs.count() == 10
    assert ai_logs.exclude(model_name="").count() == calls
    budget = AiBudget.objects.get(tenant=tenant)
    assert (budget.spent, budget.reserved) == (CALL_COST * calls, 0)
