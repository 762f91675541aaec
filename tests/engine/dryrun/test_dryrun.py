from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from crm.models import Contact, EmailTemplate, Message, Task, VoicemailDrop
from engine.definition import definition_to_dict, parse_definition
from engine.dryrun.run import DryRunError, dry_run
from tests.cast import make_tenant
from workflows.models import Enrollment, StepLog

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NURTURE = EXAMPLES / "new-lead-nurture.yaml"
START = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
ANN = {
    "first_name": "Ann",
    "email": "ann@example.com",
    "phone": "+4915100000001",
    "tags": ["new-lead"],
}


@pytest.fixture(autouse=True)
def demo():
    tenant = make_tenant("demo")
    for slug in ("welcome", "reminder"):
        EmailTemplate.objects.create(
            tenant=tenant,
            slug=slug,
            name=slug,
            subject="Hi {{contact.first_name}}",
            body_text="Hello {{contact.first_name}}",
        )
    VoicemailDrop.objects.create(tenant=tenant, slug="intro", name="Intro", transcript="Hi!")
    return tenant


def demo_id() -> int:
    from crm.models import Tenant

    return Tenant.objects.get(slug="demo").pk


def simulate(**options):
    return dry_run(tenant_id=demo_id(), **options)


def nurture() -> dict:
    return definition_to_dict(parse_definition(NURTURE.read_text()).definition)


def test_the_nurture_as_written_loops_call_and_wait_until_the_visit_limit():
    report = simulate(definition=nurture(), contact=ANN, start=START, seed=1)
    # The file's call/wait loop (validation warns about it) only ends at the goal or the limit.
    assert report.status == "failed"
    assert report.error == "step 'wait_then_call' reached the visit limit of 50 (a loop?)"
    assert report.path[:3] == ["welcome_email", "wait_1_day", "check_opened"]
    assert report.path[3] == "send_reminder_email"  # not opened → else branch
    by_id = {s["id"]: s for s in report.steps}
    assert by_id["wait_1_day"]["at"] == START.isoformat()
    assert by_id["check_opened"]["at"] == "2026-04-07T09:00:00+00:00"


def test_a_goal_waits_and_times_out_on_the_virtual_clock():
    definition = {
        "name": "Goal",
        "steps": [
            {"id": "hello", "type": "send_sms", "config": {"message": "Book a trial?"}},
            {
                "id": "booked",
                "type": "goal",
                "config": {
                    "condition": {"field": "tags", "operator": "contains", "value": "booked"},
                    "on_success": "exit_success",
                    "timeout": "7d",
                    "on_timeout": "exit_timeout",
                },
            },
        ],
    }
    report = simulate(definition=definition, contact=ANN, start=START)
    assert (report.status, report.exit_reason) == ("exited", "timeout")
    assert report.steps[-1]["output"] == {"met": False, "timed_out": True}
    assert report.steps[-1]["at"] == "2026-04-13T09:00:00+00:00"
    booked = simulate(
        definition=definition,
        contact=ANN,
        start=START,
        events=[{"after": "3d", "type": "tag_added", "tag": "booked"}],
    )
    assert (booked.status, booked.exit_reason) == ("exited", "success")
    assert booked.steps[-1]["at"] == "2026-04-09T09:00:00+00:00"


def test_an_opened_email_takes_the_then_branch_and_renders_the_sms():
    report = simulate(
        definition=nurture(),
        contact=ANN,
        start=START,
        seed=1,
        events=[{"after": "3h", "type": "email_opened", "step": "welcome_email"}],
    )
    assert "send_followup_sms" in report.path
    sms = next(item for item in report.outbox if item.get("step_id") == "send_followup_sms")
    assert sms["body"] == "Hi Ann, did you get a chance to read our welcome email?"
    assert sms["to"] == ANN["phone"]


def test_a_tag_two_days_in_meets_the_goal_and_exits_with_success():
    report = simulate(
        definition=nurture(),
        contact=ANN,
        start=START,
        seed=1,
        events=[{"after": "2d", "type": "tag_added", "tag": "booked-appointment"}],
    )
    assert (report.status, report.exit_reason) == ("exited", "success")
    goal = report.steps[-1]
    assert goal["id"] == "goal_check"
    assert goal["output"]["met"] is True
    assert goal["at"] == "2026-04-08T09:00:00+00:00"


