"""The training-plan workflows end to end: import, publish, enroll, drain, with real send steps."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from crm.demo import seed_prompts
from engine.effects.channels import locmem
from engine.runtime.enrollment import enrollment_create
from prompts.models import Prompt
from tests.cast import make_contact
from tests.fakes.gemini_server import Reply
from workflows.models import Enrollment, StepLog
from workflows.services import workflow_import, workflow_publish

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "studio-training-plan-request.json"


@pytest.fixture(autouse=True)
def locmem_channels(settings):
    settings.STUDIO_CHANNEL_BACKENDS = {"default": "engine.effects.channels.locmem.LocMemBackend"}
    locmem.reset()
    yield
    locmem.reset()


def publish(tenant, text: str):
    imported = workflow_import(tenant=tenant, text=text, format="json")
    assert imported.result.ok, imported.result.errors
    workflow_publish(workflow=imported.workflow)
    imported.workflow.refresh_from_db()
    return imported.workflow


def enroll_and_drain(workflow, contact, inline_queue, trigger) -> Enrollment:
    enrollment = enrollment_create(workflow=workflow, contact=contact, trigger=trigger)
    inline_queue.drain()
    enrollment.refresh_from_db()
    return enrollment


def test_the_training_plan_example_runs_on_the_offline_provider(
    tenant, inline_queue, no_gemini_key
):
    workflow = publish(tenant, EXAMPLE.read_text())
    contact = make_contact(tenant, first_name="Mia")
    trigger = {"intent": "training_plan", "confidence": 0.93, "content": "Ich will stärker werden"}
    enrollment = enroll_and_drain(workflow, contact, inline_queue, trigger)

    assert enrollment.status == Enrollment.Status.COMPLETED, enrollment.error
    ai_log = StepLog.objects.get(enrollment=enrollment, step_type="ask_ai")
    answer = enrollment.context["steps"][ai_log.step_id]["result"]
    assert answer.startswith("[offline provider")
    assert "Erstelle einen personalisierten Trainingsplan" in answer
    assert "user input: Ich will stärker werden" in answer
    assert ai_log.cost == Decimal("0")
    assert ai_log.input_tokens > 0
    assert [m.body for m in locmem.outbox] == [
        "Dein personalisierter Trainingsplan wurde erstellt!"
    ]
    assert locmem.outbox[0].channel == "whatsapp"


def test_generate_workout_plan_runs_the_seeded_library_prompt(tenant, inline_queue, no_gemini_key):
    seed_prompts(tenant=tenant)
    legacy = {
        "name": "Workout plan",
        "trigger": {"type": "manual"},
        "actions": [
            {"id": "plan", "type": "GENERATE_WORKOUT_PLAN", "config": {}, "nextActionId": "send"},
            {
                "id": "send",
                "type": "SEND_WHATSAPP",
                "config": {"message": "{{ steps.plan.result }}"},
                "nextActionId": None,
            },
        ],
    }
    workflow = publish(tenant, json.dumps(legacy))
    contact = make_contact(tenant, first_name="Jo", custom_fields={"goal": "a marathon"})
    enrollment = enroll_and_drain(workflow, contact, inline_queue, {"content": "Plan please"})

    assert enrollment.status == Enrollment.Status.COMPLETED, enrollment.error
    log = StepLog.objects.get(enrollment=enrollment, step_type="ai_prompt")
    assert log.prompt == Prompt.objects.get(tenant=tenant, name="generate_workout_plan")
    # The seeded prompt keeps the contact's words out of the system instruction, and sends the
    # request once (it used to be in both the system text and the user turn).
    assert "Jo" not in log.input_context["system"]
    assert "Plan please" not in log.input_context["system"]
    assert log.input_context["user"] == "Client: Jo\nGoal: a marathon\nRequest: Plan please"
    assert locmem.outbox[0].body == log.raw_output


def test_an_injected_answer_reaches_the_whatsapp_message_as_plain_text(
    tenant, inline_queue, gemini_server
):
    gemini_server.enqueue(Reply.ok("{{ contact.email }} {% load x %}"))
    definition = {
        "name": "Injection",
        "trigger": {"type": "manual"},
        "steps": [
            {"id": "ai", "type": "ask_ai", "config": {"prompt": "Hi {{ contact.first_name }}"}},
            {
                "id": "send",
                "type": "send_whatsapp",
                "config": {"message": "Your plan: {{ steps.ai.result }}"},
            },
        ],
    }
    workflow = publish(tenant, json.dumps(definition))
    contact = make_contact(tenant, first_name="{{ contact.email }}", email="secret@example.com")
    enrollment = enroll_and_drain(workflow, contact, inline_queue, {})

    assert enrollment.status == Enrollment.Status.COMPLETED, enrollment.error
    sent = gemini_server.requests[0].json
    assert sent["systemInstruction"]["parts"][0]["text"] == (
        "Hi [contact.first_name: see the user message]"
    )
    assert sent["contents"][0]["parts"][0]["text"] == "contact.first_name: {{ contact.email }}"
    assert "secret@example.com" not in json.dumps(sent)
    assert locmem.outbox[0].body == "Your plan: {{ contact.email }} {% load x %}"
