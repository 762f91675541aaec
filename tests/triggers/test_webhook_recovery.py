"""A webhook's enrollment is recorded work: a lost task is re-sent, a handled one never again.

The delivery row keeps the task's trigger data and an outcome set in the enrollment's own
transaction (or with the decision not to enroll); ``scheduler.sweep`` re-sends deliveries with
no outcome once per lease. PostgreSQL throughout (the sweep's row locks are the point).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engine.models import WebhookDelivery
from engine.runtime import queue, scheduler
from engine.runtime.flow import flow_for_version, forget_flows
from engine.runtime.queue import ENROLL_MANY
from engine.triggers.webhooks import ENROLL, deliveries_purge, delivery_claim
from tests.cast import make_contact, make_tenant, publish_raw
from tests.triggers.helpers import enrolled, listening
from tests.triggers.test_webhooks import post
from workflows.models import Enrollment, ScheduledAction, Workflow
from workflows.services import workflow_pause

GOLD_ONLY = [{"field": "trigger.body.plan", "operator": "equals", "value": "gold"}]


def after_lease(seconds: float = 1.0):
    return timezone.now() + timedelta(seconds=settings.STUDIO_WORK_LEASE_SECONDS + seconds)


def enroll_messages(trigger_queue) -> list[list]:
    trigger_queue.commit()
    # One task per request, or a batch of them (``queue.enrollments``, the sweep).
    single = [args for name, args in trigger_queue.sent if name == ENROLL]
    batches = [args[0] for name, args in trigger_queue.sent if name == ENROLL_MANY]
    return single + [args for batch in batches for args in batch]


@pytest.fixture
def ann_hook(require_postgres):
    tenant = make_tenant()
    workflow = listening(
        tenant, "webhook", config={"match_by": "email"}, filters=GOLD_ONLY, allow_reenrollment=True
    )
    contact = make_contact(tenant, email="ann@example.com")
    return workflow, contact


def test_a_dropped_enqueue_is_resent_after_the_lease_and_enrolls_exactly_once(
    client, trigger_queue, ann_hook
):
    workflow, contact = ann_hook
    response = post(client, workflow, {"email": "ann@example.com", "plan": "gold"}, delivery="x1")
    assert response.status_code == 202
    assert len(enroll_messages(trigger_queue)) == 1
    trigger_queue.sent.clear()  # the broker lost it

    within = scheduler.sweep()
    resent = scheduler.sweep(now=after_lease())
    again = scheduler.sweep(now=after_lease(2))  # touched: not again inside the next lease
    messages = enroll_messages(trigger_queue)
    trigger_queue.drain()
    later = scheduler.sweep(now=after_lease(3 * settings.STUDIO_WORK_LEASE_SECONDS))

    assert (within["deliveries"], resent["deliveries"], again["deliveries"]) == (0, 1, 0)
    delivery = WebhookDelivery.objects.get(delivery_id="x1")
    assert messages == [[workflow.pk, contact.pk, delivery.trigger, delivery.pk]]
    assert enrolled(workflow) == [contact.pk]
    assert Enrollment.objects.get(workflow=workflow).context["trigger"]["body"]["plan"] == "gold"
    assert (delivery.outcome, delivery.handled_at is not None) == ("enrolled", True)
    assert later["deliveries"] == 0


def test_a_delivery_whose_filters_fail_is_settled_and_never_resent(client, trigger_queue, ann_hook):
    workflow, _contact = ann_hook

    post(client, workflow, {"email": "ann@example.com", "plan": "silver"}, delivery="s1")
    trigger_queue.drain()
    sweeps = [scheduler.sweep(now=after_lease(n * 10))["deliveries"] for n in range(3)]

    assert enrolled(workflow) == []
    assert WebhookDelivery.objects.get(delivery_id="s1").outcome == "filtered"
    assert sweeps == [0, 0, 0]
    assert trigger_queue.sent == []


def _delete_contact(workflow, contact):
    contact.delete()


def _pause(workflow, contact):
    workflow_pause(workflow=workflow)


@pytest.mark.parametrize(
    ("change", "outcome"), [(_delete_contact, "gone"), (_pause, "not_enrolled")]
)
def test_a_delivery_that_cannot_enroll_any_more_is_settled(
    client, trigger_queue, ann_hook, change, outcome
):
    workflow, contact = ann_hook
    post(client, workflow, {"email": "ann@example.com", "plan": "gold"}, delivery="g1")
    trigger_queue.commit()
    change(workflow, contact)  # between the request and the task

    trigger_queue.drain()

    assert enrolled(workflow) == []
    assert WebhookDelivery.objects.get(delivery_id="g1").outcome == outcome
    assert scheduler.sweep(now=after_lease())["deliveries"] == 0


def test_the_same_delivery_task_run_twice_enrolls_once(client, trigger_queue, require_postgres):
    tenant = make_tenant()
    # Re-entry allowed and the journey ends at once, so the first enrollment is over when the
    # second task runs: only the delivery's outcome marker stops a twin.
    workflow = listening(
        tenant, "webhook", allow_reenrollment=True, steps=[{"id": "done", "type": "exit"}]
    )
    contact = make_contact(tenant, email="ann@example.com")
    post(client, workflow, {"email": "ann@example.com", "plan": "gold"}, delivery="t1")
    (args,) = enroll_messages(trigger_queue)
    trigger_queue.sent.append((ENROLL, list(args)))  # delivered twice (late ack, a re-send)

    results = trigger_queue.drain()

    assert enrolled(workflow) == [contact.pk]
    assert Enrollment.objects.get(workflow=workflow).status == "exited"
    assert results[1] is None
    assert WebhookDelivery.objects.get(delivery_id="t1").outcome == "enrolled"


def test_a_webhook_journey_touches_the_delivery_row_twice_insert_and_claim(
    client, trigger_queue, ann_hook
):
    workflow, _contact = ann_hook
    with CaptureQueriesContext(connection) as captured:
        post(client, workflow, {"email": "ann@example.com", "plan": "gold"}, delivery="q1")
        trigger_queue.drain()

    table = WebhookDelivery._meta.db_table
    touching = [q["sql"].split()[:2] for q in captured.captured_queries if table in q["sql"]]
    # The request's INSERT, then the claim. On PostgreSQL the INSERT is made from the contact
    # lookup (``WITH source AS (SELECT …) INSERT …``) and the claim runs inside the
    # enrollment's INSERT (``WITH claimed AS (UPDATE …) INSERT …``); elsewhere each is a
    # statement of its own.
    if connection.vendor == "postgresql":
        assert touching == [["WITH", "source"], ["WITH", "claimed"]]
    else:
        assert [words[0] for words in touching] == ["INSERT", "UPDATE"]


def test_an_owed_delivery_outlives_the_purge_and_a_settled_one_does_not(ann_hook):
    workflow, _contact = ann_hook
    owed = WebhookDelivery.objects.create(workflow=workflow, delivery_id="o", trigger={})
    done = WebhookDelivery.objects.create(workflow=workflow, delivery_id="d", outcome="enrolled")
    WebhookDelivery.objects.update(received_at=timezone.now() - timedelta(days=2))

    assert deliveries_purge() == 1
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [owed.pk]
    assert done.pk != owed.pk


def test_the_sweep_skips_a_delivery_a_running_task_holds(
    require_postgres, transactional_db, ann_hook
):
    workflow, contact = ann_hook
    delivery = WebhookDelivery.objects.create(
        workflow=workflow,
        delivery_id="h1",
        contact_id=str(contact.pk),
        trigger={"type": "webhook", "body": {"plan": "gold"}, "contact_id": contact.pk},
        sent_at=timezone.now() - timedelta(minutes=1),
    )
    sent: list = []
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # a worker mid-claim: it holds the delivery's row lock
            cursor.execute("BEGIN")
            cursor.execute(
                f"SELECT id FROM {WebhookDelivery._meta.db_table} WHERE id = %s FOR UPDATE",  # noqa: S608
                [delivery.pk],
            )
            with queue.use_dispatcher(lambda name, args: sent.append((name, args))):
                held = scheduler.sweep()
            cursor.execute("ROLLBACK")
    finally:
        other.close()
    with queue.use_dispatcher(lambda name, args: sent.append((name, args))):
        free = scheduler.sweep()

    assert (held["deliveries"], free["deliveries"]) == (0, 1)
    assert [name for name, _ in sent] == [ENROLL_MANY]


def test_a_broker_failing_after_commit_still_answers_202_and_the_sweep_recovers(
    client, require_postgres, transactional_db, ann_hook
):
    workflow, contact = ann_hook

    def broker_down(name, args):
        raise ConnectionError("redis is restarting")

    with queue.use_dispatcher(broker_down):
        response = post(client, workflow, {"email": "ann@example.com", "plan": "gold"})
    sent: list = []
    with queue.use_dispatcher(lambda name, args: sent.append((name, args))):
        scheduler.sweep(now=after_lease())

    assert response.status_code == 202
    assert [name for name, _ in sent] == [ENROLL_MANY]
    from engine.triggers.tasks import enroll_contacts

    assert enroll_contacts(*sent[0][1]) == 1
    assert enrolled(workflow) == [contact.pk]


@pytest.mark.e2e
def test_a_lost_message_is_recovered_by_the_beat_sweep_and_the_real_worker(
    require_postgres, require_redis, transactional_db, e2e_worker, client, settings
):
    settings.STUDIO_WORK_LEASE_SECONDS = 1  # the sweep runs here, in the test process
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", allow_reenrollment=True)
    contact = make_contact(tenant, email="lost@example.com")

    with queue.use_dispatcher(lambda name, args: None):  # accepted, then the message is lost
        response = post(client, workflow, {"email": "lost@example.com"}, delivery="e2e-lost")
    assert response.status_code == 202
    time.sleep(0.5)
    assert not Enrollment.objects.filter(workflow=workflow).exists()

    stop = threading.Event()

    def beat():  # what celery beat does: sweep every interval (here 0.5 s)
        try:
            while not stop.wait(0.5):
                scheduler.sweep()
        finally:
            connections.close_all()

    sweeper = threading.Thread(target=beat, daemon=True)
    with e2e_worker.dispatching():
        sweeper.start()
        try:
            e2e_worker.wait_for(
                lambda: ScheduledAction.objects.filter(enrollment__workflow=workflow).exists(),
                timeout=20,
            )
            time.sleep(2.5)  # more sweeps: a settled delivery is never re-sent
        finally:
            stop.set()
            sweeper.join(timeout=10)

    assert enrolled(workflow) == [contact.pk]
    assert WebhookDelivery.objects.get(delivery_id="e2e-lost").outcome == "enrolled"


def test_the_enrolling_task_does_not_read_the_workflow_the_request_just_read(
    client, trigger_queue, ann_hook
):
    workflow, contact = ann_hook
    post(client, workflow, {"email": "ann@example.com", "plan": "gold"}, delivery="w1")
    (args,) = enroll_messages(trigger_queue)
    seen = {"tenant_id": workflow.tenant_id, "version_id": workflow.published_version_id}
    assert {key: args[4][key] for key in seen} == seen  # what the request saw travels along

    with CaptureQueriesContext(connection) as captured:
        trigger_queue.drain()

    workflows = Workflow._meta.db_table
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert not [sql for sql in reads if f'FROM "{workflows}"' in sql]
    # … the claim checks the row instead, inside the enrollment's INSERT:
    (claim,) = [q["sql"] for q in captured.captured_queries if "WITH claimed" in q["sql"]]
    assert f'"{workflows}"' in claim.split("EXISTS (SELECT 1 FROM")[1]
    assert enrolled(workflow) == [contact.pk]
    assert WebhookDelivery.objects.get(delivery_id="w1").outcome == "enrolled"


def test_a_workflow_republished_between_request_and_task_enrolls_on_its_new_version(
    client, trigger_queue, ann_hook
):
    workflow, contact = ann_hook
    seen_version = workflow.published_version_id
    post(client, workflow, {"email": "ann@example.com", "plan": "gold"}, delivery="r1")
    trigger_queue.commit()
    definition = dict(workflow.published_version.definition, name="Republished")
    newer = publish_raw(workflow, definition)  # between the request and the task

    trigger_queue.drain()

    enrollment = Enrollment.objects.get(workflow=workflow)
    assert (enrollment.contact_id, enrollment.version_id) == (contact.pk, newer.pk)
    assert newer.pk != seen_version
    assert WebhookDelivery.objects.get(delivery_id="r1").outcome == "enrolled"


def test_a_claim_on_a_changed_workflow_claims_nothing_on_either_backend(ann_hook):
    # The claim's fallback (a statement of its own, where WITH cannot hold an UPDATE) obeys
    # the same condition as the statement folded into the INSERT.
    workflow, _contact = ann_hook
    owed = WebhookDelivery.objects.create(workflow=workflow, delivery_id="c1", trigger={})
    version = workflow.published_version_id

    assert delivery_claim(owed.pk, still=(workflow.pk, version + 1000)).run() is False
    Workflow.objects.filter(pk=workflow.pk).update(status=Workflow.Status.PAUSED)
    assert delivery_claim(owed.pk, still=(workflow.pk, version)).run() is False
    assert WebhookDelivery.objects.get(pk=owed.pk).outcome == ""
    Workflow.objects.filter(pk=workflow.pk).update(status=Workflow.Status.ACTIVE)
    assert delivery_claim(owed.pk, still=(workflow.pk, version)).run() is True
    assert WebhookDelivery.objects.get(pk=owed.pk).outcome == "enrolled"


def test_the_contact_lookup_and_the_delivery_record_are_one_statement(
    client, trigger_queue, ann_hook
):
    workflow, contact = ann_hook
    make_contact(make_tenant(), email="ANN@example.com")  # the same email in another tenant

    statements = []  # Django's test client resets connection.queries per request: wrap instead

    def seen(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    flow_for_version(workflow.published_version_id)  # the definition is cached per process
    with connection.execute_wrapper(seen):
        accepted = post(client, workflow, {"email": "Ann@Example.com"}, delivery="o1")
    ghost = post(client, workflow, {"email": "ghost@example.com"}, delivery="o2")

    assert accepted.status_code == 202
    assert accepted.json()["contact_id"] == contact.pk
    delivery = WebhookDelivery.objects.get(delivery_id="o1")
    # Filled in by the database from the row found: the column and the trigger's JSON.
    assert delivery.contact_id == str(contact.pk)
    assert delivery.trigger["contact_id"] == contact.pk
    (args,) = enroll_messages(trigger_queue)
    assert args[:4] == [workflow.pk, contact.pk, delivery.trigger, delivery.pk]
    # The workflow by token; the contact found and the delivery recorded, in one statement
    # (the test's own transaction adds a savepoint around it, as any caller's would).
    statements = [sql for sql in statements if "SAVEPOINT" not in sql]
    assert len(statements) == 2
    assert statements[1].startswith("WITH source AS (SELECT")
    assert ghost.status_code == 422
    assert not WebhookDelivery.objects.filter(delivery_id="o2").exists()


def test_a_workflow_deleted_between_request_and_task_ends_the_task_quietly(
    client, trigger_queue, ann_hook
):
    # The task would enroll on the version the request saw; with the workflow (and so its
    # versions and the delivery) deleted, and the version not cached in this worker, it must
    # end as "gone" — not fail on the missing version.
    workflow, _contact = ann_hook
    post(client, workflow, {"email": "ann@example.com", "plan": "gold"}, delivery="d1")
    trigger_queue.commit()
    workflow.delete()
    forget_flows()

    results = trigger_queue.drain()

    assert results == [None]
    assert not Enrollment.objects.exists()
    assert not WebhookDelivery.objects.filter(delivery_id="d1").exists()


def test_a_burst_of_webhooks_goes_to_the_real_worker_in_batches_and_enrolls_each_once(
    require_postgres, require_redis, transactional_db, e2e_worker, client, settings, monkeypatch
):
    """Under load the request coalesces enrollments (``queue.enrollments``): a real worker
    runs the batches; every delivery enrolls exactly once, also when a batch comes twice."""
    settings.STUDIO_WEBHOOK_BATCH_MS = 300
    tenant = make_tenant()
    workflow = listening(tenant, "webhook")
    contacts = [make_contact(tenant, email=f"burst{n}@example.com") for n in range(8)]
    sent: list[tuple[str, list]] = []

    def to_worker(name, args):
        sent.append((name, args))
        e2e_worker.dispatch(name, args)

    monkeypatch.setattr(queue, "_send", to_worker)
    monkeypatch.setattr(queue, "_dispatcher", to_worker)
    for n in range(8):
        response = post(client, workflow, {"email": f"burst{n}@example.com"}, delivery=f"b{n}")
        assert response.status_code == 202
    e2e_worker.wait_for(lambda: len(enrolled(workflow)) == 8, timeout=20)
    batches = [args[0] for name, args in sent if name == ENROLL_MANY]
    e2e_worker.dispatch(ENROLL_MANY, [batches[0]])  # redelivered (late ack, a killed worker)
    time.sleep(1.0)

    assert sent[0][0] == ENROLL  # the first of the burst went at once
    assert len(batches) >= 1
    assert 1 + sum(len(batch) for batch in batches) == 8  # the rest went in batches
    assert sorted(enrolled(workflow)) == sorted(contact.pk for contact in contacts)
    assert set(
        WebhookDelivery.objects.filter(workflow=workflow).values_list("outcome", flat=True)
    ) == {"enrolled"}
