"""Duplicate deliveries of a step's task, and re-runs after a rollback, never act twice."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from crm.models import Booking, Call, Contact, ContactTag, Message, Task
from engine.effects.channels import locmem
from engine.effects.channels.base import ChannelBackend, SendResult
from engine.effects.live_services import LiveServices
from engine.handlers import handler_for
from engine.handlers.base import stays_in_database
from engine.runtime import executor
from engine.runtime.budget import TaskBudget
from engine.runtime.context import step_context
from engine.runtime.enrollment import enrollment_create
from engine.runtime.flow import flow_for_version
from tests.cast import make_published
from tests.fakes.http_server import Reply
from workflows.models import Enrollment, SideEffect

pytestmark = pytest.mark.django_db

provider_calls: list = []


class CountingBackend(ChannelBackend):
    """A provider that never drops duplicates: every call it receives is counted."""

    name = "counting"

    def send_message(self, message):
        provider_calls.append(message)
        return SendResult(f"c-{len(provider_calls)}", "sent", self.name, {})

    def place_call(self, call):
        provider_calls.append(call)
        return SendResult(f"c-{len(provider_calls)}", "queued", self.name, {})


def world(mailoutbox, server) -> dict[str, int]:
    """Everything a step could have done to the world or the CRM, counted."""
    return {
        "provider": len(provider_calls),
        "emails": len(mailoutbox),
        "webhooks": len(server.requests),
        "messages": Message.objects.count(),
        "calls": Call.objects.count(),
        "contacts": Contact.objects.count(),
        "tasks": Task.objects.count(),
        "bookings": Booking.objects.count(),
        "tags": ContactTag.objects.count(),
    }


def sending_steps(server_url: str) -> dict[str, dict]:
    return {
        "send_sms": {"message": "Hi"},
        "send_whatsapp": {"message": "Hi"},
        "send_message": {"message": "Hi", "channel": "sms"},
        "make_call": {"voicemail_drop_id": "{{voicemails.intro}}"},
        "send_email": {"template_id": "{{templates.welcome}}"},
        "http_request": {"url": server_url},
        "create_lead": {"name": "Bo", "email": "bo@example.com"},
        "schedule_follow_up": {"delay": "1d", "message": "Call back"},
        "create_record": {
            "model": "booking",
            "fields": {"title": "Intro", "starts_at": "2026-03-05T10:00:00Z"},
        },
        "add_tag": {"tag": "vip"},
    }


KINDS = list(sending_steps(""))


@pytest.fixture
def counting(settings):
    settings.STUDIO_CHANNEL_BACKENDS = {"default": f"{__name__}.CountingBackend"}
    provider_calls.clear()


def first_task(inline_queue) -> list:
    inline_queue.run_on_commit()
    [(_name, args)] = inline_queue.sent
    inline_queue.sent.clear()
    return args


@pytest.mark.parametrize("kind", KINDS)
def test_a_thousand_deliveries_of_one_task_act_once(
    tenant, contact, assets, counting, inline_queue, mailoutbox, http_server, kind
):
    http_server.handler = Reply(json={"received": True})
    config = sending_steps(http_server.url("/hook"))[kind]
    # A second step keeps the enrollment live (at "then"), so the duplicates find it moved on;
    # a one-step budget keeps each delivery from going on to it.
    then = {"id": "then", "type": "remove_tag", "config": {"tag": "none"}}
    workflow = make_published(
        tenant, {"steps": [{"id": "act", "type": kind, "config": config}, then]}
    )
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    enrollment_id, step_id, seq = first_task(inline_queue)
    before = world(mailoutbox, http_server)

    outcomes = [
        executor.step_run(
            enrollment_id=enrollment_id, step_id=step_id, seq=seq, budget=TaskBudget.single()
        )
        for _ in range(1000)
    ]

    assert outcomes[0] == "succeeded"
    assert set(outcomes[1:]) == {"stale"}  # the enrollment moved on; nothing ran again
    after = world(mailoutbox, http_server)
    changed = {name: after[name] - before[name] for name in after if after[name] != before[name]}
    assert changed
    assert set(changed.values()) == {1}
    if stays_in_database(kind):
        # Its write committed with the enrollment's advance under the enrollment's lock: the
        # step's transaction is what makes it once, no side-effect row is kept for it.
        assert not SideEffect.objects.filter(enrollment=enrollment).exists()
        return

    # The handler itself, re-run 1,000 times with the same key, replays the stored result.
    enrollment.refresh_from_db()
    flow = flow_for_version(enrollment.version)
    data = executor.template_data_for(
        enrollment, executor.run_state_of(enrollment), flow, timezone.now()
    )
    ctx = step_context(
        data=data,
        flow=flow,
        step_id="act",
        now=timezone.now(),
        tenant_id=tenant.pk,
        enrollment_id=enrollment.pk,
        contact_id=contact.pk,
        visit=1,
        services=LiveServices(tenant_id=tenant.pk, enrollment=enrollment),
    )
    step = flow.step("act")
    first_output = enrollment.context["steps"]["act"]
    for _ in range(1000):
        assert handler_for(kind).handle(ctx, step).output == first_output
    assert world(mailoutbox, http_server) == after
    assert SideEffect.objects.filter(enrollment=enrollment).count() == 1


class WorkerDied(Exception):
    pass


def run_and_roll_back(args) -> None:
    """The step ran and the provider was called, then the worker died before the commit."""
    outcomes = []

    def step_then_crash() -> None:
        with transaction.atomic():
            outcomes.append(executor.step_run(enrollment_id=args[0], step_id=args[1], seq=args[2]))
            raise WorkerDied

    with pytest.raises(WorkerDied):
        step_then_crash()
    assert outcomes == ["succeeded"]


def test_a_rolled_back_sms_is_sent_again_with_the_same_key_and_the_provider_drops_it(
    tenant, contact, inline_queue
):
    workflow = make_published(
        tenant, {"steps": [{"id": "t", "type": "send_sms", "config": {"message": "Hi"}}]}
    )
    enrollment_create(workflow=workflow, contact=contact)
    args = first_task(inline_queue)
    run_and_roll_back(args)
    assert len(locmem.outbox) == 1
    assert not Message.objects.exists()
    assert not SideEffect.objects.exists()

    assert executor.step_run(enrollment_id=args[0], step_id=args[1], seq=args[2]) == "succeeded"
    assert len(locmem.outbox) == 1  # the provider saw the same key and did not send again
    assert Message.objects.count() == 1
    assert list(locmem.sent_keys) == [f"enr{args[0]}:t:1"]
    assert Enrollment.objects.get(pk=args[0]).status == Enrollment.Status.COMPLETED


def test_a_rolled_back_email_is_resent_with_the_same_message_id(
    tenant, contact, assets, inline_queue, mailoutbox
):
    step = {"id": "m", "type": "send_email", "config": {"template_id": "{{templates.welcome}}"}}
    enrollment_create(workflow=make_published(tenant, {"steps": [step]}), contact=contact)
    args = first_task(inline_queue)
    run_and_roll_back(args)
    executor.step_run(enrollment_id=args[0], step_id=args[1], seq=args[2])
    first, second = mailoutbox
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"]
    assert Message.objects.count() == 1


def test_a_rolled_back_webhook_is_repeated_with_the_same_idempotency_key(
    tenant, contact, inline_queue, http_server
):
    http_server.handler = Reply(json={"received": True})
    step = {"id": "h", "type": "http_request", "config": {"url": http_server.url("/hook")}}
    enrollment_create(workflow=make_published(tenant, {"steps": [step]}), contact=contact)
    args = first_task(inline_queue)
    run_and_roll_back(args)
    executor.step_run(enrollment_id=args[0], step_id=args[1], seq=args[2])
    keys = [r.headers["idempotency-key"] for r in http_server.requests]
    assert keys == [f"enr{args[0]}:h:1"] * 2
