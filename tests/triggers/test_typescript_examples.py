"""The TypeScript write-up's ten trigger types and eight condition types, imported through
workflow_import + workflow_publish and fired by real saves."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from crm.models import Booking, Call, EmailTemplate, Message, VoicemailDrop
from engine.triggers.schedule import schedule_run
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import enrolled, trigger_of
from workflows.models import Workflow
from workflows.services import workflow_import, workflow_publish

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Monday 2026-03-02, 20:00 UTC
EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


def publish(tenant, text: str | dict, trigger_queue) -> Workflow:
    text = text if isinstance(text, str) else json.dumps(text)
    workflow = workflow_import(tenant=tenant, text=text, format="json").workflow
    workflow_publish(workflow=workflow)
    trigger_queue.commit()
    workflow.refresh_from_db()
    return workflow


def legacy(trigger_type: str, conditions=(), config=None) -> dict:
    return {
        "name": f"TS {trigger_type} {len(conditions)}",
        "enabled": True,
        "trigger": {"type": trigger_type, "config": config or {}},
        "conditions": list(conditions),
        "actions": [{"id": "w", "type": "wait", "config": {"delay": 60000}, "nextActionId": None}],
    }


def inbound(contact, channel, **fields):
    return Message.objects.create(
        tenant_id=contact.tenant_id, contact=contact, channel=channel, direction="inbound", **fields
    )


FIRE = {
    "VOICE_CALL": lambda c: Call.objects.create(
        tenant_id=c.tenant_id, contact=c, direction="inbound", status="completed"
    ),
    "WHATSAPP_MESSAGE": lambda c: inbound(c, "whatsapp", body="Hi"),
    "EMAIL_RECEIVED": lambda c: inbound(c, "email", body="Hi"),
    "WEB_CHAT": lambda c: inbound(c, "webchat", body="Hi"),
    "SMS_RECEIVED": lambda c: inbound(c, "sms", body="Hi"),
    "INTENT_DETECTED": lambda c: inbound(c, "sms", intent="training_plan", intent_confidence=0.9),
    "MISSED_CALL": lambda c: Call.objects.create(
        tenant_id=c.tenant_id, contact=c, direction="inbound", status="missed"
    ),
    "BOOKING_CREATED": lambda c: Booking.objects.create(
        tenant_id=c.tenant_id, contact=c, title="Trial", starts_at=EVENING
    ),
}


@pytest.mark.parametrize("trigger_type", sorted(FIRE))
def test_each_event_trigger_type_of_the_write_up_enrolls_on_its_event(trigger_queue, trigger_type):
    tenant = make_tenant()
    config = {"intent": "training_plan"} if trigger_type == "INTENT_DETECTED" else {}
    workflow = publish(tenant, legacy(trigger_type, config=config), trigger_queue)
    contact = make_contact(tenant, stage="customer")
    trigger_queue.drain()

    FIRE[trigger_type](contact)
    trigger_queue.drain()

    assert enrolled(workflow) == [contact.pk]


def test_lead_created_of_the_write_up_enrolls_a_new_lead(trigger_queue):
    tenant = make_tenant()
    workflow = publish(tenant, legacy("LEAD_CREATED"), trigger_queue)

    lead = make_contact(tenant, stage="lead")
    trigger_queue.drain()

    assert enrolled(workflow) == [lead.pk]


def test_time_based_of_the_write_up_enrolls_through_its_schedule(trigger_queue):
    tenant = make_tenant()
    workflow = publish(
        tenant, legacy("TIME_BASED", config={"schedule": "0 9 * * 1"}), trigger_queue
    )
    contact = make_contact(tenant)

    assert schedule_run(workflow_id=workflow.pk) == 1
    assert enrolled(workflow) == [contact.pk]


CONDITIONS = [
    # (condition, the message that passes, the message that does not)
    (
        {"type": "keyword_match", "operator": "contains", "value": "Trainingsplan"},
        {"body": "Bitte einen Trainingsplan"},
        {"body": "Hallo"},
    ),
    (
        {"type": "intent_match", "operator": "in", "value": ["training_plan", "booking"]},
        {"intent": "booking"},
        {"intent": "cancel"},
    ),
    (
        {"type": "sender_match", "operator": "equals", "value": "+4930999"},
        {"from_address": "+4930999"},
        {"from_address": "+4930000"},
    ),
    (
        {"type": "time_range", "operator": "greater_than", "value": 18},
        {"at": EVENING},
        {"at": EVENING.replace(hour=10)},
    ),
    (
        {"type": "day_of_week", "operator": "equals", "value": 1},
        {"at": EVENING},
        {"at": EVENING.replace(day=3)},
    ),
    (
        {"type": "confidence_threshold", "operator": "greater_than", "value": 0.8},
        {"intent": "x", "intent_confidence": 0.95},
        {"intent": "x", "intent_confidence": 0.5},
    ),
    (
        {"type": "channel_match", "operator": "in", "value": ["sms", "email"]},
        {"channel": "email"},
        {"channel": "webchat"},
    ),
    (
        {"type": "custom_field", "field": "plan", "operator": "equals", "value": "gold"},
        {"plan": "gold"},
        {"plan": "silver"},
    ),
]


@pytest.mark.parametrize(
    ("condition", "passes", "fails"), CONDITIONS, ids=[c[0]["type"] for c in CONDITIONS]
)
def test_each_condition_type_of_the_write_up_filters_real_messages(
    trigger_queue, condition, passes, fails
):
    tenant = make_tenant()
    workflow = publish(tenant, legacy("message_received", [condition]), trigger_queue)
    outcomes = {}
    for label, fields in (("passes", dict(passes)), ("fails", dict(fails))):
        contact = make_contact(tenant, custom_fields={"plan": fields.pop("plan", "none")})
        at = fields.pop("at", EVENING)
        channel = fields.pop("channel", "sms")
        with time_machine.travel(at, tick=False):
            inbound(contact, channel, **fields)
            trigger_queue.drain()
        outcomes[label] = contact.pk

    assert enrolled(workflow) == [outcomes["passes"]]


def test_the_missed_call_example_enrolls_on_a_missed_call(trigger_queue):
    tenant = make_tenant()
    workflow = publish(
        tenant, (EXAMPLES / "studio-missed-call-follow-up.json").read_text(), trigger_queue
    )
    contact = make_contact(tenant)

    Call.objects.create(tenant=tenant, contact=contact, direction="inbound", status="missed")
    trigger_queue.drain()

    assert enrolled(workflow) == [contact.pk]


def test_the_training_plan_example_needs_the_intent_and_high_confidence(trigger_queue):
    tenant = make_tenant()
    workflow = publish(
        tenant, (EXAMPLES / "studio-training-plan-request.json").read_text(), trigger_queue
    )
    sure, unsure = make_contact(tenant), make_contact(tenant)

    inbound(sure, "whatsapp", body="Trainingsplan?", intent="training_plan", intent_confidence=0.93)
    inbound(
        unsure, "whatsapp", body="Trainingsplan?", intent="training_plan", intent_confidence=0.6
    )
    trigger_queue.drain()

    assert enrolled(workflow) == [sure.pk]


def test_the_after_hours_example_answers_only_before_nine(trigger_queue):
    tenant = make_tenant()
    workflow = publish(
        tenant, (EXAMPLES / "studio-after-hours-auto-reply.json").read_text(), trigger_queue
    )
    early, late = make_contact(tenant), make_contact(tenant)

    with time_machine.travel(datetime(2026, 3, 2, 7, 30, tzinfo=UTC), tick=False):
        inbound(early, "whatsapp", body="Hallo")
        trigger_queue.drain()
    with time_machine.travel(datetime(2026, 3, 2, 12, 0, tzinfo=UTC), tick=False):
        inbound(late, "whatsapp", body="Hallo")
        trigger_queue.drain()

    assert enrolled(workflow) == [early.pk]
    assert trigger_of(workflow, early)["hour"] == 7


def test_the_lead_qualification_example_passes_the_lead_id(trigger_queue):
    tenant = make_tenant()
    workflow = publish(
        tenant, (EXAMPLES / "studio-lead-qualification-webhook.json").read_text(), trigger_queue
    )

    lead = make_contact(tenant, stage="lead")
    trigger_queue.drain()

    assert trigger_of(workflow, lead)["leadId"] == lead.pk


def test_the_nurture_example_enrolls_new_contacts_tagged_new_lead(trigger_queue):
    from django.db import transaction

    tenant = make_tenant()
    EmailTemplate.objects.create(
        tenant=tenant, slug="welcome", name="Welcome", subject="Hi", body_text="Hi"
    )
    EmailTemplate.objects.create(
        tenant=tenant, slug="reminder", name="Reminder", subject="Hi", body_text="Hi"
    )
    VoicemailDrop.objects.create(tenant=tenant, slug="intro", name="Intro", transcript="Hi")
    text = (EXAMPLES / "new-lead-nurture.yaml").read_text()
    workflow = workflow_import(tenant=tenant, text=text, format="yaml").workflow
    workflow_publish(workflow=workflow)
    trigger_queue.commit()

    with transaction.atomic():
        tagged = make_contact(tenant, tags=["new-lead"])
        make_contact(tenant, tags=["old-lead"])
    trigger_queue.drain()

    assert enrolled(workflow) == [tagged.pk]
