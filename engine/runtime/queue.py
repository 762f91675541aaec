"""Sending work to the broker by task name, so the executor does not import the tasks module.

Tests may swap the dispatcher (``use_dispatcher``) to run steps inline without a worker.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings

from automation_studio.celery import app

logger = logging.getLogger(__name__)

RUN_STEP = "engine.tasks.run_step"
RUN_ACTION = "engine.tasks.run_scheduled_action"
ENROLL = "engine.tasks.enroll_contact"
ENROLL_MANY = "engine.tasks.enroll_contacts"


def delivery_enroll_args(
    workflow_id: int,
    delivery_pk: int,
    trigger: dict[str, Any],
    *,
    seen: dict[str, Any] | None = None,
) -> list[Any]:
    """The arguments of ``ENROLL`` for a recorded webhook delivery (the request and the sweep
    send the same): workflow id, contact id (from ``trigger``), trigger data, delivery pk, and
    from the request what it saw of the workflow (``seen``: ``tenant_id``, ``version_id`` and
    ``name``; the task then need not read the row, see ``dispatch.contact_enroll``)."""
    args = [workflow_id, trigger.get("contact_id"), trigger, delivery_pk]
    return [*args, seen] if seen else args


def args_brief(args: list[Any]) -> str:
    """What task events and monitors show of a task's arguments (Celery's ``argsrepr`` header):
    numbers, booleans, None and short strings as they are; a dict or list as its size only,
    e.g. ``[4, 52, {…3 keys}, 9443]``.

    Without it Celery builds the header with ``saferepr`` over every argument: for an
    enrollment that is the webhook's whole trigger, body included — its personal data then
    shows in every monitor and event stream that shows task arguments, and the walk costs
    ~54 µs of each request's CPU (this ~2 µs; ``bench/README.md``).
    """
    return "[" + ", ".join(_brief(arg) for arg in args) + "]"


def _brief(value: Any) -> str:
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 64 else f"'{value[:61]}…'"
    if isinstance(value, dict):
        return f"{{…{len(value)} key{'' if len(value) == 1 else 's'}}}"
    if isinstance(value, list | tuple):
        return f"[…{len(value)} item{'' if len(value) == 1 else 's'}]"
    return f"<{type(value).__name__}>"


def _publish(name: str, args: list[Any], **options: Any) -> None:
    app.send_task(name, args=args, argsrepr=args_brief(args), kwargsrepr="{}", **options)


def _send(name: str, args: list[Any]) -> None:
    _publish(name, args)


_dispatcher: Callable[[str, list[Any]], None] = _send


def dispatch(name: str, args: list[Any]) -> None:
    _dispatcher(name, args)


def dispatch_at(name: str, args: list[Any], *, eta: datetime) -> None:
    """Send a task that a worker starts at ``eta`` (only for short look-aheads, not waits)."""
    if _dispatcher is _send:
        _publish(name, args, eta=eta)
    else:
        _dispatcher(name, args)


@contextmanager
def use_dispatcher(dispatcher: Callable[[str, list[Any]], None]) -> Iterator[None]:
    global _dispatcher
    previous, _dispatcher = _dispatcher, dispatcher
    try:
        yield
    finally:
        _dispatcher = previous


class _Flushing(ABC):
    """What both publishers share: items held under a lock, and one background flusher
    thread per process (a forked child — a gunicorn or Celery worker — starts its own and
    forgets what its parent held; process exit flushes)."""

    def __init__(self, thread_name: str) -> None:
        self._items: list[Any] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = 0
        self._thread_name = thread_name

    @abstractmethod
    def flush(self) -> int:
        """Send what is held; how many items went out."""

    @abstractmethod
    def _run(self) -> None:
        """The flusher thread's loop: wait, then ``flush``."""

    def _forked(self) -> None:
        """Reset what a forked child must not inherit (called under the lock)."""
        self._items = []

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._forked()
            thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
            thread.start()
            atexit.register(self.flush)


