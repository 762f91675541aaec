"""A task's step budget, and the one time budget a batch of journeys shares."""

from __future__ import annotations

import time

import engine.triggers.tasks as trigger_tasks
from engine.runtime.budget import TaskBudget, batch_deadline


def test_a_budget_in_a_batch_never_outlasts_the_batch(settings):
    settings.STUDIO_TASK_TIME_BUDGET_MS = 40
    settings.STUDIO_TASK_MAX_STEPS = 7
    with batch_deadline():
        first = TaskBudget.start()
        fresh = first.left
        time.sleep(0.05)  # the batch's time is spent
        later = TaskBudget.start()
        with batch_deadline():  # a nested batch keeps the outer deadline
            nested = TaskBudget.start()
    alone = TaskBudget.start()

    assert fresh
    assert (later.steps_left, later.left) == (7, False)  # its own steps, the batch's time
    assert later.deadline == first.deadline
    assert nested.deadline == first.deadline
    assert alone.left  # outside a batch: a budget of its own again


def test_a_batch_task_runs_its_journeys_under_one_deadline(settings, monkeypatch):
    settings.STUDIO_TASK_TIME_BUDGET_MS = 1000
    deadlines: list[float] = []

    def enroll(*args):
        deadlines.append(TaskBudget.start().deadline)
        time.sleep(0.01)
        if args[0] == 2:
            raise RuntimeError("one bad delivery")  # logged; the others still run
        return args[0]

    monkeypatch.setattr(trigger_tasks, "enroll_contact", enroll)
    assert trigger_tasks.enroll_contacts([[1], [2], [3]]) == 2
    assert len(deadlines) == 3
    assert len(set(deadlines)) == 1  # not a fresh second for each journey
    assert TaskBudget.start().deadline > deadlines[0]
