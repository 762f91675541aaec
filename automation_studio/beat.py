"""Beat's scheduler: django-celery-beat's DatabaseScheduler, safe to stop while it starts.

Celery beat stops on SIGTERM or SIGINT by running a handler that saves the schedule
(``service.sync()``, which uses the database) and raises ``SystemExit``. Python runs a
signal handler between any two bytecodes of the main thread, so a stop that arrives while
the scheduler is still setting up — reading and writing its ``PeriodicTask`` rows, importing
the ORM's SQL compiler for the first time — runs that database code in the middle of other
database code. Seen on this project (``tests/test_readme_commands.py``, README's beat
command stopped as soon as it printed ``beat: Starting``):

- exit code 1 with ``partially initialized module 'django.db.models.sql.compiler' has no
  attribute 'SQLCompiler'`` (the handler used a module whose import it had interrupted);
- or no exit at all: the handler closed the connection under a ``get_or_create``, the
  ``SystemExit`` was lost in the error handling around it, and beat went on ticking.

So the scheduler defers SIGTERM and SIGINT while it sets up and delivers a deferred one
right after, when nothing is half-done; a stop then behaves as it does at any other time
(schedule saved, exit code 0).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

from django_celery_beat.schedulers import DatabaseScheduler

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def deferred_stop_signals() -> Iterator[None]:
    """Hold SIGTERM and SIGINT for the duration of the block, then re-send the first one.

    Only the main thread may change signal handlers, and only it runs them; elsewhere (beat
    embedded in a worker with ``-B`` runs in a thread) this is a no-op. The process's own
    handlers are restored before a held signal is re-sent, so that handler sees it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def hold(signum, frame) -> None:
        held.append(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:
            os.kill(os.getpid(), held[0])


class StudioScheduler(DatabaseScheduler):
    """DatabaseScheduler whose setup cannot be interrupted half-way by a stop signal."""

    def setup_schedule(self) -> None:
        with deferred_stop_signals():
            super().setup_schedule()
