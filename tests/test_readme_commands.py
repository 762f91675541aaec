"""Every command in the README's code blocks works as written, in a fresh clone.

The repository is cloned to a temporary folder (the shared virtualenv is linked in as
``.venv`` so nothing is reinstalled) and each ```bash block of README.md is run in order, a
block being one terminal: its ``export`` lines hold for the rest of that block. Commands
that run until stopped (the studio, gunicorn, the worker, beat) are started, must become
ready, and are stopped with the signal a user would send; every other command must exit 0.
``python3 run.py test`` is left out (it is the command running this test).

What is not verbatim, and why: the environment is a new user's (none of the test run's
DATABASE_URL, CELERY_BROKER_URL, DEBUG or settings module), the studio's port comes from
``$PORT`` (a free one, as ``run.py studio --help`` documents), gunicorn's ``:8000`` is
rewritten to a free port, and the PostgreSQL and Redis URLs that the README exports are
pointed at a database made for this test and at this run's Redis, so parallel runs and CI
never share a database.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from tests.conftest import missing_service, redis_url

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
TEST_COMMAND = "python3 run.py test"
POSTGRES_IN_README = "postgres://postgres@127.0.0.1:5432/automation_studio"
REDIS_IN_README = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class LongRunning:
    """A command that runs until stopped: how to tell it is ready, and how to stop it."""

    ready: str  # a regular expression its output shows once it is ready
    stop: signal.Signals
    timeout: float


LONG_RUNNING = {
    "python3 run.py studio": LongRunning(r"==> studio running", signal.SIGINT, 420),
    ".venv/bin/gunicorn": LongRunning(r"Booting worker with pid", signal.SIGTERM, 120),
    "celery -A automation_studio worker": LongRunning(r"\bready\.", signal.SIGTERM, 120),
    "celery -A automation_studio beat": LongRunning(r"beat: Starting", signal.SIGTERM, 120),
}


def readme_blocks(text: str) -> list[list[str]]:
    """The commands of each ```bash block, continuation lines joined, comment lines dropped."""
    blocks = []
    for body in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        joined = body.replace("\\\n", " ")
        commands = [
            line.strip()
            for line in joined.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        blocks.append(commands)
    return blocks


def long_running(command: str) -> LongRunning | None:
    return next((spec for key, spec in LONG_RUNNING.items() if key in command), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_user_env(port: int) -> dict[str, str]:
    hidden = {
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "DJANGO_SETTINGS_MODULE",
        "DEBUG",
        "STUDIO_VAR_DIR",
        "REDIS_URL",
    }
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(PORT=str(port), PYTHONUNBUFFERED="1")
    return env


@contextlib.contextmanager
def scratch_postgres_database():
    """A new, empty database on the test run's PostgreSQL server; dropped afterwards."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        missing_service("PostgreSQL is not configured (set DATABASE_URL=postgres://…)")
    name = f"readme_{os.getpid()}"
    admin = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Terminal:
    """One README block's shell: its environment, and the commands it ran with their output."""

    def __init__(self, clone: Path, env: dict[str, str], services: dict[str, str]):
        self.clone = clone
        self.env = dict(env)
        self.services = services
        self.transcript: list[str] = []

    def run(self, command: str) -> None:
        if command.startswith("export "):
            name, _, value = shlex.split(command)[1].partition("=")
            self.env[name] = self.services.get(value, value)
            return
        spec = long_running(command)
        if spec is None:
            self.run_to_end(command)
        else:
            self.start_and_stop(command, spec)

    def run_to_end(self, command: str) -> None:
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=self.clone,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-3000:])
        assert "Traceback" not in result.stderr, (command, result.stderr[-3000:])

    def start_and_stop(self, command: str, spec: LongRunning) -> None:
        log_path = self.clone / "var" / f"readme-{len(self.transcript)}.log"
        log_path.parent.mkdir(exist_ok=True)
        self.transcript.append(command)
        with log_path.open("w") as log:
            process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.clone,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                ready = self.wait_until_ready(process, log_path, spec)
            finally:
                # bash -c execs a lone command, so this reaches the server's main process,
                # which stops its own workers (signalling the whole group would kill a
                # prefork pool's children under the master).
                process.send_signal(spec.stop)
                try:
                    process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        output = log_path.read_text(errors="replace")
        assert ready, (command, "never became ready", output[-4000:])
        assert process.returncode == 0, (command, process.returncode, output[-4000:])
        assert "Traceback" not in output, (command, output[-4000:])

    def wait_until_ready(self, process, log_path: Path, spec: LongRunning) -> bool:
        deadline = time.monotonic() + spec.timeout
        while time.monotonic() < deadline:
            if re.search(spec.ready, log_path.read_text(errors="replace")):
                return True
            if process.poll() is not None:
                return False
            time.sleep(0.5)
        return False


def clone_repository(target: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    (target / ".venv").symlink_to((ROOT / ".venv").resolve())
    return target


def test_readme_blocks_are_found_and_the_first_command_is_the_studio():
    blocks = readme_blocks((ROOT / "README.md").read_text())
    assert blocks[0] == [
        "python3 run.py studio   # set up, load demo data, run web server + Celery worker + beat",
        "python3 run.py test     # set up, lint, format check, the whole test suite with coverage",
    ]
    everyday = next(b for b in blocks if any("dry_run_workflow" in c for c in b))
    assert any(c.endswith('"tag": "booked-appointment"}]\'') for c in everyday)


def test_every_readme_command_works_verbatim_in_a_fresh_clone(tmp_path):
    redis = redis_url()
    if redis is None:
        missing_service("Redis is not configured (set CELERY_BROKER_URL=redis://…)")
    clone = clone_repository(tmp_path / "clone")
    blocks = readme_blocks((clone / "README.md").read_text())
    env = new_user_env(free_port())
    ran: list[str] = []
    with scratch_postgres_database() as database:
        services = {POSTGRES_IN_README: database, REDIS_IN_README: redis}
        for block in blocks:
            terminal = Terminal(clone, env, services)
            for command in block:
                if command.startswith(TEST_COMMAND):
                    continue
                if ":8000" in command and "gunicorn" in command:
                    command = command.replace(":8000", f":{free_port()}")
                terminal.run(command)
                ran.append(command)
    assert len(ran) == sum(len(block) for block in blocks) - 1  # all but run.py test
    assert any(c.startswith("python3 run.py studio") for c in ran)
    assert any("dry_run_workflow" in c for c in ran)
    assert "SECRET_KEY=" in (clone / "var" / "local.env").read_text()
