from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from engine.runtime import queue, scheduler
from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_published, make_tenant
from workflows.models import Enrollment, ScheduledAction, StepLog

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
WAIT_FLOW = {
    "name": "Waits",
    "steps": [
        {"id": "nap", "type": "wait", "config": {"duration": "1h"}},
        {"id": "bye", "type": "exit", "config": {"reason": "done"}},
    ],
}


def enrolled_waiting(count: int) -> list[Enrollment]:
    tenant = make_tenant()
    workflow = make_published(tenant, WAIT_FLOW)
    return [
        enrollment_create(workflow=workflow, contact=make_contact(tenant)) for _ in range(count)
    ]


def add_actions(enrollment: Enrollment, *, due: list[datetime]) -> None:
    ScheduledAction.objects.bulk_create(
        ScheduledAction(
            tenant_id=enrollment.tenant_id,
            enrollment=enrollment,
            step_id="bye",
            due_at=at,
            kind="resume",
        )
        for at in due
    )


@pytest.mark.django_db
def test_it_claims_only_due_pending_rows_and_marks_them_claimed():
    (enrollment,) = enrolled_waiting(1)
    add_actions(enrollment, due=[NOW - timedelta(minutes=1), NOW, NOW + timedelta(seconds=1)])
    claimed = scheduler.claim_due(now=NOW)
    assert len(claimed) == 2
    rows = ScheduledAction.objects.filter(id__in=claimed)
    assert {r.status for r in rows} == {"claimed"}
    assert {r.attempts for r in rows} == {1}
    assert scheduler.claim_due(now=NOW) == []


@pytest.mark.django_db
def test_tick_claims_in_batches_and_enqueues_every_due_row():
    (enrollment,) = enrolled_waiting(1)
    add_actions(enrollment, due=[NOW - timedelta(seconds=s) for s in range(25)])
    sent = []
    with queue.use_dispatcher(lambda name, args: sent.append((name, args))):
        assert scheduler.tick(now=NOW, limit=10) == 25
    assert len(sent) == 25
    assert {name for name, _ in sent} == {queue.RUN_ACTION}
    assert len({args[0] for _, args in sent}) == 25


@pytest.mark.django_db
def test_sweep_resends_old_claims_and_stalled_enrollments():
    enrollment, stalled = enrolled_waiting(2)
    add_actions(enrollment, due=[NOW - timedelta(hours=1)])
    scheduler.claim_due(now=NOW - timedelta(minutes=5))
    Enrollment.objects.filter(pk=stalled.pk).update(
        status="active", current_step="bye", updated_at=NOW - timedelta(minutes=10)
    )
    sent = []
    with queue.use_dispatcher(lambda name, args: sent.append((name, args))):
        result = scheduler.sweep(now=NOW, stale_after=timedelta(minutes=1))
    assert result == {"actions": 1, "enrollments": 1, "deliveries": 0}
    assert (queue.RUN_STEP, [stalled.pk, "bye", stalled.step_count]) in sent


@pytest.mark.django_db
def test_purge_deletes_only_logs_past_retention(settings):
    settings.STUDIO_STEP_LOG_RETENTION_DAYS = 30
    tenant = make_tenant()
    for age in (40, 31, 29, 1):
        StepLog.objects.create(
            tenant=tenant, step_id=f"s{age}", step_type="wait", started_at=NOW - timedelta(days=age)
        )
    assert scheduler.purge_step_logs(now=NOW, batch=1) == 2
    assert sorted(StepLog.objects.values_list("step_id", flat=True)) == ["s1", "s29"]


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_claiming_at_once_never_share_a_row(require_postgres):
    (enrollment,) = enrolled_waiting(1)
    add_actions(enrollment, due=[NOW - timedelta(seconds=s) for s in range(400)])
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claimer():
        try:
            barrier.wait()
            mine = []
            while batch := scheduler.claim_due(now=NOW, limit=7):
                mine.extend(batch)
            results.append(mine)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [i for batch in results for i in batch]
    assert len(claimed) == 400
    assert len(set(claimed)) == 400


@pytest.mark.django_db
def test_a_due_wait_resumes_through_the_action_task(inline_queue):
    with time_machine.travel(NOW, tick=False):
        (enrollment,) = enrolled_waiting(1)
        inline_queue.drain()
    with time_machine.travel(NOW + timedelta(hours=1, seconds=1), tick=False):
        inline_queue.tick()
        # A second delivery of the same action finds it done.
        action = ScheduledAction.objects.get(enrollment=enrollment)
        from engine.runtime import executor

        assert executor.action_run(action_id=action.pk) == "done-already"
        assert executor.action_run(action_id=987_654) == "gone"
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "done")


@pytest.mark.django_db
def test_a_tick_claims_work_due_before_the_next_tick_and_sends_it_with_an_eta(monkeypatch):
    (enrollment,) = enrolled_waiting(1)
    add_actions(
        enrollment,
        due=[NOW - timedelta(seconds=1), NOW + timedelta(seconds=1), NOW + timedelta(seconds=5)],
    )
    sent = []
    monkeypatch.setattr(queue.app, "send_task", lambda name, args, **kw: sent.append(kw))
    assert scheduler.tick(now=NOW, lookahead=timedelta(seconds=2)) == 2
    assert sorted(kw.get("eta") is not None for kw in sent) == [False, True]
    assert {kw["eta"] for kw in sent if kw.get("eta")} == {NOW + timedelta(seconds=1)}
    assert ScheduledAction.objects.filter(status="pending").count() == 1
