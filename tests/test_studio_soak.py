"""`python3 run.py studio` on the embedded defaults stays up under load and survives a killed worker.

The studio runs as a new user runs it (SQLite and the embedded filesystem broker), in a var
directory and on a port of its own. A few hundred enrollments go in through the enroll
command in batches; the worker is killed (SIGKILL) once on the way; every enrollment must
complete, the supervisor must say it restarted the worker and why, and the web server must
answer every request made meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
BATCHES = 6
PER_BATCH = 50
WORKFLOW = """
name: Studio soak
trigger: {type: manual}
steps:
  - id: started
    type: add_tag
    config: {tag: soak-started}
  - id: pause
    type: wait
    config: {duration: 3s}
  - id: done
    type: add_tag
    config: {tag: soak-done}
"""
CONTACTS = f"""
from crm.models import Contact, Tenant
tenant = Tenant.objects.get(slug="demo")
Contact.objects.bulk_create(
    Contact(tenant=tenant, first_name=f"Soak{{n}}", email=f"soak{{n}}@example.com",
            custom_fields={{"batch": n // {PER_BATCH}}})
    for n in range({BATCHES * PER_BATCH})
)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def studio_env(var_dir: Path, port: int) -> dict[str, str]:
    """The embedded defaults: none of the test run's database, broker or settings module."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}
    }
    env.update(
        STUDIO_VAR_DIR=str(var_dir),
        PORT=str(port),
        PYTHONUNBUFFERED="1",
        # Work lost with the killed worker is re-sent after 10 s, not the default minute.
        STUDIO_SWEEP_INTERVAL_SECONDS="10",
        STUDIO_SWEEP_STALE_SECONDS="10",
    )
    return env


class Studio:
    """``run.py studio`` as a subprocess whose output is kept in a file."""

    def __init__(self, var_dir: Path, port: int):
        self.env = studio_env(var_dir, port)
        self.port = port
        self.database = var_dir / "studio.sqlite3"
        self.log_path = var_dir.parent / "studio.log"
        self.log = self.log_path.open("w")
        self.survivors: list[int] = []
        self.process = subprocess.Popen(
            [sys.executable, "run.py", "studio"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        pytest.fail(f"no line matching {pattern!r}; studio output:\n{self.output()[-5000:]}")

    def child_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"started \(pid (\d+)\)", self.output())]

    def worker_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"==> worker started \(pid (\d+)\)", self.output())]

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(PYTHON), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    def enrollment_counts(self) -> dict[str, int]:
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as db:
            rows = db.execute(
                "SELECT e.status, COUNT(*) FROM workflows_enrollment e "
                "JOIN workflows_workflow w ON w.id = e.workflow_id "
                "WHERE w.name = 'Studio soak' GROUP BY e.status"
            ).fetchall()
        return dict(rows)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.survivors = [pid for pid in self.child_pids() if alive(pid)]
        for pid in self.survivors:  # never leave a process behind, even when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.log.close()


class Prober(threading.Thread):
    """Asks the web server for the login page every second; keeps every failure."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/admin/login/"
        self.answered = 0
        self.failures: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=30) as response:
                    if response.status == 200:
                        self.answered += 1
                    else:
                        self.failures.append(f"HTTP {response.status}")
            except OSError as exc:
                self.failures.append(repr(exc))
            self.done.wait(1.0)


def filter_for(batch: int) -> str:
    return json.dumps([{"field": "custom_fields.batch", "operator": "equals", "value": batch}])


def test_the_studio_keeps_running_and_finishes_every_enrollment_after_a_killed_worker(tmp_path):
    studio = Studio(tmp_path / "var", free_port())
    prober = Prober(studio.port)
    try:
        studio.wait_for_line(r"==> studio running", timeout=300)
        prober.start()
        flow = tmp_path / "soak.yaml"
        flow.write_text(WORKFLOW)
        studio.manage("import_workflow", str(flow), "--tenant", "demo", "--publish")
        studio.manage("shell", "-c", CONTACTS)
        worker = int(studio.wait_for_line(r"==> worker started \(pid (\d+)\)", 10).group(1))
        for batch in range(BATCHES):
            result = studio.manage(
                "enroll", "Studio soak", "--tenant", "demo", "--filter", filter_for(batch)
            )
            assert f"enrolled {PER_BATCH} of {PER_BATCH}" in result.stdout
            if batch == BATCHES // 2:
                os.kill(worker, signal.SIGKILL)
            time.sleep(2)
        studio.wait_for_line(
            rf"==> worker \(pid {worker}\) was killed by signal SIGKILL; restarting it", 30
        )
        deadline = time.monotonic() + 60
        while len(studio.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert studio.worker_pids()[0] == worker
        assert len(studio.worker_pids()) == 2  # restarted once, and only once
        deadline = time.monotonic() + 300
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            counts = studio.enrollment_counts()
            if counts.get("completed") == BATCHES * PER_BATCH:
                break
            time.sleep(3)
        assert counts == {"completed": BATCHES * PER_BATCH}, studio.output()[-5000:]
        prober.done.set()
        prober.join(timeout=40)
        assert prober.failures == []
        assert prober.answered > 10
        assert "Unrecoverable error" not in studio.output()
    finally:
        prober.done.set()
        studio.stop()
    assert studio.process.returncode == 0
    assert studio.output().rstrip().endswith("==> stopped")
    assert studio.survivors == []  # Ctrl-C stopped the web server, worker and beat
