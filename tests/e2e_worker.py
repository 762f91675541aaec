"""A real Celery worker process for end-to-end tests, on PostgreSQL and Redis.

Import the fixture in a conftest.py, use it with ``transactional_db`` (rows must be
committed to be seen by the worker)::

    # conftest.py
    from tests.e2e_worker import e2e_worker  # noqa: F401

    def test_x(require_postgres, require_redis, transactional_db, e2e_worker):
        with e2e_worker.dispatching():      # engine tasks go to the worker's broker
            ...                             # save something
        e2e_worker.wait_for(lambda: Enrollment.objects.exists())

The worker is started once per session against the test database pytest-django created
and Redis (database ``e2e_broker_db``, every key under the worker's own prefix, so parallel
runs on one server never meet), and stopped at the end of the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse, urlunparse

import pytest
import redis
from celery import Celery

from tests.conftest import missing_service, redis_url

ROOT = Path(__file__).resolve().parents[1]
BROKER_DB = 15


def e2e_broker_db(url: str) -> int:
    """The configured database number + 8 (15 above 7): runs sharing one Redis server, each
    on its own database 0–7, never flush or consume each other's e2e broker."""
    configured = urlparse(url).path.strip("/")
    number = int(configured) if configured.isdigit() else 0
    return number + 8 if number < 8 else BROKER_DB


def broker_url_for(url: str, db: int | None = None) -> str:
    """The same Redis server, database ``db`` (by default the e2e database for ``url``)."""
    db = e2e_broker_db(url) if db is None else db
    return urlunparse(urlparse(url)._replace(path=f"/{db}"))


def database_url(settings_dict: dict[str, Any]) -> str:
    user = quote(settings_dict.get("USER") or "")
    password = quote(settings_dict.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(settings_dict['NAME'])}"


class WorkerProcess:
    """A running ``celery worker`` subprocess and a producer for its broker."""

    def __init__(
        self,
        *,
        broker_url: str,
        db_url: str,
        concurrency: int = 4,
        keyprefix: str | None = None,
        forget_keys: bool = True,
    ):
        self.broker_url = broker_url
        # Every key of this worker's broker under a prefix of its own (see tests/settings.py);
        # a restarted worker passes its predecessor's prefix to find the same queue.
        self.keyprefix = keyprefix or f"e2e-{uuid.uuid4().hex[:12]}:"
        self.forget_keys = forget_keys
        # Open for the worker's whole life; closed and removed in stop().
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="e2e-worker-", suffix=".log", delete=False
        )
        self.app = Celery("e2e-producer", broker=broker_url, set_as_current=False)
        self.app.conf.broker_transport_options = {"global_keyprefix": self.keyprefix}
        env = {
            **os.environ,
            "STUDIO_E2E_KEYPREFIX": self.keyprefix,
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": broker_url,
            "DEBUG": "1",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "tests.settings",
        }
        command = [
            sys.executable, "-m", "celery", "-A", "automation_studio", "worker",
            "--pool", "threads", "-c", str(concurrency), "-l", "info",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"e2e-{os.getpid()}@%h",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early; log:\n{self.output()}")
            # Celery logs "<name> ready." once it consumes from the broker.
            if " ready." in self.output():
                return
            time.sleep(0.1)
        raise RuntimeError(f"celery worker not ready after {timeout} s; log:\n{self.output()}")

    def dispatch(self, name: str, args: list[Any]) -> None:
        # An explicit connection: Celery prefers $CELERY_BROKER_URL over broker= otherwise.
        with self.app.connection_for_write(self.broker_url) as connection:
            self.app.send_task(name, args=args, connection=connection)

    @contextmanager
    def dispatching(self) -> Iterator[None]:
        """Send the engine's tasks (engine.runtime.queue) to this worker while inside the block."""
        from engine.runtime import queue

        with queue.use_dispatcher(self.dispatch):
            yield

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Poll ``predicate`` until it returns something truthy; fail with the worker's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        pytest.fail(f"condition not met within {timeout} s; worker log:\n{self.output()[-4000:]}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def _forget_keys(self) -> None:
        client = redis.Redis.from_url(self.broker_url, socket_connect_timeout=1)
        keys = list(client.scan_iter(match=f"{self.keyprefix}*", count=500))
        if keys:
            client.delete(*keys)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.app.close()
        if self.forget_keys:
            self._forget_keys()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def e2e_worker(django_db_setup, django_db_blocker) -> Iterator[WorkerProcess]:
    """One real worker for the session, on the test database and its own Redis keys."""
    from django.db import connection

    if connection.vendor != "postgresql":
        missing_service("PostgreSQL is not configured (set DATABASE_URL=postgres://…)")
    url = redis_url()
    if url is None:
        missing_service("Redis is not configured (set CELERY_BROKER_URL=redis://…)")
    broker = broker_url_for(url)
    try:
        redis.Redis.from_url(broker, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        missing_service(f"Redis at {url} is not reachable: {exc}")
    worker = WorkerProcess(broker_url=broker, db_url=database_url(connection.settings_dict))
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()
