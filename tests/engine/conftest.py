from __future__ import annotations

import pytest
from django.db import connection

from automation_studio.celery import app
from engine.runtime import executor, queue, scheduler
from engine.runtime import tasks as _engine_tasks  # noqa: F401  (registers every task by name)
from engine.triggers import tasks as _trigger_tasks  # noqa: F401


class InlineQueue:
    """Collects dispatched tasks; ``drain()`` runs them in order, as one worker would."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []

    def __call__(self, name: str, args: list) -> None:
        self.sent.append((name, list(args)))

    def run_on_commit(self) -> None:
        # Tests run inside one outer transaction, so on_commit callbacks wait there; run
        # them now, as Django's captureOnCommitCallbacks(execute=True) does.
        while connection.run_on_commit:
            callbacks = list(connection.run_on_commit)
            connection.run_on_commit.clear()
            for _sids, callback, _robust in callbacks:
                callback()

    def drain(self, limit: int = 10_000) -> list[str]:
        outcomes = []
        for _ in range(limit):
            self.run_on_commit()
            if not self.sent:
                return outcomes
            name, args = self.sent.pop(0)
            if name == queue.RUN_STEP:
                outcomes.append(
                    executor.step_run(enrollment_id=args[0], step_id=args[1], seq=args[2])
                )
            elif name == queue.RUN_ACTION:
                outcomes.append(executor.action_run(action_id=args[0]))
            else:
                # Any other task (trigger dispatch, enrollment) runs inline by its name.
                outcomes.append(app.tasks[name](*args))
        raise AssertionError("queue did not drain (a loop without waits?)")

    def tick(self) -> list[str]:
        scheduler.tick()
        return self.drain()


@pytest.fixture
def inline_queue():
    collector = InlineQueue()
    with queue.use_dispatcher(collector):
        yield collector