class BatchingPublisher(_Flushing):
    """Collects items for one list-taking task and publishes them together.

    A save that fires a trigger must not pay a broker round trip (about 1 ms with Redis,
    more than the save itself): items wait here at most ``STUDIO_DISPATCH_BATCH_MS`` and go out
    as one task per batch. A background thread flushes; so does process exit.
    """

    def __init__(self, name: str, *, max_items: int = 200) -> None:
        super().__init__(f"batch-{name}")
        self.name = name
        self.max_items = max_items

    def add(self, item: Any) -> None:
        delay_ms = int(getattr(settings, "STUDIO_DISPATCH_BATCH_MS", 100))
        if _dispatcher is not _send or delay_ms <= 0:
            dispatch(self.name, [[item]])  # tests and opt-out: straight through
            return
        self._ensure_thread()
        with self._lock:
            self._items.append(item)
            full = len(self._items) >= self.max_items
        if full:
            self._wake.set()

    def flush(self) -> int:
        with self._lock:
            items, self._items = self._items, []
        sent = 0
        try:
            for start in range(0, len(items), self.max_items):
                _send(self.name, [items[start : start + self.max_items]])
                sent = start + self.max_items
        except Exception:
            with self._lock:  # keep what did not go out for the next flush
                self._items[:0] = items[sent:]
            raise
        return len(items)

    def _run(self) -> None:
        while True:
            self._wake.wait(int(getattr(settings, "STUDIO_DISPATCH_BATCH_MS", 100)) / 1000)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a broker hiccup must not kill the flusher; items retry later
                logger.exception("publishing %s failed; will retry", self.name)


class LeadingEdgePublisher(_Flushing):
    """Sends one task at once when the process is quiet, and coalesces a burst into batches.

    ``add(args)`` publishes ``single`` with ``args`` straight away when this process sent
    nothing in the last ``STUDIO_WEBHOOK_BATCH_MS`` (default 50 ms): an idle queue sees no
    batching delay (issue 16, "a lean webhook path"). Within that window, arguments wait for
    the window's end and go out together as one ``many`` task (a list of argument lists, at
    most ``max_items`` each) — under load one Celery message and one task start per window
    instead of one per request (~1 ms of worker CPU each, ``bench/README.md``).

    What waits here is only a message: the work itself is recorded (a webhook delivery stays
    owed until its task settles it), so a process killed in the window, or a broker that
    refuses the batch, delays that work until the sweep re-sends it; nothing is lost.
    """

    def __init__(self, single: str, many: str, *, max_items: int = 50) -> None:
        super().__init__(f"edge-{many}")
        self.single, self.many, self.max_items = single, many, max_items
        self._last = -1e9  # monotonic seconds of the last send

    @staticmethod
    def window() -> float:
        """The coalescing window, seconds (``STUDIO_WEBHOOK_BATCH_MS``; 0 turns it off)."""
        return max(0, int(getattr(settings, "STUDIO_WEBHOOK_BATCH_MS", 50))) / 1000

    def add(self, args: list[Any]) -> None:
        window = self.window()
        if _dispatcher is not _send or window <= 0:
            dispatch(self.single, args)  # tests and opt-out: straight through
            return
        self._ensure_thread()
        now = time.monotonic()
        with self._lock:
            lead = not self._items and now - self._last >= window
            if lead:
                self._last = now
            else:
                self._items.append(args)
                if len(self._items) == 1:
                    self._wake.set()  # the flusher sends it when the window ends
        if lead:
            _send(self.single, args)

    def flush(self) -> int:
        """Send what waits, as ``many`` tasks; returns how many argument lists went out.
        A failed send is logged and dropped: the sweep re-sends the owed work."""
        with self._lock:
            items, self._items = self._items, []
            self._last = time.monotonic()
        for start in range(0, len(items), self.max_items):
            try:
                _send(self.many, [items[start : start + self.max_items]])
            except Exception:  # the work is recorded; the sweep sends it again
                logger.exception("publishing %s failed; the sweep re-sends it", self.many)
        return len(items)

    def _forked(self) -> None:
        self._items, self._last = [], -1e9

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                due = self._last + self.window()
            time.sleep(max(0.0, due - time.monotonic()))
            self.flush()


enrollments = LeadingEdgePublisher(ENROLL, ENROLL_MANY)
"""Webhook enrollments (``delivery_enroll_args``): at once when quiet, batched under load."""
