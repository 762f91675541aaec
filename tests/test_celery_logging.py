"""The worker's and beat's logs leave out the periodic housekeeping lines (automation_studio/
celery.py), so what matters stays readable in the studio's console."""

from __future__ import annotations

import logging

from automation_studio.celery import HousekeepingFilter


def record(level: int, message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("celery", level, __file__, 1, message, args, None)


def test_housekeeping_info_lines_are_dropped_and_everything_else_kept():
    keep = HousekeepingFilter().filter
    assert not keep(record(logging.INFO, "Scheduler: Sending due task %s (%s)",
                           "engine-scheduler-tick", "engine.tasks.scheduler_tick"))  # fmt: skip
    assert not keep(record(logging.INFO, "Task %s[%s] received", "engine.tasks.sweep", "1"))
    assert keep(record(logging.INFO, "Task %s[%s] received", "engine.tasks.run_step", "2"))
    assert keep(record(logging.ERROR, "Task %s[%s] raised", "engine.tasks.sweep", "3"))
    # Hourly purges are rare enough to keep.
    assert keep(record(logging.INFO, "Task %s[%s] received", "engine.tasks.purge_step_logs", "4"))
