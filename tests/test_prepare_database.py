"""``manage.py prepare_database`` (run by ``run.py studio`` before migrate): a missing
PostgreSQL database is created, an unreachable server is one clear line."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from automation_studio.database import DatabaseUnavailable, prepare_database
from tests.conftest import missing_service


@pytest.fixture
def probe(django_db_blocker):
    """A connection alias to a database of its own name, dropped afterwards (no ``db``
    fixture: the test opens connections of its own, outside the test database)."""
    if connections["default"].vendor != "postgresql":
        missing_service("PostgreSQL is not configured (set DATABASE_URL=postgres://…)")
    base = connections["default"].settings_dict
    name = f"studio_probe_{uuid.uuid4().hex[:10]}"
    alias = f"probe_{name}"
    connections.settings[alias] = {**base, "NAME": name, "TEST": {}}
    admin = {**connections["default"].get_connection_params(), "dbname": "postgres"}
    with django_db_blocker.unblock():
        yield alias, name
        connections[alias].close()
    del connections[alias]
    del connections.settings[alias]
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def exists(name: str) -> bool:
    admin = {**connections["default"].get_connection_params(), "dbname": "postgres"}
    with psycopg.connect(**admin) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return found.fetchone() is not None


def test_a_missing_database_is_created_once(probe):
    alias, name = probe
    assert not exists(name)

    first = prepare_database(alias)
    second = prepare_database(alias)

    assert (first.created, second.created) == (True, False)
    assert first.name == name
    assert exists(name)
    connections[alias].ensure_connection()  # it answers now


def test_a_server_that_does_not_answer_is_one_clear_line(probe):
    alias, name = probe
    connections.settings[alias]["PORT"] = "1"  # nothing listens there

    with pytest.raises(DatabaseUnavailable) as caught:
        prepare_database(alias)

    message = str(caught.value)
    assert ":1 (database '" + name + "')" in message
    assert "Is the server running" in message
    assert "\n" not in message
    assert not exists(name)


def test_the_command_turns_it_into_a_command_error_without_a_traceback(monkeypatch):
    def unavailable(alias="default"):
        raise DatabaseUnavailable("cannot connect to PostgreSQL at db:5432 (database 'x'): no")

    monkeypatch.setattr(
        "workflows.management.commands.prepare_database.prepare_database", unavailable
    )
    with pytest.raises(CommandError, match=r"cannot connect to PostgreSQL at db:5432"):
        call_command("prepare_database")
