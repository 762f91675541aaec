"""Database connections: kept by the worker across tasks (health-checked), a setting, and
never kept under runserver (one thread per request would pile them up)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.db import connection

pytestmark = pytest.mark.e2e

PURGE = "engine.tasks.purge_step_logs"


def settings_value(expression: str, *, env: dict[str, str], argv: tuple[str, ...] = ()) -> str:
    """Evaluate ``expression`` on freshly loaded settings in a child process."""
    code = (
        f"import sys; sys.argv = ['manage.py', *{list(argv)!r}]\n"
        "import django; django.setup()\n"
        f"from django.conf import settings; print({expression})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"DJANGO_SETTINGS_MODULE": "automation_studio.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


POSTGRES = {"DATABASE_URL": "postgres://u@127.0.0.1:5432/x"}
MAX_AGE = "settings.DATABASES['default']['CONN_MAX_AGE']"


def test_connection_max_age_is_a_setting_with_health_checks():
    assert settings_value(MAX_AGE, env={**POSTGRES, "DATABASE_CONN_MAX_AGE": "300"}) == "300"
    assert settings_value(MAX_AGE, env=POSTGRES) == "60"
    health = "settings.DATABASES['default']['CONN_HEALTH_CHECKS']"
    assert settings_value(health, env=POSTGRES) == "True"


def test_runserver_keeps_no_connection_between_requests():
    env = {**POSTGRES, "DATABASE_CONN_MAX_AGE": "300"}
    assert settings_value(MAX_AGE, env=env, argv=("runserver",)) == "0"
    assert settings_value(MAX_AGE, env=env, argv=("migrate",)) == "300"


def test_celery_fixup_is_told_not_to_close_connections_around_each_task():
    assert settings_value("settings.CELERY_DB_REUSE_MAX", env=POSTGRES) == "1000000000"


def test_postgres_binds_parameters_server_side_and_prepares_repeated_statements():
    options = "settings.DATABASES['default']['OPTIONS']"
    assert settings_value(options, env=POSTGRES) == (
        "{'server_side_binding': True, 'prepare_threshold': 5}"
    )
    off = {**POSTGRES, "DATABASE_SERVER_SIDE_BINDING": "0"}
    assert settings_value(options, env=off) == "{}"
    sqlite = {"DATABASE_URL": "sqlite:///x.sqlite3"}
    assert "server_side_binding" not in settings_value(options, env=sqlite)


@pytest.mark.usefixtures("require_postgres")
@pytest.mark.django_db
def test_a_statement_run_five_times_on_a_connection_is_prepared_by_postgres():
    marker = "SELECT %s::int AS prepared_probe"
    with connection.cursor() as cursor:
        for value in range(6):
            cursor.execute(marker, [value])
            assert cursor.fetchone() == (value,)
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%prepared_probe%"],
        )
        assert cursor.fetchone() == (1,)


def worker_backends() -> set[tuple[int, object]]:
    """(pid, backend start) of every other session on the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return set(cursor.fetchall())


def run_purges(worker, count: int) -> None:
    done = worker.output().count(f"{PURGE}[")
    for _ in range(count):
        worker.dispatch(PURGE, [])
    # Each task logs "received" and "succeeded": both lines name it.
    worker.wait_for(lambda: worker.output().count(f"{PURGE}[") >= done + 2 * count)


@pytest.mark.usefixtures("require_postgres", "require_redis", "transactional_db")
def test_the_worker_keeps_its_connection_and_replaces_a_dead_one(e2e_worker):
    run_purges(e2e_worker, 8)
    first = worker_backends()
    # Celery's Django fix-up alone would have closed them after each task.
    assert first, "no worker connection outlived its task"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    run_purges(e2e_worker, 8)
    second = worker_backends()
    assert second
    assert not second & first  # the dead sessions were replaced, not reused
    run_purges(e2e_worker, 8)
    assert worker_backends() & second  # and the new ones are kept in turn
    failures = [
        line for line in e2e_worker.output().splitlines() if PURGE in line and "raised" in line
    ]
    assert failures == []
