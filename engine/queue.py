"""Sending work to the broker by task name, so the executor does not import the tasks module.

Tests may swap the dispatcher (``use_dispatcher``) to run steps inline without a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from automation_studio.celery import app

RUN_STEP = "engine.tasks.run_step"
RUN_ACTION = "engine.tasks.run_scheduled_action"
ENROLL = "engine.tasks.enroll_contact"


def _send(name: str, args: list[Any]) -> None:
    app.send_task(name, args=args)


_dispatcher: Callable[[str, list[Any]], None] = _send


def dispatch(name: str, args: list[Any]) -> None:
    _dispatcher(name, args)


@contextmanager
def use_dispatcher(dispatcher: Callable[[str, list[Any]], None]) -> Iterator[None]:
    global _dispatcher
    previous, _dispatcher = _dispatcher, dispatcher
    try:
        yield
    finally:
        _dispatcher = previous
