"""One task runs an enrollment's consecutive steps, side effects included, until a wait or its
budget; then it yields to the queue. A step that calls a provider has a transaction of its own;
pure and database-only steps share one."""

from __future__ import annotations

import itertools
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from crm.models import ContactTag, Tag
from engine.effects.crm_ops import link_tag_named
from engine.handlers.base import StepHandler, StepResult, register
from engine.models import SideEffectAttempt
from engine.runtime import executor, queue
from engine.runtime.budget import TaskBudget
from engine.runtime.enrollment import enrollment_create
from engine.triggers.dispatch import contact_enroll
from tests.cast import make_contact, make_published, make_tenant
from tests.triggers.helpers import listening
from workflows.models import Enrollment, ScheduledAction, SideEffect, StepLog

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the engine catches it."""


@register
class DyingHandler(StepHandler):
    kind = "test_dying"

    def handle(self, ctx, step):
        raise WorkerKilled


@register
class CountingHandler(StepHandler):
    """A side effect that only counts (and says which contact tags it saw)."""

    kind = "test_counting"
    seen: list[list[str]] = []

    def handle(self, ctx, step):
        CountingHandler.seen.append(list(ctx.data["contact"]["tags"]))
        return StepResult(output={"counted": True})


def tags(count: int, *, then: list[dict] | None = None) -> dict:
    steps = [{"id": f"t{i}", "type": "add_tag", "config": {"tag": f"tag{i}"}} for i in range(count)]
    return {"name": f"{count} tags", "steps": steps + (then or [])}


@contextmanager
def listening_to_post_save(model):
    """Collect the instances ``post_save`` announces as created for ``model``."""
    saved: list = []

    def receiver(sender, instance, created, **kwargs):
        if created:
            saved.append(instance)

    post_save.connect(receiver, sender=model, weak=False)
    try:
        yield saved
    finally:
        post_save.disconnect(receiver, sender=model)


def tag_names(contact) -> list[str]:
    return sorted(ContactTag.objects.filter(contact=contact).values_list("tag__name", flat=True))


@pytest.fixture
def tenant():
    return make_tenant()


def first_task(inline_queue) -> list:
    inline_queue.run_on_commit()
    [(name, args)] = inline_queue.sent
    inline_queue.sent.clear()
    assert name == queue.RUN_STEP
    return args


def test_side_effect_steps_run_one_after_another_in_one_task(tenant, inline_queue):
    contact = make_contact(tenant)
    enrollment = enrollment_create(workflow=make_published(tenant, tags(5)), contact=contact)
    enrollment_id, step_id, seq = first_task(inline_queue)

    outcome = executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)
    inline_queue.run_on_commit()

    assert outcome == "succeeded"
    assert [name for name, _ in inline_queue.sent if name == queue.RUN_STEP] == []
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    assert tag_names(contact) == [f"tag{i}" for i in range(5)]
    assert StepLog.objects.filter(enrollment=enrollment).count() == 5


def test_the_step_budget_sends_the_rest_to_the_back_of_the_queue(tenant, inline_queue):
    enrollment = enrollment_create(
        workflow=make_published(tenant, tags(5)), contact=make_contact(tenant)
    )
    enrollment_id, step_id, seq = first_task(inline_queue)
    budget = TaskBudget(deadline=float("inf"), steps_left=2)

    executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq, budget=budget)
    inline_queue.run_on_commit()

    assert inline_queue.sent == [(queue.RUN_STEP, [enrollment.pk, "t2", 2])]
    assert inline_queue.drain() == ["succeeded"]  # the next task takes the other three
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"


def test_a_spent_time_budget_runs_one_step_and_yields(tenant, inline_queue):
    enrollment = enrollment_create(
        workflow=make_published(tenant, tags(3)), contact=make_contact(tenant)
    )
    enrollment_id, step_id, seq = first_task(inline_queue)
    spent = TaskBudget(deadline=0.0, steps_left=100)

    executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq, budget=spent)
    inline_queue.run_on_commit()

    assert inline_queue.sent == [(queue.RUN_STEP, [enrollment.pk, "t1", 1])]


def test_a_worker_killed_in_the_third_step_keeps_the_first_two(tenant, inline_queue):
    contact = make_contact(tenant)
    dying = {"id": "boom", "type": "test_dying", "config": {}}
    enrollment = enrollment_create(
        workflow=make_published(tenant, tags(2, then=[dying])), contact=contact
    )
    enrollment_id, step_id, seq = first_task(inline_queue)

    with pytest.raises(WorkerKilled):
        executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)

    enrollment.refresh_from_db()
    # The two finished steps were committed; the sweep re-sends the one it died in.
    assert (enrollment.status, enrollment.current_step, enrollment.step_count) == (
        "active",
        "boom",
        2,
    )
    assert tag_names(contact) == ["tag0", "tag1"]
    assert list(StepLog.objects.filter(enrollment=enrollment).values_list("step_id", flat=True))
    assert StepLog.objects.filter(enrollment=enrollment).count() == 2


def test_the_carried_snapshot_has_the_tags_added_before(tenant, inline_queue):
    CountingHandler.seen = []
    check = {
        "id": "check",
        "type": "condition",
        "config": {
            "if": [{"field": "tags", "operator": "contains", "value": "tag1"}],
            "then": "count",
            "else": "exit_untagged",
        },
    }
    count = {"id": "count", "type": "test_counting", "config": {}}
    enrollment = enrollment_create(
        workflow=make_published(tenant, tags(2, then=[check, count])),
        contact=make_contact(tenant, tags=["old"]),
    )
    inline_queue.drain()

    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    assert CountingHandler.seen == [["old", "tag0", "tag1"]]


def test_a_contact_update_is_seen_by_the_next_step_of_the_task(tenant, inline_queue):
    update = {"id": "up", "type": "update_contact", "config": {"fields": {"stage": "customer"}}}
    check = {
        "id": "check",
        "type": "condition",
        "config": {
            "if": [{"field": "stage", "operator": "equals", "value": "customer"}],
            "then": "exit_customer",
            "else": "exit_other",
        },
    }
    enrollment = enrollment_create(
        workflow=make_published(tenant, {"steps": [update, check]}),
        contact=make_contact(tenant, stage="lead"),
    )
    inline_queue.drain()

    enrollment.refresh_from_db()
    assert enrollment.exit_reason == "customer"


def statements(captured) -> tuple[int, int]:
    """(statements, savepoint statements) in a CaptureQueriesContext."""
    sql = [q["sql"] for q in captured.captured_queries]
    savepoints = [s for s in sql if s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    return len(sql) - len(savepoints), len(savepoints)


def test_add_tag_steps_share_one_transaction_of_few_statements_and_no_savepoint(
    require_postgres, tenant, inline_queue
):
    workflow = make_published(tenant, tags(6))
    for tag_owner in range(2):  # the first run creates the tags and warms the caches
        contact = make_contact(tenant)
        enrollment_create(workflow=workflow, contact=contact)
        enrollment_id, step_id, seq = first_task(inline_queue)
        with CaptureQueriesContext(connection) as captured:
            executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)
        assert tag_names(contact) == [f"tag{i}" for i in range(6)], tag_owner

    count, savepoints = statements(captured)
    sql = [q["sql"] for q in captured.captured_queries]
    # One statement links the six tags (found by name and linked by one INSERT … ON
    # CONFLICT, test_tag_links_batched.py); once for the six: the lock, the contact, SET LOCAL
    # synchronous_commit, the UPDATE and the logs.
    assert count <= 1 + 5, sql
    # One transaction for the six (the test's own transaction makes it a savepoint: a
    # SAVEPOINT and its RELEASE); the tag writes add none of their own.
    assert savepoints == 2, sql
    assert StepLog.objects.filter(enrollment_id=enrollment_id).count() == 6


def test_database_only_steps_leave_no_side_effect_rows_and_look_none_up(
    require_postgres, tenant, inline_queue
):
    # Their writes commit with the enrollment's advance: no journal, no row, no lookup.
    workflow = make_published(tenant, tags(3))
    contact = make_contact(tenant)
    enrollment_create(workflow=workflow, contact=contact)
    enrollment_id, step_id, seq = first_task(inline_queue)
    with CaptureQueriesContext(connection) as captured:
        executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)

    table = SideEffect._meta.db_table
    assert not [q["sql"] for q in captured.captured_queries if table in q["sql"]]
    assert not SideEffect.objects.filter(enrollment_id=enrollment_id).exists()
    assert not SideEffectAttempt.objects.filter(key__startswith=f"enr{enrollment_id}:").exists()
    assert tag_names(contact) == ["tag0", "tag1", "tag2"]


def test_a_first_provider_call_does_not_look_up_its_side_effect_row(
    require_postgres, tenant, inline_queue
):
    # The attempt journal says the key is new, so no SideEffect row can exist for it.
    steps = [{"id": f"s{i}", "type": "send_sms", "config": {"message": "Hi"}} for i in range(3)]
    workflow = make_published(tenant, {"name": "Texts", "steps": steps})
    contact = make_contact(tenant, phone="+4930123456")
    enrollment_create(workflow=workflow, contact=contact)
    inline_queue.run_on_commit()  # (the new contact's own event is queued too)
    [(enrollment_id, step_id, seq)] = [a for n, a in inline_queue.sent if n == queue.RUN_STEP]
    with CaptureQueriesContext(connection) as captured:
        executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)

    table = SideEffect._meta.db_table
    lookups = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert not [sql for sql in lookups if f'FROM "{table}"' in sql], lookups
    assert SideEffect.objects.filter(enrollment_id=enrollment_id, status="done").count() == 3


def test_a_provider_step_runs_in_a_transaction_of_its_own(tenant, inline_queue, monkeypatch):
    # tag, tag | count (a provider-like step) | tag: three transactions, each its own lock.
    count = {"id": "count", "type": "test_counting", "config": {}}
    last = {"id": "last", "type": "add_tag", "config": {"tag": "last"}}
    contact = make_contact(tenant)
    enrollment_create(workflow=make_published(tenant, tags(2, then=[count, last])), contact=contact)
    enrollment_id, step_id, seq = first_task(inline_queue)
    locks: list[bool] = []
    lock = executor.lock_enrollment

    def counted_lock(pk):
        locks.append(connection.in_atomic_block)
        return lock(pk)

    monkeypatch.setattr(executor, "lock_enrollment", counted_lock)
    executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)

    assert locks == [True, True, True]
    assert tag_names(contact) == ["last", "tag0", "tag1"]
    assert Enrollment.objects.get(pk=enrollment_id).status == "completed"


@register
class DyingInDatabaseHandler(StepHandler):
    """A database-only step whose worker is killed (SIGKILL) while it runs."""

    kind = "test_dying_in_database"
    in_database = True
    dies = True

    def handle(self, ctx, step):
        if DyingInDatabaseHandler.dies:
            raise WorkerKilled
        return StepResult(output={})


def test_a_worker_killed_in_a_database_only_run_loses_the_run_and_redoes_it_once(
    tenant, inline_queue
):
    contact = make_contact(tenant)
    dying = {"id": "boom", "type": "test_dying_in_database", "config": {}}
    workflow = make_published(tenant, tags(2, then=[dying]))
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    enrollment_id, step_id, seq = first_task(inline_queue)

    DyingInDatabaseHandler.dies = True
    with pytest.raises(WorkerKilled):
        executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)

    # The tags shared the dying step's transaction: all of it rolled back, nothing half done.
    enrollment.refresh_from_db()
    assert (enrollment.current_step, enrollment.step_count) == ("t0", 0)
    assert tag_names(contact) == []
    assert not StepLog.objects.filter(enrollment=enrollment).exists()

    # The sweep sends the step again: each tag is added and logged once.
    DyingInDatabaseHandler.dies = False
    assert executor.step_run(enrollment_id=enrollment_id, step_id="t0", seq=0) == "succeeded"
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    assert tag_names(contact) == ["tag0", "tag1"]
    logged = StepLog.objects.filter(enrollment=enrollment).values_list("step_id", flat=True)
    assert sorted(logged) == ["boom", "t0", "t1"]


def test_finishing_a_running_enrollment_does_not_look_for_scheduled_work(tenant, inline_queue):
    enrollment = enrollment_create(
        workflow=make_published(tenant, tags(1)), contact=make_contact(tenant)
    )
    enrollment_id, step_id, seq = first_task(inline_queue)
    with CaptureQueriesContext(connection) as captured:
        executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)

    table = ScheduledAction._meta.db_table
    assert not [q for q in captured.captured_queries if table in q["sql"]]
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"


def test_a_webhook_enrollment_runs_its_first_steps_in_the_enrolling_task(tenant, inline_queue):
    workflow = listening(tenant, "webhook", steps=tags(2)["steps"])
    contact = make_contact(tenant)

    enrollment_id = contact_enroll(
        workflow_id=workflow.pk, contact_id=contact.pk, trigger={"type": "webhook"}
    )
    inline_queue.run_on_commit()

    assert [name for name, _ in inline_queue.sent if name == queue.RUN_STEP] == []
    assert Enrollment.objects.get(pk=enrollment_id).status == "completed"
    assert tag_names(contact) == ["tag0", "tag1"]


def test_the_enrolling_task_does_not_query_the_links_it_has_just_checked(tenant, inline_queue):
    workflow = listening(tenant, "webhook", steps=tags(1)["steps"])
    contact = make_contact(tenant)
    with CaptureQueriesContext(connection) as captured:
        contact_enroll(workflow_id=workflow.pk, contact_id=contact.pk, trigger={"type": "webhook"})
        inline_queue.run_on_commit()

    joins = [q["sql"] for q in captured.captured_queries if 'INNER JOIN "crm_contact"' in q["sql"]]
    assert joins == []
    assert Enrollment.objects.get(workflow=workflow).status == "completed"


def test_a_tag_added_by_a_step_still_fires_tag_added_triggers(tenant, inline_queue):
    listener = listening(tenant, "tag_added", config={"tag": "tag0"})
    contact = make_contact(tenant)
    enrollment_create(workflow=make_published(tenant, tags(1)), contact=contact)

    inline_queue.drain()

    assert Enrollment.objects.filter(workflow=listener, contact=contact).exists()


def test_a_tag_is_linked_by_name_once_and_a_missing_tag_is_reported(tenant):
    contact = make_contact(tenant)
    other = make_tenant()
    Tag.objects.create(tenant=other, name="vip")  # another tenant's tag of the same name
    assert link_tag_named(tenant.pk, contact.pk, "vip") is None

    Tag.objects.create(tenant=tenant, name="vip")
    with listening_to_post_save(ContactTag) as saved:
        assert link_tag_named(tenant.pk, contact.pk, "vip") is True
        assert link_tag_named(tenant.pk, contact.pk, "vip") is False
    assert [(link.contact_id, link.tag.name, link.tag.tenant_id) for link in saved] == [
        (contact.pk, "vip", tenant.pk)
    ]
    assert tag_names(contact) == ["vip"]


@register
class SlowInDatabaseHandler(StepHandler):
    """A database-only step that takes 20 ms."""

    kind = "test_slow_in_database"
    in_database = True

    def handle(self, ctx, step):
        time.sleep(0.02)
        return StepResult(output={})


def test_steps_of_one_transaction_are_logged_with_their_real_start(tenant, inline_queue):
    slow = [{"id": f"s{i}", "type": "test_slow_in_database", "config": {}} for i in range(3)]
    enrollment = enrollment_create(
        workflow=make_published(tenant, {"steps": slow}), contact=make_contact(tenant)
    )
    inline_queue.drain()

    logs = list(StepLog.objects.filter(enrollment=enrollment).order_by("id"))
    assert [log.step_id for log in logs] == ["s0", "s1", "s2"]
    for before, after in itertools.pairwise(logs):
        assert after.started_at - before.started_at >= timedelta(milliseconds=20)
        assert after.started_at >= before.finished_at
