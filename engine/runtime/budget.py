"""How long one task may go on running an enrollment's steps before it yields.

A task runs the enrollment's next step itself, in a new transaction, instead of sending it
through the broker, until the next step must wait (a wait, a delay, a retry) or this budget is
spent; then it sends the next step to the back of the queue, so one long journey never keeps
a worker from the others. Settings: ``STUDIO_TASK_TIME_BUDGET_MS`` (milliseconds, default
1000) and ``STUDIO_TASK_MAX_STEPS`` (steps, default 50).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings


@dataclass
class TaskBudget:
    """Steps and wall time left to the running task (``time.monotonic`` seconds)."""

    deadline: float
    steps_left: int

    @classmethod
    def start(cls) -> TaskBudget:
        """A fresh budget: the settings' steps and seconds from now, but never past the
        deadline of a batch this thread is running (``batch_deadline``)."""
        seconds = int(getattr(settings, "STUDIO_TASK_TIME_BUDGET_MS", 1000)) / 1000
        steps = int(getattr(settings, "STUDIO_TASK_MAX_STEPS", 50))
        deadline = time.monotonic() + seconds
        shared = getattr(_batch, "deadline", None)
        return cls(deadline=deadline if shared is None else min(deadline, shared), steps_left=steps)

    @classmethod
    def single(cls) -> TaskBudget:
        """One transaction's worth: what a caller that must not run on uses."""
        return cls(deadline=0.0, steps_left=0)

    def spend(self, steps: int = 1) -> None:
        self.steps_left -= steps

    @property
    def left(self) -> bool:
        return self.steps_left > 0 and time.monotonic() < self.deadline


_batch = threading.local()


@contextmanager
def batch_deadline() -> Iterator[None]:
    """One time budget (``STUDIO_TASK_TIME_BUDGET_MS``) for a task that runs many journeys
    (``enroll_contacts``): each starts with its own step count, but once the batch's time is
    spent each runs only its first transaction and queues the rest, so a batch holds a worker
    about as long as one journey may."""
    seconds = int(getattr(settings, "STUDIO_TASK_TIME_BUDGET_MS", 1000)) / 1000
    outer = getattr(_batch, "deadline", None)
    _batch.deadline = time.monotonic() + seconds if outer is None else outer
    try:
        yield
    finally:
        _batch.deadline = outer
