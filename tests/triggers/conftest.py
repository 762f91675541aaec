"""Fixtures for trigger tests: a queue that runs trigger tasks inline and keeps step tasks."""

from __future__ import annotations

import pytest
from django.db import connection

import engine.triggers.tasks as tasks_triggers
from engine.runtime import queue
from engine.triggers import matching
from engine.triggers.bus import DISPATCH_EVENT
from engine.triggers.schedule import RUN_SCHEDULE
from engine.triggers.webhooks import ENROLL

ENROLL_MANY = queue.ENROLL_MANY

TRIGGER_TASKS = {
    DISPATCH_EVENT: tasks_triggers.dispatch_event,
    ENROLL: tasks_triggers.enroll_contact,
    ENROLL_MANY: tasks_triggers.enroll_contacts,
    RUN_SCHEDULE: tasks_triggers.run_schedule,
}


class TriggerQueue:
    """Collects dispatched tasks; ``drain()`` commits (runs on_commit callbacks) then runs
    the trigger tasks inline, leaving step tasks in ``sent`` for the test to inspect."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []

    def __call__(self, name: str, args: list) -> None:
        self.sent.append((name, list(args)))

    def commit(self) -> None:
        while connection.run_on_commit:
            callbacks = list(connection.run_on_commit)
            connection.run_on_commit.clear()
            for _sids, callback, _robust in callbacks:
                callback()

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    def drain(self) -> list:
        results = []
        for _ in range(1000):
            self.commit()
            runnable = [item for item in self.sent if item[0] in TRIGGER_TASKS]
            if not runnable:
                return results
            self.sent.remove(runnable[0])
            name, args = runnable[0]
            results.append(TRIGGER_TASKS[name](*args))
        raise AssertionError("trigger tasks did not settle")


@pytest.fixture
def trigger_queue():
    collector = TriggerQueue()
    with queue.use_dispatcher(collector):
        yield collector


@pytest.fixture(autouse=True)
def _fresh_trigger_index():
    # Tenants are rebuilt per test with recycled ids on some databases: no stale index.
    matching.invalidate()
    yield
    matching.invalidate()
