"""Which step transactions must wait for the disk when they commit.

A step's transaction normally commits with PostgreSQL's ``synchronous_commit`` on: the commit
waits until its WAL is flushed (1–6 ms on the machines measured in bench/README.md — more than
all the step's statements together). That wait matters only when something outside the
database happened in the step: a message, a call, an HTTP request, an AI answer. If such a step
were lost by a crash of PostgreSQL after the commit returned, the step would run again and the
world would see it twice (with the same idempotency key, which not every provider honours).

A step that only changed rows of this database (pure steps, tags, contact fields, tasks) loses
nothing if its commit is asynchronous: PostgreSQL writes WAL in order, so a crash can only roll
back the newest commits, all together, back to a consistent earlier state — the enrollment
where it was before those steps — and the sweep runs them again (``engine.runtime.scheduler``).
Every later synchronous commit (a provider step's, another task's) flushes them anyway.

So the executor tracks, per step transaction, whether anything reached outside
(:func:`reached_outside`, called by ``perform_once`` for every kind not in
:data:`IN_DATABASE_KINDS` and by the SSRF-safe HTTP client), and commits the others without
waiting (:func:`relax_commit_if_local`). Unknown kinds count as outside. The enrollment's own
INSERT always commits synchronously, so a lost step can always be found and re-run.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

# perform_once kinds that write only rows of this database (engine/effects/crm_ops.py).
IN_DATABASE_KINDS = frozenset({"add_tag", "remove_tag", "update_contact", "create_task"})

_outside: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "reached_outside", default=None
)


def reached_outside() -> None:
    """Say that the running step made (or may have made) a call outside the database."""
    flag = _outside.get()
    if flag is not None:
        flag[0] = True


def has_reached_outside() -> bool:
    """True when the step transaction being tracked has reached outside (False untracked)."""
    flag = _outside.get()
    return bool(flag and flag[0])


def in_step_transaction() -> bool:
    """True inside the executor's step transaction (tracked and atomic): what a step writes
    to this database there commits or rolls back together with the enrollment's advance."""
    return _outside.get() is not None and connection.in_atomic_block


@contextmanager
def tracking_outside_calls() -> Iterator[list[bool]]:
    """Track one step transaction; yields a one-item list, True once anything reached out."""
    flag = [False]
    token = _outside.set(flag)
    try:
        yield flag
    finally:
        _outside.reset(token)


def relax_commit_if_local(flag: list[bool]) -> bool:
    """Inside the step's transaction, just before it commits: let it commit without waiting
    for the WAL flush when nothing reached outside (PostgreSQL only). True when relaxed."""
    if flag[0] or connection.vendor != "postgresql" or not connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO off")
    return True
