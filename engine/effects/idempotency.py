"""Exactly-once side effects: one SideEffect row per (enrollment, step, visit) key.

Called inside the executor's transaction, which holds the enrollment's row lock, so two
deliveries of one step never act at once. A re-run finds the stored result and returns it.
If a worker dies mid-call the transaction (and the row) roll back; the step runs again
with the same key, which the provider receives too (``Idempotency-Key``, Twilio's
idempotency token, the email Message-ID) so it can drop the duplicate on its side.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connections

from engine.effects.durability import IN_DATABASE_KINDS, in_step_transaction, reached_outside
from engine.models import SideEffectAttempt
from workflows.models import SideEffect

logger = logging.getLogger(__name__)
# Keys of this step execution whose provider call may already have happened (see journal).
_possible_duplicates: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "possible_duplicates", default=None
)
_journal = threading.local()
# Every thread's journal connection, so close_journal() can reach them all.
_journal_connections: weakref.WeakSet = weakref.WeakSet()


def watch_duplicates() -> contextvars.Token:
    """Start collecting possible duplicates for one step execution (the executor calls it)."""
    return _possible_duplicates.set(set())


def possible_duplicates(token: contextvars.Token) -> bool:
    """Stop collecting; True when the step re-sent a call that may have completed before."""
    found = bool(_possible_duplicates.get())
    _possible_duplicates.reset(token)
    return found


def _journal_connection():
    """A connection of its own (autocommit), so the attempt row outlives a rolled-back step.

    PostgreSQL only: SQLite allows one writer, which the step's transaction already is.
    ``synchronous_commit`` is off on it: the row is visible to every other session as soon as
    it is written (what the next run of the step needs after a worker dies), and only a crash
    of PostgreSQL itself could lose the last few milliseconds of them — which would also roll
    back the steps they belong to. It saves a WAL flush per side effect.
    """
    if connections["default"].vendor != "postgresql":
        return None
    connection = getattr(_journal, "connection", None)
    if connection is None:
        connection = _journal.connection = connections.create_connection("default")
        _journal_connections.add(connection)
    return connection


def close_journal() -> None:
    """Close every thread's journal connection (idle between calls); the next call reopens.

    For the end of a test session, whose database cannot be dropped while one is open.
    """
    for connection in list(_journal_connections):
        # Made in other threads (live servers, worker threads): Django's own way to allow it.
        connection.inc_thread_sharing()
        try:
            connection.close()
        finally:
            connection.dec_thread_sharing()


def _journal_attempt(key: str) -> bool | None:
    """Record that a call for ``key`` is about to be made.

    Returns True when this is the first attempt ever for ``key``, False when one was recorded
    before (it may have completed), None when there is no journal (SQLite, or PostgreSQL
    could not write it: then the caller looks the key up as if it had been attempted).
    """
    connection = _journal_connection()
    if connection is None:
        return None
    table = SideEffectAttempt._meta.db_table
    try:
        if connection.connection is not None:
            connection.close_if_unusable_or_obsolete()
        if connection.connection is None:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (key, started_at) VALUES (%s, now()) "  # noqa: S608
                "ON CONFLICT (key) DO NOTHING RETURNING id",
                [key],
            )
            return cursor.fetchone() is not None
    except DatabaseError:
        logger.warning("could not journal the call for %s", key, exc_info=True)
        return None


def perform_once(
    *,
    key: str,
    tenant_id: int,
    enrollment_id: int | None,
    step_id: str,
    kind: str,
    action: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """Run ``action`` unless ``key`` already has a result; returns (result, replayed).

    The journal is written first: a key never attempted before cannot have a SideEffect row
    (every row is written after its attempt; migration engine 0004 journalled the older ones),
    so the first attempt skips the lookup — one statement fewer per side-effect step.

    A kind that only writes this database (``IN_DATABASE_KINDS``) run inside the executor's
    step transaction needs neither the journal nor a row: its writes commit with the
    enrollment's advance under the enrollment's lock, or roll back with it, so a re-run only
    ever follows a run that left no trace. ``replayed`` is then always False.
    """
    if kind in IN_DATABASE_KINDS:
        if in_step_transaction():
            return action(), False
    else:
        reached_outside()  # the step's commit must wait for the disk (engine/effects/durability.py)
    first_attempt = _journal_attempt(key)
    existing = None if first_attempt else SideEffect.objects.filter(key=key).first()
    if existing is not None and existing.status == SideEffect.Status.DONE:
        return dict(existing.result or {}), True
    fields = {"tenant_id": tenant_id, "enrollment_id": enrollment_id, "step_id": step_id}
    if first_attempt is False or existing is not None:
        watching = _possible_duplicates.get()
        if watching is not None:
            watching.add(key)
        logger.warning("re-sending %s after an attempt that may have completed", key)
    try:
        result = action()
    except Exception:
        # The attempt may have reached the provider: leave a trace; a retry re-sends with
        # the same key. (One row write on failure only; success writes the row once, below.)
        if existing is None:
            SideEffect.objects.create(key=key, kind=kind, **fields)
        raise
    if existing is None:
        SideEffect.objects.create(
            key=key, kind=kind, status=SideEffect.Status.DONE, result=result, **fields
        )
    else:
        existing.status = SideEffect.Status.DONE
        existing.result = result
        existing.save(update_fields=["status", "result", "updated_at"])
    return result, False


def step_once(
    ctx, *, tenant_id: int, step_id: str, kind: str, action: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``perform_once`` keyed by the running step (ctx is the handler's StepContext)."""
    result, _replayed = perform_once(
        key=ctx.idempotency_key(step_id),
        tenant_id=tenant_id,
        enrollment_id=ctx.enrollment_id,
        step_id=step_id,
        kind=kind,
        action=action,
    )
    return result
