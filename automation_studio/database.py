"""Make sure the configured database answers before the studio migrates it.

``run.py studio`` calls ``manage.py prepare_database`` first. On PostgreSQL a database that
does not exist yet is created (as ``createdb`` would, through the server's ``postgres``
maintenance database, with the same credentials): a newcomer who exported ``DATABASE_URL``
need not know that PostgreSQL does not create databases on first connection. Any other
failure to connect — no server at that address, a refused login — is one clear line naming
the server, the database and PostgreSQL's own message, instead of migrate's traceback.
SQLite needs nothing: its file is created on first use.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import psycopg.sql
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

MAINTENANCE_DATABASE = "postgres"


class DatabaseUnavailable(Exception):
    """The configured database cannot be reached or created; the message says why and where."""


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare_database` found: the database's name, where it lives, and whether
    it had to be created."""

    name: str
    where: str
    created: bool


def prepare_database(alias: str = DEFAULT_DB_ALIAS) -> Prepared:
    """Connect to ``alias``; on PostgreSQL create its database when it does not exist.

    Returns a :class:`Prepared`. Raises :class:`DatabaseUnavailable` (its message names the
    server, the database and PostgreSQL's own words) when the server cannot be reached, the
    login is refused, or the database is missing and cannot be created.
    """
    connection = connections[alias]
    settings = connection.settings_dict
    name = str(settings.get("NAME") or "")
    if connection.vendor != "postgresql":
        return Prepared(name=name, where=connection.vendor, created=False)
    where = f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 5432}"
    try:
        connection.ensure_connection()
        return Prepared(name=name, where=where, created=False)
    except OperationalError as exc:
        failure = exc
    finally:
        connection.close()
    # Whether the database is missing is asked of the server itself (its catalogue, through
    # the maintenance database), not read from the wording of the error.
    if not _create_if_missing(connection, name):
        raise DatabaseUnavailable(_unreachable(name, where, failure)) from None
    return Prepared(name=name, where=where, created=True)


def _create_if_missing(connection, name: str) -> bool:
    """True when ``name`` was missing and is now created (by us or by a process racing us);
    False when the server cannot be reached either way or the database was there already."""
    params = connection.get_connection_params()
    params["dbname"] = MAINTENANCE_DATABASE
    try:
        with psycopg.connect(**params, autocommit=True) as admin:
            found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if found.fetchone() is not None:
                return False  # it exists: the first failure was something else
            create = psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
            admin.execute(create)
    except psycopg.errors.DuplicateDatabase:
        return True  # another process created it in the meantime: what we wanted
    except psycopg.Error:
        return False
    return True


def _unreachable(name: str, where: str, exc: OperationalError) -> str:
    return (
        f"cannot connect to PostgreSQL at {where} (database '{name}'): {_first_line(exc)}. "
        "Is the server running, and is DATABASE_URL right? (A database that does not exist "
        "is created when the server lets this login create one.)"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
