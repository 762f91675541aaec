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
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connections

from engine.models import SideEffectAttempt
from workflows.models import SideEffect

logger = logging.getLogger(__name__)
# Keys of this step execution whose provider call may already have happened (see journal).
_possible_duplicates: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "possible_duplicates", default=None
)
_journal = threading.local()


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
    """
    if connections["default"].vendor != "postgresql":
        return None
    connection = getattr(_journal, "connection", None)
    if connection is None:
        connection = _journal.connection = connections.create_connection("default")
    return connection


def _journal_attempt(key: str) -> bool:
    """Record that a call for ``key`` is about to be made; True if one was recorded before."""
    connection = _journal_connection()
    if connection is None:
        return False
    table = SideEffectAttempt._meta.db_table
    try:
        connection.close_if_unusable_or_obsolete()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (key, started_at) VALUES (%s, now()) "  # noqa: S608
                "ON CONFLICT (key) DO NOTHING RETURNING id",
                [key],
            )
            return cursor.fetchone() is None
    except DatabaseError:
        logger.warning("could not journal the call for %s", key, exc_info=True)
        return False


def perform_once(
    *,
    key: str,
    tenant_id: int,
    enrollment_id: int | None,
    step_id: str,
    kind: str,
    action: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """Run ``action`` unless ``key`` already has a result; returns (result, replayed)."""
    existing = SideEffect.objects.filter(key=key).first()
    if existing is not None and existing.status == SideEffect.Status.DONE:
        return dict(existing.result or {}), True
    fields = {"tenant_id": tenant_id, "enrollment_id": enrollment_id, "step_id": step_id}
    if _journal_attempt(key) or existing is not None:
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
