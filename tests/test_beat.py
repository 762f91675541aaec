"""Beat stops cleanly however early it is stopped (automation_studio/beat.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis
from django.db import connection
from django_celery_beat.schedulers import DatabaseScheduler

from automation_studio.beat import StudioScheduler, deferred_stop_signals
from tests.conftest import redis_url
from tests.e2e_worker import ROOT, broker_url_for, database_url


def test_a_stop_signal_is_held_until_the_block_ends_then_delivered():
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with deferred_stop_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the interpreter runs pending handlers between bytecodes
            assert seen == []
        assert seen == [signal.SIGTERM]
        # The process's own handler is back in place afterwards.
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert seen == [signal.SIGTERM, signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_block_changes_no_handler_off_the_main_thread():
    # Beat embedded in a worker (-B) sets up in a thread, where handlers cannot be changed.
    errors: list[BaseException] = []
    before = signal.getsignal(signal.SIGINT)

    def run() -> None:
        try:
            with deferred_stop_signals():
                assert signal.getsignal(signal.SIGINT) is before
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert errors == []


def test_the_scheduler_sets_up_with_stop_signals_held(monkeypatch):
    seen: list[str] = []

    def setup_schedule(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        seen.append("setup done")

    monkeypatch.setattr(DatabaseScheduler, "setup_schedule", setup_schedule)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append("stopped"))
    try:
        StudioScheduler.setup_schedule(StudioScheduler.__new__(StudioScheduler))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == ["setup done", "stopped"]


@pytest.mark.e2e
def test_beat_stopped_the_moment_it_starts_saves_and_exits_zero(
    require_postgres, require_redis, transactional_db
):
    """Before the fix: exit 1 (a half-imported SQL compiler) or no exit at all, 8 tries in 8."""
    prefix = f"beat-{uuid.uuid4().hex[:12]}:"
    broker = broker_url_for(redis_url())
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "CELERY_BROKER_URL": broker,
        "STUDIO_E2E_KEYPREFIX": prefix,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "automation_studio", "beat", "-l", "INFO"]
    try:
        # The stop lands at several points of the scheduler's setup (the window that hung
        # or crashed was a few tens of ms wide, ~30 ms after the line).
        for delay in [step * 0.0125 for step in range(10)]:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            lines = []
            for line in process.stdout:
                lines.append(line)
                if "beat: Starting" in line:
                    time.sleep(delay)
                    process.send_signal(signal.SIGTERM)
                    break
            try:
                rest, _ = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                rest, _ = process.communicate()
                pytest.fail("beat ignored SIGTERM:\n" + "".join(lines) + rest[-3000:])
            output = "".join(lines) + rest
            assert process.returncode == 0, output[-3000:]
            assert "Traceback" not in output, output[-3000:]
    finally:
        client = redis.Redis.from_url(broker)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
