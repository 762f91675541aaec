"""How long one task may go on running an enrollment's steps before it yields.

A task runs the enrollment's next step itself, in a new transaction, instead of sending it
through the broker, until the next step must wait (a wait, a delay, a retry) or this budget is
spent; then it sends the next step to the back of the queue, so one long journey never keeps
a worker from the others. Settings: ``STUDIO_TASK_TIME_BUDGET_MS`` (milliseconds, default
1000) and ``STUDIO_TASK_MAX_STEPS`` (steps, default 50).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings


@dataclass
class TaskBudget:
    """Steps and wall time left to the running task (``time.monotonic`` seconds)."""

    deadline: float
    steps_left: int

    @classmethod
    def start(cls) -> TaskBudget:
        seconds = int(getattr(settings, "STUDIO_TASK_TIME_BUDGET_MS", 1000)) / 1000
        steps = int(getattr(settings, "STUDIO_TASK_MAX_STEPS", 50))
        return cls(deadline=time.monotonic() + seconds, steps_left=steps)

    @classmethod
    def single(cls) -> TaskBudget:
        """One transaction's worth: what a caller that must not run on uses."""
        return cls(deadline=0.0, steps_left=0)

    def spend(self, steps: int = 1) -> None:
        self.steps_left -= steps

    @property
    def left(self) -> bool:
        return self.steps_left > 0 and time.monotonic() < self.deadline
