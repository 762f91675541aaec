"""Every action behaves the same on the dry-run twin, and nothing reaches the world or the DB."""

from __future__ import annotations

import pytest

from crm.models import Booking, Call, Contact, ContactTag, Message, Task
from engine.dryrun.run import dry_run
from engine.effects.channels import locmem
from engine.effects.dry_services import DryRunServices
from tests.actions.conftest import START
from workflows.models import SideEffect

pytestmark = pytest.mark.django_db

SAMPLE = {
    "id": 42,
    "first_name": "Sam",
    "email": "sam@example.com",
    "phone": "+4930100",
    "tags": ["cold"],
}

STEPS = [
    {"id": "sms", "type": "send_sms", "config": {"message": "Hi {{contact.first_name}}"}},
    {"id": "wa", "type": "send_whatsapp", "config": {"message": "Hallo"}},
    {"id": "any", "type": "send_message", "config": {"message": "Chat", "channel": "webchat"}},
    {"id": "mail", "type": "send_email", "config": {"template_id": "{{templates.welcome}}"}},
    {"id": "ring", "type": "make_call", "config": {"voicemail_drop_id": "{{voicemails.intro}}"}},
    {
        "id": "hook",
        "type": "http_request",
        "config": {
            "url": "https://hooks.example.com/in?token=abc",
            "headers": {"Authorization": "Bearer secret"},
            "body": {"who": "{{contact.email}}"},
        },
    },
    {"id": "tag", "type": "add_tag", "config": {"tag": "warm"}},
    {"id": "untag", "type": "remove_tag", "config": {"tag": "cold"}},
    {
        "id": "upd",
        "type": "update_contact",
        "config": {
            "fields": {"custom_fields.goal": "run", "sms_opt_out": True, "stage": "customer"}
        },
    },
    {"id": "lead", "type": "create_lead", "config": {"name": "Bo", "email": "bo@example.com"}},
    {"id": "same", "type": "create_lead", "config": {"name": "Sam", "email": "SAM@example.com"}},
    {
        "id": "ul",
        "type": "update_lead",
        "config": {"lead_id": "{{contact.id}}", "updates": {"source": "ads"}},
    },
    {"id": "ul2", "type": "update_lead", "config": {"lead_id": "7", "updates": {"source": "ads"}}},
    {"id": "task", "type": "schedule_follow_up", "config": {"delay": "1d", "message": "Call Sam"}},
    {"id": "rec", "type": "create_record", "config": {"model": "task", "fields": {"title": "T"}}},
    {
        "id": "rec2",
        "type": "update_record",
        "config": {"model": "task", "record_id": 5, "fields": {"status": "done"}},
    },
    {"id": "again", "type": "send_sms", "config": {"message": "Still there?"}},
]


def counts() -> dict[str, int]:
    models = (Message, Call, Task, Booking, ContactTag, SideEffect, Contact)
    return {m.__name__: m.objects.count() for m in models}


def test_a_dry_run_renders_everything_and_touches_nothing(tenant, assets, mailoutbox, http_server):
    before = counts()
    report = dry_run(
        definition={"name": "All", "steps": STEPS}, contact=SAMPLE, start=START, tenant_id=tenant.pk
    )
    assert report.status == "completed", report.error
    assert counts() == before
    assert locmem.outbox == []
    assert mailoutbox == []
    assert http_server.requests == []

    sent = {item["step_id"]: item for item in report.outbox}
    assert sent["sms"]["body"] == "Hi Sam"
    assert sent["sms"]["to"] == "+4930100"
    assert sent["any"]["to"] == "42"  # web chat answers the contact
    assert sent["mail"]["subject"] == "Welcome, Sam"
    assert sent["ring"]["body"] == "Hi Sam, call us!"
    assert sent["hook"]["headers"] == {"Authorization": "[redacted]"}
    assert sent["hook"]["url"] == "https://hooks.example.com/in?token=[redacted]"
    assert sent["hook"]["body"] == {"who": "sam@example.com"}
    assert "again" not in sent  # update_contact opted the sample out of SMS

    outputs = {step["id"]: step["output"] for step in report.steps}
    assert outputs["sms"]["status"] == "simulated"
    assert outputs["sms"]["message_id"].startswith("dry-")
    assert outputs["hook"]["status"] == 200
    assert outputs["same"] == {"lead_id": 42, "created": False}
    assert outputs["lead"]["created"] is True
    assert outputs["again"] == {"skipped": True, "reason": "contact opted out of sms"}
    assert report.contact["tags"] == ["warm"]
    assert report.contact["custom_fields"] == {"goal": "run"}
    assert report.contact["stage"] == "customer"
    assert report.contact["source"] == "ads"
    actions = [change["action"] for change in report.changes]
    assert actions == [
        "add_tag",
        "remove_tag",
        "update_contact",
        "create_lead",
        "update_lead",
        "update_lead",
        "create_task",
        "create_record",
        "update_record",
    ]


def test_a_dry_run_refuses_what_a_live_run_refuses(tenant):
    steps = [
        {"id": "rec", "type": "create_record", "config": {"model": "auth.User", "fields": {}}},
    ]
    report = dry_run(definition={"steps": steps}, contact=SAMPLE, start=START, tenant_id=tenant.pk)
    assert report.status == "failed"
    assert "model 'auth.User' is not open to workflows" in report.steps[0]["error"]


def test_the_dry_twin_keeps_removing_and_adding_idempotent():
    services = DryRunServices(contact={"tags": []}, now=START)
    assert services.dry_run is True
    assert services.crm.add_tag(ctx=None, step_id="a", tag="x") == {"tag": "x", "added": True}
    assert services.crm.add_tag(ctx=None, step_id="a", tag="x") == {"tag": "x", "added": False}
    assert services.crm.remove_tag(ctx=None, step_id="b", tag="y") == {"tag": "y", "removed": False}
    assert services.contact["tags"] == ["x"]
    assert len(services.changes) == 3
    assert services.outbox == []
