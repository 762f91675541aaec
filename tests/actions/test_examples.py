"""The sample workflows in examples/, imported and published as shipped, run on in-memory backends."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from crm.models import Message, Task
from engine.effects.channels import locmem
from engine.effects.email_tracking import make_token
from engine.runtime.enrollment import contact_recheck, enrollment_create
from engine.triggers import tracking
from tests.actions.conftest import START
from tests.cast import add_tag
from tests.fakes.http_server import Reply
from workflows.models import Enrollment
from workflows.services import workflow_import, workflow_publish

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def published(tenant, name: str, *, replace: tuple[str, str] | None = None):
    text = (EXAMPLES / name).read_text()
    if replace is not None:
        text = text.replace(*replace)
    imported = workflow_import(tenant=tenant, text=text)
    assert imported.result.ok, imported.result.errors
    workflow_publish(workflow=imported.workflow)
    imported.workflow.refresh_from_db()
    return imported.workflow


def enroll(workflow, contact, inline_queue, **kwargs) -> Enrollment:
    enrollment = enrollment_create(workflow=workflow, contact=contact, **kwargs)
    inline_queue.drain()
    enrollment.refresh_from_db()
    return enrollment


def test_after_hours_auto_reply_answers_on_whatsapp(tenant, contact, inline_queue):
    workflow = published(tenant, "studio-after-hours-auto-reply.json")
    enrollment = enroll(workflow, contact, inline_queue, trigger={"channel": "whatsapp", "hour": 7})
    assert enrollment.status == Enrollment.Status.COMPLETED
    [sent] = locmem.outbox
    assert (sent.channel, sent.to) == ("whatsapp", contact.phone)
    assert sent.body.startswith("Danke für deine Nachricht! Wir sind außerhalb der Geschäftszeiten")


def test_missed_call_follow_up_writes_on_whatsapp_five_minutes_later(
    tenant, contact, inline_queue, frozen
):
    workflow = published(tenant, "studio-missed-call-follow-up.json")
    enrollment = enroll(workflow, contact, inline_queue, trigger={"from": contact.phone})
    assert enrollment.status == Enrollment.Status.WAITING
    assert locmem.outbox == []
    frozen.shift(timedelta(minutes=4))
    inline_queue.tick()
    assert locmem.outbox == []
    frozen.shift(timedelta(minutes=1, seconds=1))
    inline_queue.tick()
    [sent] = locmem.outbox
    assert sent.channel == "whatsapp"
    assert sent.body == "Hallo! Ich habe gesehen, dass du angerufen hast. Wie kann ich dir helfen?"
    assert Message.objects.get().channel == "whatsapp"


def test_lead_qualification_calls_the_crm_webhook_and_schedules_a_follow_up(
    tenant, contact, inline_queue, http_server, frozen
):
    http_server.route("POST", "/api/leads", Reply(json={"qualified": "pending"}))
    # The only change: the CRM's URL points at a local stand-in allowed by the allow-list.
    workflow = published(
        tenant,
        "studio-lead-qualification-webhook.json",
        replace=("https://crm.example.com/api/leads", http_server.url("/api/leads")),
    )
    enrollment = enroll(workflow, contact, inline_queue, trigger={"leadId": "L-17"})
    assert enrollment.status == Enrollment.Status.COMPLETED
    [request] = http_server.requests
    assert request.json() == {"leadId": "L-17", "source": "pilar_systems"}
    assert request.headers["idempotency-key"] == f"enr{enrollment.pk}:webhook-1:1"
    task = Task.objects.get()
    assert task.title == "Follow-up: Neuer Lead qualifizieren"
    assert task.due_at == START + timedelta(days=1)
    assert task.contact_id == contact.pk


def test_lead_qualification_as_shipped_refuses_nothing_it_should_not(tenant, contact, inline_queue):
    workflow = published(tenant, "studio-lead-qualification-webhook.json")
    step = workflow.published_version.definition["steps"][0]
    assert step["type"] == "http_request"
    assert step["config"]["url"] == "https://crm.example.com/api/leads"


def test_training_plan_request_asks_the_ai_and_confirms_on_whatsapp(tenant, contact, inline_queue):
    workflow = published(tenant, "studio-training-plan-request.json")
    trigger = {"intent": "training_plan", "intent_confidence": 0.93, "content": "Plan für 5 km?"}
    enrollment = enroll(workflow, contact, inline_queue, trigger=trigger)
    assert enrollment.status == Enrollment.Status.COMPLETED, enrollment.error
    assert enrollment.context["steps"]["ai-1"]["result"]
    [sent] = locmem.outbox
    assert (sent.channel, sent.body) == (
        "whatsapp",
        "Dein personalisierter Trainingsplan wurde erstellt!",
    )


def nurture(tenant, contact, inline_queue, seed: str) -> Enrollment:
    workflow = published(tenant, "new-lead-nurture.yaml")
    return enroll(workflow, contact, inline_queue, seed=seed)


def test_nurture_sends_the_reminder_email_when_the_welcome_was_not_opened(
    tenant, contact, assets, inline_queue, frozen, mailoutbox
):
    enrollment = nurture(tenant, contact, inline_queue, seed="a")
    assert [m.subject for m in mailoutbox] == ["Welcome, Ann"]
    frozen.shift(timedelta(days=1, seconds=1))
    inline_queue.tick()
    assert [m.subject for m in mailoutbox] == ["Welcome, Ann", "Reminder"]
    assert not [m for m in locmem.outbox if getattr(m, "channel", "") == "sms"]
    enrollment.refresh_from_db()
    assert enrollment.context["steps"]["check_opened"] == {"result": False}


@pytest.mark.parametrize(("seed", "expected_variant"), [("a", "A"), ("b", "B")])
def test_nurture_follows_an_opened_welcome_with_an_sms_a_call_and_exits_on_booking(
    tenant, contact, assets, inline_queue, frozen, mailoutbox, seed, expected_variant
):
    enrollment = nurture(tenant, contact, inline_queue, seed=seed)
    key = f"enr{enrollment.pk}:welcome_email:1"
    assert tracking.record_open(token=make_token("open", {"k": key})) is True
    frozen.shift(timedelta(days=1, seconds=1))
    inline_queue.tick()
    enrollment.refresh_from_db()
    assert enrollment.context["steps"]["check_opened"] == {"result": True}
    texts = [m for m in locmem.outbox if getattr(m, "channel", "") == "sms"]
    assert [t.body for t in texts] == ["Hi Ann, did you get a chance to read our welcome email?"]
    # As written, the SMS step falls through to the reminder email (the validator warns).
    assert [m.subject for m in mailoutbox] == ["Welcome, Ann", "Reminder"]
    variant = enrollment.context["steps"]["ab_test"]["variant"]
    assert variant == expected_variant
    if variant == "B":  # wait two days, then call
        frozen.shift(timedelta(days=2, seconds=1))
        inline_queue.tick()
    calls = [m for m in locmem.outbox if hasattr(m, "voicemail_text")]
    assert [c.voicemail_text for c in calls] == ["Hi Ann, call us!"]
    add_tag(contact, "booked-appointment")
    contact_recheck(contact_id=contact.pk)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (Enrollment.Status.EXITED, "success")
