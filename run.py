#!/usr/bin/env python3
"""One entry point for a fresh clone: set everything up, then run the studio or the tests.

    python3 run.py studio [--port 8000]  # web server + Celery worker + beat, demo data, login
    python3 run.py test [pytest args]    # lint, format, import layers, tests with coverage

`studio` supervises its three processes: one that dies is restarted (the line says which
and why); Ctrl-C stops them all.

Only the standard library is used here: this file runs before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
REQUIREMENTS = ROOT / "requirements-dev.txt"
STAMP = VENV / ".requirements.sha256"
LOCAL_SETTINGS_NAME = "local.env"  # read by automation_studio/env.py; keep the two in step
STABLE_SECONDS = 60  # a child that ran this long starts its backoff afresh when it dies
MAX_BACKOFF_SECONDS = 30


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path, env: dict | None = None, check: bool = True) -> int:
    completed = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)
    if check and completed.returncode != 0:
        sys.exit(completed.returncode)
    return completed.returncode


def requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "requirements-dev.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    if not PYTHON.exists():
        say(f"creating a virtualenv in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = requirements_digest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    say("installing pinned requirements (first run only)")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS)
    STAMP.write_text(wanted)


def manage(*args: str, env: dict) -> None:
    run(PYTHON, "manage.py", *args, env=env)


def var_dir() -> Path:
    """Where the embedded database, broker and local settings live (as the settings read it)."""
    return Path(os.environ.get("STUDIO_VAR_DIR", ROOT / "var"))


def ensure_local_settings() -> Path:
    """Write the git-ignored development settings file once; keep an existing one.

    Django reads it when the environment does not say otherwise (automation_studio/env.py),
    so every ``manage.py`` and ``celery`` command of the README runs in development mode.
    """
    path = var_dir() / LOCAL_SETTINGS_NAME
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by run.py on first setup: development settings for this clone only.\n"
        "# It is git-ignored; the environment wins over it, and DEBUG=0 in the environment\n"
        "# (production) ignores it, so there SECRET_KEY and ALLOWED_HOSTS must be set.\n"
        "DEBUG=1\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    )
    path.chmod(0o600)
    say(f"wrote development settings (DEBUG on, a new SECRET_KEY) to {path}")
    return path


def studio_env() -> dict:
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


# --- the studio supervisor ---------------------------------------------------------------


@dataclass
class Child:
    """One supervised process: its command, the running process and its restart history."""

    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    start_after: float = 0.0  # monotonic seconds; a crashed child waits out its backoff


def studio_children(port: int) -> list[Child]:
    celery = str(BIN / "celery")
    return [
        Child(
            "web server", [str(PYTHON), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        ),
        Child(
            "worker",
            [
                celery,
                "-A",
                "automation_studio",
                "worker",
                "-l",
                "INFO",
                "--concurrency",
                "2",
                "--pool",
                "threads",
            ],
        ),
        Child("beat", [celery, "-A", "automation_studio", "beat", "-l", "INFO"]),
    ]


def start_child(child: Child, env: dict) -> None:
    # A session of its own: Ctrl-C reaches run.py only, which then stops each child in order.
    child.process = subprocess.Popen(child.argv, cwd=ROOT, env=env, start_new_session=True)
    child.started_at = time.monotonic()
    say(f"{child.name} started (pid {child.process.pid})")


def describe_exit(returncode: int) -> str:
    """``exited with code 1`` or ``was killed by signal SIGKILL`` (Popen gives -N for a signal)."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"was killed by signal {name}"
    return f"exited with code {returncode}"


def restart_delay(child: Child) -> float:
    """Seconds to wait before starting a dead child again: 1, 2, 4 … 30 while it keeps dying."""
    if time.monotonic() - child.started_at > STABLE_SECONDS:
        child.restarts = 0
    child.restarts += 1
    return float(min(MAX_BACKOFF_SECONDS, 2 ** (child.restarts - 1)))


def check_child(child: Child, env: dict) -> None:
    """Start a child that is due to start; notice one that died and schedule its restart."""
    now = time.monotonic()
    if child.process is None:
        if now >= child.start_after:
            start_child(child, env)
        return
    returncode = child.process.poll()
    if returncode is None:
        return
    delay = restart_delay(child)
    say(
        f"{child.name} (pid {child.process.pid}) {describe_exit(returncode)}; "
        f"restarting it in {delay:g} s (restart {child.restarts}; its last output is above)"
    )
    child.process = None
    child.start_after = now + delay


