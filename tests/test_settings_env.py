from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from automation_studio import env


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
    import subprocess
    import sys

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
