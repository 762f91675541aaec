from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from automation_studio import env

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
run_py = importlib.util.module_from_spec(_spec)
sys.modules["run_py"] = run_py  # its dataclasses look their module up by name
_spec.loader.exec_module(run_py)


def test_booleans_read_common_spellings_and_refuse_nonsense(monkeypatch):
    monkeypatch.setenv("FLAG", "yes")
    assert env.env_bool("FLAG") is True
    monkeypatch.setenv("FLAG", "0")
    assert env.env_bool("FLAG", default=True) is False
    monkeypatch.delenv("FLAG")
    assert env.env_bool("FLAG", default=True) is True
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG must be a boolean"):
        env.env_bool("FLAG")


def test_integers_and_lists(monkeypatch):
    monkeypatch.setenv("N", "12")
    assert env.env_int("N", 1) == 12
    monkeypatch.setenv("N", "")
    assert env.env_int("N", 3) == 3
    monkeypatch.setenv("N", "twelve")
    with pytest.raises(ImproperlyConfigured, match="N must be an integer, got 'twelve'"):
        env.env_int("N", 1)
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env.env_list("HOSTS", []) == ["a.example", "b.example"]
    monkeypatch.delenv("HOSTS")
    assert env.env_list("HOSTS", ["x"]) == ["x"]


def test_required_values_fail_loudly_by_name(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    # A clone that ran run.py has var/local.env loaded; production reads the environment only.
    monkeypatch.setattr(env, "_local", {})
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set when DEBUG is off"):
        env.require("SECRET_KEY")
    monkeypatch.setenv("SECRET_KEY", "s3cret")
    assert env.require("SECRET_KEY") == "s3cret"


def test_database_urls_for_postgres_and_sqlite():
    pg = env.parse_database_url("postgres://bob:p%40ss@db.example:6543/studio?sslmode=require")
    assert pg["ENGINE"] == "django.db.backends.postgresql"
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == (
        "bob",
        "p@ss",
        "db.example",
        "6543",
        "studio",
    )
    assert pg["OPTIONS"] == {"sslmode": "require"}
    assert env.parse_database_url("sqlite:////tmp/x.db")["NAME"] == "/tmp/x.db"
    assert env.parse_database_url("sqlite://")["NAME"] == ":memory:"
    with pytest.raises(ImproperlyConfigured, match="scheme 'mysql' is not supported"):
        env.parse_database_url("mysql://root@localhost/db")


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = subprocess.run(
        [sys.executable, "-c", "import django; from django.conf import settings; settings.DEBUG"],
        env={
            "DJANGO_SETTINGS_MODULE": "automation_studio.settings",
            "PATH": "/usr/bin:/bin",
            "DEBUG": "0",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def settings_in_subprocess(env: dict, var_dir, expression: str) -> subprocess.CompletedProcess:
    """Load the real settings in a fresh interpreter and print ``expression``."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; from django.conf import settings; print({expression})",
        ],
        env={
            "DJANGO_SETTINGS_MODULE": "automation_studio.settings",
            "PATH": "/usr/bin:/bin",
            "STUDIO_VAR_DIR": str(var_dir),
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def write_local_settings(var_dir) -> str:
    """The file run.py writes on first setup (run.ensure_local_settings)."""
    os.environ["STUDIO_VAR_DIR"] = str(var_dir)
    try:
        path = run_py.ensure_local_settings()
    finally:
        del os.environ["STUDIO_VAR_DIR"]
    return path.read_text()


def test_first_setup_writes_a_private_development_file_once(tmp_path):
    text = write_local_settings(tmp_path)
    assert "DEBUG=1" in text.splitlines()
    key = next(line for line in text.splitlines() if line.startswith("SECRET_KEY="))
    assert len(key.removeprefix("SECRET_KEY=")) >= 50
    assert oct((tmp_path / "local.env").stat().st_mode & 0o777) == "0o600"
    assert write_local_settings(tmp_path) == text  # kept, not regenerated


def test_the_local_file_is_git_ignored():
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/local.env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0


def test_with_the_local_file_commands_run_in_development_mode(tmp_path):
    text = write_local_settings(tmp_path)
    result = settings_in_subprocess({}, tmp_path, "settings.DEBUG, settings.SECRET_KEY")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"True {text.split('SECRET_KEY=')[1].strip()}"


def test_the_environment_wins_over_the_local_file(tmp_path):
    write_local_settings(tmp_path)
    result = settings_in_subprocess(
        {"SECRET_KEY": "from-the-environment"}, tmp_path, "settings.SECRET_KEY"
    )
    assert result.stdout.strip() == "from-the-environment"


def test_debug_off_in_the_environment_ignores_the_local_file_and_refuses(tmp_path):
    write_local_settings(tmp_path)
    result = settings_in_subprocess({"DEBUG": "0"}, tmp_path, "settings.DEBUG")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_without_the_local_file_the_default_is_production_and_refuses(tmp_path):
    result = settings_in_subprocess({}, tmp_path, "settings.DEBUG")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_with_real_values_starts_with_debug_off(tmp_path):
    write_local_settings(tmp_path)
    result = settings_in_subprocess(
        {"DEBUG": "0", "SECRET_KEY": "a-real-key", "ALLOWED_HOSTS": "studio.example"},
        tmp_path,
        "settings.DEBUG, settings.ALLOWED_HOSTS",
    )
    assert result.stdout.strip() == "False ['studio.example']"


def test_the_embedded_broker_uses_the_safe_transport_without_remote_control(tmp_path):
    write_local_settings(tmp_path)
    result = settings_in_subprocess(
        {},
        tmp_path,
        "settings.CELERY_BROKER_TRANSPORT, settings.CELERY_WORKER_ENABLE_REMOTE_CONTROL",
    )
    assert result.stdout.strip() == "automation_studio.broker:Transport False"


def test_a_development_checkout_serves_static_files_under_any_wsgi_server(tmp_path):
    # The README's gunicorn command in a fresh clone (DEBUG from var/local.env, nothing
    # collected): whitenoise serves the apps' files, so the admin is styled.
    write_local_settings(tmp_path)
    result = settings_in_subprocess(
        {},
        tmp_path,
        "'whitenoise.middleware.WhiteNoiseMiddleware' in settings.MIDDLEWARE, "
        "settings.WHITENOISE_USE_FINDERS",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True"
    assert (tmp_path / "static").is_dir()  # no "No directory at" warning at each start


def test_ctrl_c_during_run_py_test_is_a_stop_not_a_traceback(tmp_path):
    # What Ctrl-C raises in run.py's process (while its subprocess runs): a KeyboardInterrupt
    # out of subprocess.run. Patched before run.py runs as __main__, as the terminal would.
    script = (
        "import runpy, subprocess, sys\n"
        "def interrupted(*args, **kwargs):\n"
        "    raise KeyboardInterrupt\n"
        "subprocess.run = interrupted\n"
        "sys.argv = ['run.py', 'test']\n"
        f"runpy.run_path({str(ROOT / 'run.py')!r}, run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 130
    assert "==> interrupted" in done.stdout
    assert "Traceback" not in done.stderr + done.stdout
