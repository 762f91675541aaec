"""The engine end to end: a real Celery worker process, Redis and PostgreSQL.

Waits here are real seconds (the worker has its own clock); the scheduler tick that celery
beat would run is called from the test, sending its work to the worker.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest

from crm.models import Contact, Message
from engine.runtime import queue, scheduler
from engine.runtime.enrollment import enrollment_create
from tests.cast import add_tag, make_contact, make_published, make_tenant
from tests.e2e_worker import WorkerProcess, broker_url_for, database_url
from tests.fakes.http_server import LocalHTTPServer, Reply
from workflows.models import Enrollment, SideEffect, StepLog

pytestmark = pytest.mark.e2e

SERVICES = ("require_postgres", "require_redis", "transactional_db")


def finished(*enrollments: Enrollment) -> bool:
    ids = [e.pk for e in enrollments]
    return not Enrollment.objects.filter(pk__in=ids, status__in=["active", "waiting"]).exists()


def tick_until(worker, predicate, timeout: float = 20.0):
    """Run the scheduler tick (as beat would) until ``predicate`` holds."""

    def check():
        with worker.dispatching():
            scheduler.tick()
        return predicate()

    return worker.wait_for(check, timeout=timeout)


@pytest.mark.usefixtures(*SERVICES)
def test_enroll_wait_and_branch_on_the_worker(e2e_worker):
    tenant = make_tenant()
    workflow = make_published(
        tenant,
        {
            "name": "Wait then branch",
            "steps": [
                {"id": "nap", "type": "wait", "config": {"duration": "1s"}},
                {
                    "id": "vip",
                    "type": "condition",
                    "config": {
                        "if": [{"field": "tags", "operator": "contains", "value": "vip"}],
                        "then": "exit_vip",
                        "else": "exit_plain",
                    },
                },
            ],
        },
    )
    vip, plain = make_contact(tenant, tags=["vip"]), make_contact(tenant)
    with e2e_worker.dispatching():
        enrollments = [enrollment_create(workflow=workflow, contact=c) for c in (vip, plain)]
    e2e_worker.wait_for(
        lambda: Enrollment.objects.filter(workflow=workflow, status="waiting").count() == 2
    )
    tick_until(e2e_worker, lambda: finished(*enrollments))
    reasons = dict(
        Enrollment.objects.filter(workflow=workflow).values_list("contact", "exit_reason")
    )
    assert reasons == {vip.pk: "vip", plain.pk: "plain"}


GOAL_FLOW = {
    "name": "Goal on the worker",
    "settings": {
        "exit_conditions": [{"field": "tags", "operator": "contains", "value": "unsubscribed"}]
    },
    "steps": [
        {"id": "hello", "type": "add_tag", "config": {"tag": "nurtured"}},
        {
            "id": "booked",
            "type": "goal",
            "config": {
                "condition": {"field": "tags", "operator": "contains", "value": "booked"},
                "on_success": "exit_success",
                "timeout": "2s",
                "on_timeout": "exit_timeout",
            },
        },
    ],
}


@pytest.mark.usefixtures(*SERVICES)
def test_goal_met_goal_timed_out_and_exit_condition_on_the_worker(e2e_worker):
    tenant = make_tenant()
    workflow = make_published(tenant, GOAL_FLOW)
    met, timed_out, leaving = (make_contact(tenant) for _ in range(3))
    with e2e_worker.dispatching():
        enrollments = [
            enrollment_create(workflow=workflow, contact=c) for c in (met, timed_out, leaving)
        ]
    e2e_worker.wait_for(
        lambda: Enrollment.objects.filter(workflow=workflow, status="waiting").count() == 3
    )
    with e2e_worker.dispatching():
        add_tag(met, "booked")  # the CRM event reaches the worker, which re-checks the goal
        add_tag(leaving, "unsubscribed")
    tick_until(e2e_worker, lambda: finished(*enrollments))
    reasons = dict(
        Enrollment.objects.filter(workflow=workflow).values_list("contact", "exit_reason")
    )
    assert reasons == {met.pk: "success", timed_out.pk: "timeout", leaving.pk: "exit_condition"}
    assert "nurtured" in Contact.objects.get(pk=met.pk).tags.values_list("name", flat=True)


@pytest.mark.usefixtures(*SERVICES)
def test_ab_split_over_a_thousand_enrollments_holds_its_weights(e2e_worker):
    tenant = make_tenant()
    workflow = make_published(
        tenant,
        {
            "name": "A/B on the worker",
            "steps": [
                {
                    "id": "split",
                    "type": "ab_split",
                    "config": {
                        "variants": [
                            {"name": "A", "weight": 50, "next": "exit_a"},
                            {"name": "B", "weight": 50, "next": "exit_b"},
                        ]
                    },
                }
            ],
        },
    )
    contacts = Contact.objects.bulk_create(
        Contact(tenant=tenant, first_name=f"AB{i}") for i in range(1000)
    )
    with e2e_worker.dispatching():
        for contact in contacts:
            enrollment_create(workflow=workflow, contact=contact)
    e2e_worker.wait_for(
        lambda: Enrollment.objects.filter(workflow=workflow, status="exited").count() == 1000,
        timeout=120,
    )
    counts = Counter(
        Enrollment.objects.filter(workflow=workflow).values_list("exit_reason", flat=True)
    )
    # 1,000 fair draws: a 50/50 split stays within ±5 points (more than 3 standard deviations).
    assert set(counts) == {"a", "b"}
    assert abs(counts["a"] - 500) <= 50, counts


SMS_FLOW = {
    "name": "One SMS",
    "steps": [
        {"id": "text", "type": "send_sms", "config": {"message": "Hi {{contact.first_name}}"}},
        {"id": "nap", "type": "wait", "config": {"duration": "1h"}},
    ],
}


@pytest.mark.usefixtures(*SERVICES)
def test_the_same_step_task_delivered_twice_at_once_sends_one_message(e2e_worker):
    tenant = make_tenant()
    workflow = make_published(tenant, SMS_FLOW)
    contact = make_contact(tenant)
    held: list = []
    with queue.use_dispatcher(lambda name, args: held.append((name, args))):
        enrollment = enrollment_create(workflow=workflow, contact=contact)
    ((name, args),) = held
    for _ in range(2):  # two deliveries of one task, picked up by two worker threads at once
        e2e_worker.dispatch(name, args)
    e2e_worker.wait_for(
        lambda: Enrollment.objects.filter(pk=enrollment.pk, status="waiting").exists()
    )
    time.sleep(0.5)  # let the duplicate finish too
    assert Message.objects.filter(contact=contact, direction="outbound").count() == 1
    assert SideEffect.objects.filter(enrollment=enrollment).count() == 1
    assert StepLog.objects.filter(enrollment=enrollment, step_id="text").count() == 1


@pytest.mark.usefixtures(*SERVICES)
def test_a_worker_killed_mid_step_finishes_after_restart_without_sending_twice(monkeypatch):
    from django.db import connection

    from tests.conftest import redis_url

    monkeypatch.setenv("STUDIO_HTTP_ALLOWED_HOSTS", "127.0.0.1")
    tenant = make_tenant()
    with LocalHTTPServer() as hook:
        hook.enqueue(Reply(delay=30, json={"ok": True}), Reply(json={"ok": True}))
        workflow = make_published(
            tenant,
            {
                "name": "Webhook then done",
                "steps": [
                    {
                        "id": "notify",
                        "type": "http_request",
                        "config": {
                            "url": hook.url("/leads"),
                            "method": "POST",
                            "body": {"contact": "{{contact.id}}"},
                        },
                    },
                    {"id": "done", "type": "exit", "config": {"reason": "notified"}},
                ],
            },
        )
        broker = broker_url_for(redis_url())
        db_url = database_url(connection.settings_dict)
        doomed = WorkerProcess(broker_url=broker, db_url=db_url, concurrency=1)
        try:
            doomed.wait_ready()
            with doomed.dispatching():
                enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
            doomed.wait_for(lambda: len(hook.requests) == 1)  # the worker is inside the step
            os.kill(doomed.process.pid, signal.SIGKILL)
        finally:
            doomed.stop()  # never leave a worker behind, even when the test fails

        restarted = WorkerProcess(broker_url=broker, db_url=db_url, concurrency=1)
        try:
            restarted.wait_ready()
            with restarted.dispatching():
                # The sweep that beat runs every minute re-sends the stalled step.
                swept = scheduler.sweep(stale_after=timedelta(0))
            assert swept == {"actions": 0, "enrollments": 1, "deliveries": 0}
            restarted.wait_for(lambda: finished(enrollment), timeout=20)
        finally:
            restarted.stop()
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "notified")
    keys = {r.headers.get("Idempotency-Key") for r in hook.requests}
    assert len(keys) == 1, "every attempt carries the same idempotency key"
    assert SideEffect.objects.filter(enrollment=enrollment).count() == 1
    assert (
        StepLog.objects.filter(enrollment=enrollment, step_id="notify", status="succeeded").count()
        == 1
    )