def test_the_same_seed_gives_the_same_ab_variant_and_nothing_is_written():
    first = simulate(definition=nurture(), contact=ANN, start=START, seed=7)
    again = simulate(definition=nurture(), contact=ANN, start=START, seed=7)
    assert first.path == again.path
    variants = set()
    for seed in range(12):
        steps = simulate(definition=nurture(), contact=ANN, start=START, seed=seed).steps
        variants.add(next(step["output"]["variant"] for step in steps if step["id"] == "ab_test"))
    assert variants == {"A", "B"}
    assert not Contact.objects.exists()
    assert not Message.objects.exists()
    assert not Task.objects.exists()
    assert not Enrollment.objects.exists()
    assert not StepLog.objects.exists()


def test_exit_conditions_and_replies_are_simulated():
    definition = {
        "name": "Reply",
        "settings": {
            "exit_conditions": [{"field": "tags", "operator": "contains", "value": "stop"}]
        },
        "steps": [
            {"id": "ask", "type": "send_whatsapp", "config": {"message": "Still interested?"}},
            {"id": "pause", "type": "wait", "config": {"duration": "1d"}},
            {
                "id": "answered",
                "type": "condition",
                "config": {
                    "if": [{"field": "steps.ask.replied", "operator": "equals", "value": True}],
                    "then": "exit_replied",
                    "else": "exit_silent",
                },
            },
        ],
    }
    replied = dry_run(
        tenant_id=demo_id(),
        definition=definition,
        contact=ANN,
        start=START,
        events=[{"after": "2h", "type": "whatsapp_message", "content": "yes"}],
    )
    assert replied.exit_reason == "replied"
    silent = simulate(definition=definition, contact=ANN, start=START)
    assert silent.exit_reason == "silent"
    stopped = dry_run(
        tenant_id=demo_id(),
        definition=definition,
        contact=ANN,
        start=START,
        events=[{"after": "1h", "type": "tag_added", "tag": "stop"}],
    )
    assert (stopped.status, stopped.exit_reason) == ("exited", "exit_condition")


def test_bad_events_are_refused_with_their_position():
    with pytest.raises(DryRunError, match=r"events\[0\]: needs a 'type'"):
        simulate(definition=nurture(), contact=ANN, events=[{"after": "1d"}])
    with pytest.raises(DryRunError, match=r"events\[0\]\.after: bad duration"):
        dry_run(
            tenant_id=demo_id(),
            definition=nurture(),
            contact=ANN,
            events=[{"after": "soon", "type": "x"}],
        )
    with pytest.raises(DryRunError, match="needs 'step'"):
        dry_run(
            tenant_id=demo_id(),
            definition=nurture(),
            contact=ANN,
            events=[{"type": "email_opened"}],
        )


def test_the_command_prints_json_in_the_documented_shape():
    out = StringIO()
    call_command(
        "dry_run_workflow",
        str(NURTURE),
        "--tenant",
        "demo",
        "--contact",
        json.dumps(ANN),
        "--events",
        '[{"after": "2d", "type": "tag_added", "tag": "booked-appointment"}]',
        "--seed",
        "3",
        "--format",
        "json",
        stdout=out,
    )
    report = json.loads(out.getvalue())
    assert {"status", "exit_reason", "path", "steps"} <= set(report)
    assert report["exit_reason"] == "success"
    assert set(report["steps"][0]) >= {"id", "type", "at", "input", "output"}
    assert report["steps"][0]["input"]["to"] == ANN["email"]


def test_the_command_prints_a_readable_timeline_and_refuses_bad_json():
    out = StringIO()
    with pytest.raises(CommandError, match="the simulated run failed") as failed:
        call_command(
            "dry_run_workflow",
            str(NURTURE),
            "--tenant",
            "demo",
            "--contact",
            json.dumps(ANN),
            "--seed",
            "1",
            stdout=out,
        )
    assert failed.value.returncode == 1  # docs/commands.md: 1 when the simulated run fails
    text = out.getvalue()
    assert "welcome_email" in text
    assert text.strip().endswith("result: failed")
    assert "error: step 'wait_then_call' reached the visit limit of 50" in text
    with pytest.raises(CommandError, match="--contact is not valid JSON"):
        call_command("dry_run_workflow", str(NURTURE), "--tenant", "demo", "--contact", "{")