def stop_children(children: list[Child], timeout: float = 15.0) -> None:
    """SIGTERM every child (the worker finishes its current tasks), SIGKILL what is left."""
    running = [c for c in children if c.process is not None and c.process.poll() is None]
    for child in running:
        child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in running:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} (pid {child.process.pid}) did not stop in time; killing it")
            child.process.kill()
            child.process.wait()
    say("stopped")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def supervise(children: list[Child], env: dict, port: int) -> None:
    """Start the children and keep them running until Ctrl-C (SIGINT) or SIGTERM, then stop all."""
    signal.signal(signal.SIGTERM, _interrupt)
    # Explicit, because a shell starting us in the background sets SIGINT to ignored.
    signal.signal(signal.SIGINT, _interrupt)
    try:
        for child in children:
            start_child(child, env)
        if wait_until_listening(port, children):
            url = f"http://127.0.0.1:{port}/admin/"
            say(f"studio running: {url}  (login printed above by seed_demo)")
        say("press Ctrl-C to stop the web server, worker and beat")
        while True:
            for child in children:
                check_child(child, env)
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping the web server, worker and beat")
    finally:
        stop_children(children)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until_listening(port: int, children: list[Child], timeout: float = 180.0) -> bool:
    """Wait for the web server to accept connections (False if it died or took too long)."""
    web = children[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if web.process is None or web.process.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.25)
    return False


def cmd_studio(port: int) -> None:
    if not port_is_free(port):
        say(f"port {port} on 127.0.0.1 is in use; choose another with --port")
        sys.exit(2)
    ensure_environment()
    ensure_local_settings()
    env = studio_env()
    manage("prepare_database", env=env)  # PostgreSQL: created when missing; a clear error else
    manage("migrate", "--no-input", "-v", "0", env=env)
    manage("seed_demo", env=env)
    supervise(studio_children(port), env, port)


def cmd_test(extra: list[str]) -> None:
    ensure_environment()
    ensure_local_settings()
    env = dict(os.environ)
    env["DEBUG"] = "1"
    say("ruff check")
    run(BIN / "ruff", "check", ".", env=env)
    say("ruff format --check")
    run(BIN / "ruff", "format", "--check", ".", env=env)
    say("lint-imports (the engine's layers, see pyproject.toml)")
    run(BIN / "lint-imports", "--no-cache", env=env)
    database = env.get("DATABASE_URL", "sqlite (default)")
    say(f"pytest with coverage on {database.split('@')[-1]}")
    status = run(
        BIN / "pytest",
        "-q",
        "--cov",
        "--cov-report=term",
        "-p",
        "no:cacheprovider",
        *extra,
        env=env,
        check=False,
    )
    if status != 0:
        sys.exit(status)
    if env.get("DATABASE_URL", "").startswith("postgres"):
        # The constraints must hold on both databases; the default is SQLite.
        say("constraint tests again on the SQLite default")
        sqlite_env = {k: v for k, v in env.items() if k != "DATABASE_URL"}
        sqlite_env["STUDIO_VAR_DIR"] = str(ROOT / "var" / "sqlite-test")
        run(
            BIN / "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_constraints.py",
            env=sqlite_env,
        )


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{studio,test}")
    studio = commands.add_parser(
        "studio",
        help="set up, load demo data, run web server + worker + beat (restarted if they die)",
    )
    studio.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8000")),
        help="port of the web server on 127.0.0.1 (default: $PORT or 8000)",
    )
    commands.add_parser(
        "test", help="set up, lint, format check, the test suite; extra arguments go to pytest"
    )
    return parser.parse_known_args(argv[1:])


def main(argv: list[str]) -> None:
    args, extra = parse_args(argv)
    if args.command == "studio":
        if extra:
            sys.exit(f"run.py studio: unknown arguments: {' '.join(extra)}")
        cmd_studio(args.port)
    else:
        cmd_test(extra)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except KeyboardInterrupt:  # Ctrl-C during setup or the tests: a stop, not a crash
        say("interrupted")
        sys.exit(130)
