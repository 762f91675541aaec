"""Inserting rows of one model with a statement text built once per model.

Django's ``bulk_create`` builds and compiles its INSERT anew on every call — about 0.3 ms of
CPU per row for a step log here (bench/README.md), more than the database spends on it — and
step logs are written by every step transaction. The statement's text depends only on the
model's columns and the number of rows, so it is built once per process and kept; every value
still goes through its field's own ``get_db_prep_save``, so JSON, decimals, times and foreign
keys are adapted exactly as the ORM adapts them, on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models


def insert_rows(model: type[models.Model], rows: list[dict[str, Any]]) -> int:
    """INSERT ``rows`` (attname → value; an attname left out takes its field's default).

    Like ``bulk_create``: no ids come back, no signals are sent, ``save()`` is not called.
    Returns the number of rows written. Raises KeyError for an attname the model lacks (a
    typo must not drop a value silently), and the database's own errors unchanged.
    """
    if not rows:
        return 0
    fields = _fields(model)
    known = {field.attname for field in fields}
    for row in rows:
        unknown = set(row) - known
        if unknown:
            raise KeyError(f"{model._meta.label} has no column(s) {sorted(unknown)}")
    db = connections[DEFAULT_DB_ALIAS]  # the proxy ``connection`` costs a lookup per use
    params = [
        [
            field.get_db_prep_save(
                row[field.attname] if field.attname in row else field.get_default(), db
            )
            for field in fields
        ]
        for row in rows
    ]
    # One row's statement for every row: psycopg keeps its parsed form (it caches statements
    # of up to 50 parameters) and sends the rows together in one round trip (pipeline mode).
    with db.cursor() as cursor:
        if len(params) == 1:
            cursor.execute(_statement(model, db.vendor), params[0])
        else:
            cursor.executemany(_statement(model, db.vendor), params)
    return len(rows)


@cache
def _fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The columns an INSERT writes: every concrete field but an auto-incremented key."""
    return tuple(
        field
        for field in model._meta.concrete_fields
        if not (field.primary_key and isinstance(field, models.AutoField))
    )


@cache
def _statement(model: type[models.Model], vendor: str) -> str:
    # ``vendor`` is part of the key: quoting differs between backends (tests switch them).
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    columns = ", ".join(quote(field.column) for field in _fields(model))
    values = ", ".join(["%s"] * len(_fields(model)))
    # Identifiers come from the model's metadata; every value is a parameter.
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
