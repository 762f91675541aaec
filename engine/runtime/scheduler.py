"""Claiming due ScheduledActions so that two beats or many workers never run one twice.

PostgreSQL: ``FOR UPDATE SKIP LOCKED`` in one UPDATE … RETURNING, so concurrent claimers
take disjoint batches. SQLite: a single UPDATE … RETURNING is atomic under its one-writer
lock, which is the safe equivalent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from engine.models import WebhookDelivery
from engine.runtime import queue
from workflows.models import Enrollment, ScheduledAction, StepLog

TABLE = ScheduledAction._meta.db_table


def _claim(*, now: datetime, until: datetime, limit: int) -> list[tuple[int, datetime]]:
    skip_locked = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = f"""
        UPDATE {TABLE} SET status = 'claimed', claimed_at = %s, attempts = attempts + 1
        WHERE id IN (
            SELECT id FROM {TABLE}
            WHERE status = 'pending' AND due_at <= %s
            ORDER BY due_at LIMIT %s {skip_locked}
        ) AND status = 'pending'
        RETURNING id, due_at
    """  # noqa: S608 - the table name is ours, every value is a parameter
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [now, until, limit])
        rows = cursor.fetchall()
    # A raw cursor skips Django's converters: SQLite hands back naive UTC datetimes.
    return [
        (pk, due if timezone.is_aware(due) else timezone.make_aware(due, UTC)) for pk, due in rows
    ]


def claim_due(
    *, now: datetime | None = None, limit: int = 500, lookahead: timedelta = timedelta(0)
) -> list[int]:
    """Mark up to ``limit`` pending actions due by ``now + lookahead`` as claimed; their ids."""
    now = now or timezone.now()
    return [row[0] for row in _claim(now=now, until=now + lookahead, limit=limit)]


def tick(
    *,
    now: datetime | None = None,
    limit: int = 500,
    max_batches: int = 20,
    lookahead: timedelta = timedelta(0),
) -> int:
    """Claim due work in batches and enqueue each action; returns how many were enqueued.

    With a ``lookahead`` (beat passes its own interval) work due before the next tick is
    claimed now and sent with its due time as the task's ETA, so it starts on time instead of
    up to one interval late.
    """
    now = now or timezone.now()
    total = 0
    for _ in range(max_batches):
        rows = _claim(now=now, until=now + lookahead, limit=limit)
        for action_id, due_at in rows:
            if due_at > now:
                queue.dispatch_at(queue.RUN_ACTION, [action_id], eta=due_at)
            else:
                queue.dispatch(queue.RUN_ACTION, [action_id])
        total += len(rows)
        if len(rows) < limit:
            break
    return total


def sweep(*, now: datetime | None = None, stale_after: timedelta | None = None) -> dict[str, int]:
    """Re-send work nobody holds: a lost enqueue, or a worker killed mid-step.

    Covers claimed ScheduledActions, active Enrollments and WebhookDeliveries with no outcome
    (accepted, not yet enrolled); returns how many of each were re-sent.

    A step runs inside a transaction that holds its enrollment's row lock (a scheduled action's
    too), and a dead worker's connection drops, which releases its locks at once. So on
    PostgreSQL, work that is not locked and has not moved for one lease
    (``STUDIO_WORK_LEASE_SECONDS``) is held by nobody and is re-sent now, however long steps
    take elsewhere; its clock is touched so it is re-sent at most once per lease. Databases
    without row locks wait ``STUDIO_SWEEP_STALE_SECONDS`` instead. Duplicates are harmless:
    the executor drops a step whose enrollment has moved on.
    """
    now = now or timezone.now()
    locks = connection.vendor == "postgresql"
    if stale_after is None:
        seconds = (
            settings.STUDIO_WORK_LEASE_SECONDS if locks else settings.STUDIO_SWEEP_STALE_SECONDS
        )
        stale_after = timedelta(seconds=seconds)
    cutoff = now - stale_after
    with transaction.atomic():
        actions = ScheduledAction.objects.filter(
            status=ScheduledAction.Status.CLAIMED, claimed_at__lt=cutoff
        )
        claimed = list(_unheld(actions, locks).values_list("id", flat=True)[:1000])
        ScheduledAction.objects.filter(pk__in=claimed).update(claimed_at=now)
        enrollments = Enrollment.objects.filter(
            status=Enrollment.Status.ACTIVE, updated_at__lt=cutoff
        ).exclude(current_step="")
        stalled = list(
            _unheld(enrollments, locks).values_list("id", "current_step", "step_count")[:1000]
        )
        Enrollment.objects.filter(pk__in=[row[0] for row in stalled]).update(updated_at=now)
        # Webhook deliveries whose enrollment is still owed (no outcome): the enqueue was lost
        # or the task died before its transaction committed. A running task's claim locks
        # the row, so it is skipped like a held enrollment.
        deliveries = WebhookDelivery.objects.filter(outcome="", sent_at__lt=cutoff)
        owed = list(
            _unheld(deliveries, locks)
            .filter(trigger__isnull=False)
            .values_list("id", "workflow_id", "trigger")[:1000]
        )
        WebhookDelivery.objects.filter(pk__in=[row[0] for row in owed]).update(sent_at=now)
    for action_id in claimed:
        queue.dispatch(queue.RUN_ACTION, [action_id])
    for enrollment_id, step_id, seq in stalled:
        queue.dispatch(queue.RUN_STEP, [enrollment_id, step_id, seq])
    # Owed deliveries go in batches (one task each, as a burst of requests does).
    size = queue.enrollments.max_items
    for start in range(0, len(owed), size):
        chunk = owed[start : start + size]
        batch = [
            queue.delivery_enroll_args(workflow_id, pk, trigger)
            for pk, workflow_id, trigger in chunk
        ]
        queue.dispatch(queue.ENROLL_MANY, [batch])
    return {"actions": len(claimed), "enrollments": len(stalled), "deliveries": len(owed)}


def _unheld(queryset, locks: bool):
    """Rows no live worker holds: skip those locked by a running step (PostgreSQL)."""
    return queryset.select_for_update(skip_locked=True, of=("self",)) if locks else queryset


def purge_step_logs(
    *, now: datetime | None = None, batch: int = 5000, max_batches: int = 100
) -> int:
    """Delete step logs older than the retention setting, a batch at a time."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.STUDIO_STEP_LOG_RETENTION_DAYS)
    deleted = 0
    for _ in range(max_batches):
        ids = list(
            StepLog.objects.filter(started_at__lt=cutoff).values_list("id", flat=True)[:batch]
        )
        if not ids:
            break
        StepLog.objects.filter(id__in=ids).delete()
        deleted += len(ids)
    return deleted
