#!/usr/bin/env python3
"""One entry point for a fresh clone: set everything up, then run the studio or the tests.

    python3 run.py studio   # web server + Celery worker + beat, demo data, admin login printed
    python3 run.py test     # lint, format check, the test suite with coverage

Only the standard library is used here: this file runs before the virtualenv exists.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
REQUIREMENTS = ROOT / "requirements-dev.txt"
STAMP = VENV / ".requirements.sha256"


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


def studio_env() -> dict:
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    return env


def cmd_studio() -> None:
    ensure_environment()
    env = studio_env()
    manage("migrate", "--no-input", "-v", "0", env=env)
    manage("seed_demo", env=env)
    port = env.get("PORT", "8000")
    processes = [
        subprocess.Popen(
            [str(PYTHON), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen(
            [
                str(BIN / "celery"),
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
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen(
            [str(BIN / "celery"), "-A", "automation_studio", "beat", "-l", "INFO"],
            cwd=ROOT,
            env=env,
        ),
    ]
    time.sleep(2)
    say(f"studio running: http://127.0.0.1:{port}/admin/  (login printed above by seed_demo)")
    say("press Ctrl-C to stop the web server, worker and beat")
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def cmd_test(extra: list[str]) -> None:
    ensure_environment()
    env = dict(os.environ)
    env["DEBUG"] = "1"
    say("ruff check")
    run(BIN / "ruff", "check", ".", env=env)
    say("ruff format --check")
    run(BIN / "ruff", "format", "--check", ".", env=env)
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


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in {"studio", "test"}:
        print(__doc__)
        sys.exit(2)
    if argv[1] == "studio":
        cmd_studio()
    else:
        cmd_test(argv[2:])


if __name__ == "__main__":
    main(sys.argv)
