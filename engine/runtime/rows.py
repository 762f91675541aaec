"""Writing rows of the engine's hot models with statement texts built once per process.

Django's ``bulk_create`` builds and compiles its INSERT anew on every call — about 0.3 ms of
CPU per row for a step log here (bench/README.md), more than the database spends on it — and
step logs are written by every step transaction. The statement's text depends only on the
model's columns and the number of rows, so it is built once per process and kept; every value
still goes through its field's own ``get_db_prep_save``, so JSON, decimals, times and foreign
keys are adapted exactly as the ORM adapts them, on PostgreSQL and SQLite alike. The rows a
step transaction's UPDATE carries travel on PostgreSQL as one JSON parameter
(:func:`_json_rows`), which psycopg keeps parsed where 30 bound values a row would not be.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections, models

from engine.effects.prepared import Along, Beside


def insert_rows(model: type[models.Model], rows: list[dict[str, Any]]) -> int:
    """INSERT ``rows`` (attname → value; an attname left out takes its field's default).

    Like ``bulk_create``: no ids come back, no signals are sent, ``save()`` is not called.
    Returns the number of rows written. Raises KeyError for an attname the model lacks (a
    typo must not drop a value silently), and the database's own errors unchanged.
    """
    if not rows:
        return 0
    db = connections[DEFAULT_DB_ALIAS]  # the proxy ``connection`` costs a lookup per use
    params = _row_params(model, rows, db)
    # One row's statement for every row: psycopg keeps its parsed form (it caches statements
    # of up to 50 parameters) and sends the rows together in one round trip (pipeline mode).
    with db.cursor() as cursor:
        if len(params) == 1:
            cursor.execute(_statement(model, db.vendor), params[0])
        else:
            cursor.executemany(_statement(model, db.vendor), params)
    return len(rows)


def _row_params(model: type[models.Model], rows: list[dict[str, Any]], db: Any) -> list[list]:
    """Each row's values in the INSERT's column order, prepared; KeyError for an unknown
    attname (see :func:`insert_rows`)."""
    columns = _columns(model)
    known = {column.field.attname for column in columns}
    for row in rows:
        unknown = set(row) - known
        if unknown:
            raise KeyError(f"{model._meta.label} has no column(s) {sorted(unknown)}")
    return [
        [
            _prep_column(
                column,
                row[column.field.attname] if column.field.attname in row else column.default(),
                db,
            )
            for column in columns
        ]
        for row in rows
    ]


class _Column(NamedTuple):
    """A field and what :func:`_prep_column` needs to know of it, worked out once per model
    (looking it up per value hashed the field each time: ~180 values per 5-step journey)."""

    field: models.Field
    plain: type | None  # values of this exact type are written unchanged
    bare_null: bool  # None is SQL NULL as it is (a nullable column that is not JSON)
    json: bool  # a JSONField

    @classmethod
    def of(cls, field: models.Field) -> _Column:
        json = isinstance(field, models.JSONField)
        # JSON null is not SQL NULL: a JSONField prepares None itself.
        return cls(field, _plain_type(field), field.null and not json, json)

    def default(self) -> Any:
        return self.field.get_default()


def _prep(field: models.Field, value: Any, db: Any) -> Any:
    """``field.get_db_prep_save(value, db)``, skipped where it cannot change the value: a str
    for a text column, an int for an integer column (or a key to one), a bool for a boolean
    one, None for a nullable one. A step log has ~30 columns; the full call for each cost
    about 0.2 ms of CPU per log here, for values that come back unchanged."""
    return _prep_column(_Column.of(field), value, db)


def _prep_column(column: _Column, value: Any, db: Any) -> Any:
    """:func:`_prep` with the field's facts already worked out."""
    if value is None:
        if column.bare_null:
            return None
    elif type(value) is column.plain:
        return value
    return column.field.get_db_prep_save(value, db)


@cache
def _plain_type(field: models.Field) -> type | None:
    """The Python type whose values ``field`` writes unchanged (None: always prepare)."""
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if type(target) in (models.CharField, models.TextField):
        return str
    if type(target) in (
        models.IntegerField, models.BigIntegerField, models.SmallIntegerField,
        models.PositiveIntegerField, models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField, models.AutoField, models.BigAutoField,
    ):  # fmt: skip
        return int
    if type(target) is models.BooleanField:
        return bool
    return None


@cache
def _columns(model: type[models.Model]) -> tuple[_Column, ...]:
    return tuple(_Column.of(field) for field in _fields(model))


@cache
def _named_columns(model: type[models.Model], names: tuple[str, ...]) -> tuple[_Column, ...]:
    return tuple(_Column.of(field) for field in _named_fields(model, names))


@cache
def _fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The columns an INSERT writes: every concrete field but an auto-incremented key."""
    return tuple(
        field
        for field in model._meta.concrete_fields
        if not (field.primary_key and isinstance(field, models.AutoField))
    )


@cache
def _statement(model: type[models.Model], vendor: str, rows: int = 1) -> str:
    """``INSERT … VALUES (…)[, (…)…]`` of ``rows`` rows, one text per row count."""
    # ``vendor`` is part of the key: quoting differs between backends (tests switch them).
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    columns = ", ".join(quote(field.column) for field in _fields(model))
    row = "(" + ", ".join(["%s"] * len(_fields(model))) + ")"
    values = ", ".join([row] * rows)
    # Identifiers come from the model's metadata; every value is a parameter.
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {values}"  # noqa: S608


def insert_instance(
    instance: models.Model,
    *,
    computed: dict[str, tuple[str, list[Any]]] | None = None,
    claim: Claim | None = None,
    source: tuple[str, list[Any]] | None = None,
    along: Along | None = None,
) -> Any:
    """INSERT one new model instance and set its primary key; returns it.

    What ``save()`` does for a new row — each field's ``pre_save`` (``auto_now`` and
    ``auto_now_add`` stamp the instance), ``get_db_prep_save`` — with a statement text built
    once per model instead of compiled by the ORM on every call (0.6–1 ms of CPU for an
    enrollment here). No ``pre_save``/``post_save`` signals are sent: use it only for the
    engine's own models, which have no receivers. Raises the database's errors unchanged
    (IntegrityError for a unique constraint).

    ``computed``: field name → ``(sql, params)`` of a scalar subquery the database computes
    in the same statement (one round trip fewer than reading it first); the value it wrote is
    set on the instance (without ``RETURNING``, on SQLite before 3.35, it is read first).

    ``claim``: the row is inserted only if the claim takes its work (:class:`Claim`); None is
    returned, and nothing inserted, when the work was done already. On PostgreSQL the claim's
    UPDATE runs in the INSERT's own ``WITH`` (one round trip); elsewhere it runs first.

    ``source`` (PostgreSQL only; ValueError elsewhere): ``(sql, params)`` of a SELECT of at
    most one row; the row is inserted only when it yields one (None is returned otherwise),
    and ``computed`` subqueries may read its columns as ``source.<column>``: a value found
    and the row that records it, in one statement.

    ``along`` (PostgreSQL only; ValueError elsewhere): a prepared one-row SELECT the statement
    also runs and returns beside the new row (``prepared.Along``); its instance — None when it
    found no row — is in ``along.row`` afterwards. Nothing is read when nothing is inserted.
    """
    model = type(instance)
    db = connections[DEFAULT_DB_ALIAS]
    computed = computed or {}
    returning = db.features.can_return_columns_from_insert
    claim_sql, claim_params = claim.statement if claim is not None else ("", [])
    gate = "claimed"
    if claim is not None and db.vendor != "postgresql":  # no UPDATE inside WITH there
        if not claim.run():
            return None
        claim_sql, claim_params = "", []
    if source is not None:
        if claim is not None or db.vendor != "postgresql":
            raise ValueError("source= needs PostgreSQL and no claim")
        (claim_sql, claim_params), gate = source, "source"
    if along is not None and db.vendor != "postgresql":
        raise ValueError("along= needs PostgreSQL")
    if computed and not returning:
        # No RETURNING (SQLite before 3.35): read each computed value first, then insert it.
        with db.cursor() as cursor:
            for name, (sql, values) in computed.items():
                cursor.execute(f"SELECT ({sql})", values)
                setattr(instance, model._meta.get_field(name).attname, cursor.fetchone()[0])
        computed = {}
    shape = tuple(sorted((name, sql) for name, (sql, _params) in computed.items()))
    params: list[Any] = list(claim_params)
    for column in _columns(model):
        field = column.field
        if field.name in computed:
            params += computed[field.name][1]
        else:
            params.append(_prep_column(column, field.pre_save(instance, True), db))
    with db.cursor() as cursor:
        if returning:
            statement = _insert_returning(
                model, shape, db.vendor, claim_sql, gate, along.sql if along else ""
            )
            cursor.execute(statement, params + along.params if along else params)
            row = cursor.fetchone()
            if row is None:
                return None  # the claim found its work done (the source no row): no INSERT
            if along is not None:
                width = 1 + len(shape)
                along.read(row[width:], cursor.description[width:])
                row = row[:width]
        else:
            cursor.execute(_statement(model, db.vendor), params)
            row = (cursor.lastrowid,)
    setattr(instance, model._meta.pk.attname, row[0])
    for (name, _sql), value in zip(shape, row[1:], strict=True):
        setattr(instance, model._meta.get_field(name).attname, value)
    instance._state.adding, instance._state.db = False, db.alias
    return row[0]


@cache
def _insert_returning(
    model: type[models.Model],
    shape: tuple[tuple[str, str], ...],
    vendor: str,
    claim: str = "",
    gate: str = "claimed",
    along: str = "",
) -> str:
    """``INSERT … VALUES (…) RETURNING pk[, computed…]``; each computed field's placeholder
    is its subquery (text from our own code, never from input: its values are parameters).
    With ``claim`` (an ``UPDATE … RETURNING``, or a source's SELECT): ``WITH <gate> AS
    (claim) INSERT … SELECT … FROM <gate>``, which inserts only when it yields a row. With
    ``along`` (a one-row SELECT): the INSERT goes in ``WITH inserted AS (…)`` and the statement
    returns its row followed by ``along``'s columns (NULLs when that finds none)."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    subqueries = dict(shape)
    columns = ", ".join(quote(field.column) for field in _fields(model))
    values = ", ".join(
        f"({subqueries[field.name]})" if field.name in subqueries else "%s"
        for field in _fields(model)
    )
    returned = [model._meta.pk.column] + [model._meta.get_field(name).column for name, _ in shape]
    # Identifiers come from the model's metadata, the claim from our own code; values are
    # parameters.
    source = f"SELECT {values} FROM {gate}" if claim else f"VALUES ({values})"  # noqa: S608
    insert = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {source} "
        f"RETURNING {', '.join(quote(column) for column in returned)}"
    )
    ctes = [f"{gate} AS ({claim})"] if claim else []
    if not along:
        return (f"WITH {ctes[0]} " if ctes else "") + insert
    ctes.append(f"inserted AS ({insert})")
    # ``along`` is a compiled query of our own code (engine.effects.prepared); values are
    # parameters.
    return f"WITH {', '.join(ctes)} SELECT * FROM inserted LEFT JOIN ({along}) AS along ON true"  # noqa: S608


def update_fields(
    instance: models.Model,
    names: tuple[str, ...] | list[str],
    *,
    only_if: dict[str, Any] | None = None,
    inserting: tuple[type[models.Model], list[dict[str, Any]]] | None = None,
) -> int:
    """UPDATE ``names`` (field names) of a row by the instance's primary key; rows written.

    ``save(update_fields=names)`` without the ORM's per-call compilation and without its
    signals (see :func:`insert_instance`); each field's ``pre_save`` runs, so an ``auto_now``
    field among ``names`` is stamped as ``save`` would stamp it. ``only_if`` (field name →
    value): the row is written only while those columns hold those values (0 otherwise), as
    ``filter(pk=…, **only_if).update(…)`` would.

    ``inserting`` (model, rows as for :func:`insert_rows`): rows written with the UPDATE — on
    PostgreSQL in its ``WITH`` (one statement: a step transaction's log rows and its
    enrollment's advance), the rows as one JSON parameter (:func:`_json_rows`; bound value by
    value when one cannot be JSON), elsewhere by :func:`insert_rows` just before it.
    """
    sql, params = update_statement(instance, names, only_if=only_if)
    db = connections[DEFAULT_DB_ALIAS]
    ctes, cte_params = _inserting_ctes(inserting, db)
    if ctes:
        sql = f"WITH {', '.join(ctes)} {sql}"
        params = cte_params + params
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def update_beside(
    instance: models.Model,
    names: tuple[str, ...] | list[str],
    beside: Beside,
    *,
    inserting: tuple[type[models.Model], list[dict[str, Any]]] | None = None,
) -> list[tuple]:
    """:func:`update_fields` (with its ``inserting``) and ``beside``'s writes in one
    statement, one round trip; returns the rows of ``beside.select`` (the UPDATE's own count
    is not read). PostgreSQL only: ValueError elsewhere (no data-modifying ``WITH``)."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        raise ValueError("update_beside needs PostgreSQL")
    sql, params = update_statement(instance, names)
    ctes, cte_params = _inserting_ctes(inserting, db)
    clauses = [*beside.ctes, *ctes, f"updated AS ({sql})"]
    # Every clause is text from our own code; values are parameters.
    statement = f"WITH {', '.join(clauses)} {beside.select}"
    with db.cursor() as cursor:
        cursor.execute(statement, [*beside.params, *cte_params, *params])
        return cursor.fetchall()


def _inserting_ctes(
    inserting: tuple[type[models.Model], list[dict[str, Any]]] | None, db: Any
) -> tuple[list[str], list[Any]]:
    """``(["inserted AS (INSERT …)"], params)`` for an UPDATE's ``inserting`` rows on
    PostgreSQL (the rows as one JSON parameter, :func:`_json_rows`; bound value by value when
    one cannot be JSON); elsewhere the rows are inserted now by :func:`insert_rows` and
    nothing is returned to add."""
    if inserting is None or not inserting[1]:
        return [], []
    model, rows = inserting
    if db.vendor != "postgresql":
        insert_rows(model, rows)
        return [], []
    document = _json_rows(model, rows, db)
    if document is not None:
        return [f"inserted AS ({_recordset_insert(model)})"], [document]
    values = _row_params(model, rows, db)
    insert = _statement(model, db.vendor, len(values))
    return [f"inserted AS ({insert})"], [value for row in values for value in row]


class _NotJson(Exception):
    """A prepared value JSON cannot carry unchanged (bytes, NaN, an expression …)."""


def _json_rows(model: type[models.Model], rows: list[dict[str, Any]], db: Any) -> str | None:
    """``rows`` as one JSON array for :func:`_recordset_insert` (column name → value), or
    None when a value cannot travel as JSON unchanged (the caller then binds every value).

    Why: a multi-row ``VALUES`` list binds ~30 parameters a row, and past 50 parameters
    psycopg re-parses the statement's text on every call (its cache of parsed statements
    stops there) — 0.45 ms of CPU for a 5-log step transaction here, a fifth of the task
    (bench/README.md). One JSON parameter keeps the text short, cached and prepared once, and
    lets the JSON columns' values nest instead of being encoded one by one. Each value is
    first prepared as :func:`_prep_column` prepares it, so what PostgreSQL stores is the same:
    SQL NULL stays NULL (``jsonb_populate_recordset`` reads JSON null as SQL NULL), JSON
    columns keep their JSON (a Python None in one is SQL NULL, as ``JSONField`` saves it),
    times travel as ISO 8601 with their offset, decimals as exact text. KeyError for an
    attname the model lacks, as :func:`insert_rows`.
    """
    plan = _json_plan(model)
    if plan is None:
        return None  # a custom encoder: let the field encode its own values
    columns, known = plan
    document = []
    try:
        for row in rows:
            unknown = set(row) - known
            if unknown:
                raise KeyError(f"{model._meta.label} has no column(s) {sorted(unknown)}")
            item = {}
            for attname, name, column in columns:
                value = row[attname] if attname in row else column.default()
                if column.json:
                    if hasattr(value, "as_sql"):
                        raise _NotJson  # Value(None, JSONField()) and other expressions
                    item[name] = value
                elif (value is None and column.bare_null) or type(value) is column.plain:
                    item[name] = value  # what _prep_column would return unchanged
                else:
                    item[name] = _json_scalar(_prep_column(column, value, db))
            document.append(item)
        return json.dumps(document, allow_nan=False, separators=(",", ":"))
    except (_NotJson, ValueError):  # ValueError: NaN or infinity in a JSON column
        return None


@cache
def _json_plan(
    model: type[models.Model],
) -> tuple[tuple[tuple[str, str, _Column], ...], frozenset[str]] | None:
    """``((attname, column name, column), …), attnames`` for :func:`_json_rows`, worked out
    once per model; None when a JSON column has its own encoder."""
    columns = _columns(model)
    if any(column.json and column.field.encoder is not None for column in columns):
        return None
    plan = tuple((c.field.attname, c.field.column, c) for c in columns)
    return plan, frozenset(attname for attname, _name, _column in plan)


def _json_scalar(value: Any) -> Any:
    """A prepared column value as JSON whose text the column's type reads back unchanged."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise _NotJson


@cache
def _recordset_insert(model: type[models.Model]) -> str:
    """``INSERT … SELECT … FROM jsonb_populate_recordset(NULL::table, %s::jsonb)``: any
    number of rows from one JSON parameter (PostgreSQL only; see :func:`_json_rows`)."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in _fields(model))
    # Identifiers come from the model's metadata; the rows are the one parameter.
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
    )


def update_statement(
    instance: models.Model,
    names: tuple[str, ...] | list[str],
    *,
    only_if: dict[str, Any] | None = None,
) -> tuple[str, list[Any]]:
    """``(sql, params)`` of :func:`update_fields`' UPDATE, to run inside another statement
    (a claim in an INSERT's ``WITH``, see :class:`Claim`)."""
    model = type(instance)
    db = connections[DEFAULT_DB_ALIAS]
    guards = tuple(only_if or ())
    columns = _named_columns(model, tuple(names))
    params = [_prep_column(c, c.field.pre_save(instance, False), db) for c in columns]
    params.append(instance.pk)
    params += [
        field.get_db_prep_save(only_if[field.name], db) for field in _named_fields(model, guards)
    ]
    return _update_statement(model, tuple(names), guards, db.vendor), params


@dataclass(frozen=True)
class Claim:
    """Work recorded elsewhere (a webhook delivery) that an INSERT takes for itself.

    ``statement``: an ``UPDATE … RETURNING`` (``sql``, ``params``) that yields a row only when
    the work is still owed, marking it done; :func:`insert_instance` runs it in the INSERT's
    ``WITH`` and inserts only if it yielded one: one statement, and the UPDATE's row lock makes
    a second run of the same work wait and then find it done. ``run``: the same as a
    statement of its own, True when it claimed (where ``WITH`` cannot hold an UPDATE).
    """

    statement: tuple[str, list[Any]]
    run: Callable[[], bool]

    def __call__(self) -> bool:
        return self.run()

    def requiring(self, sql: str, params: list[Any]) -> Claim:
        """This claim, taking its work only while ``sql`` (a SELECT) also yields a row — in
        its UPDATE's own WHERE, so when it does not, nothing is marked done (a data-modifying
        ``WITH`` runs whether or not its INSERT then inserts). PostgreSQL only: ``run`` (the
        claim as a statement of its own, for other databases) is left as it is."""
        statement, values = self.statement
        head, returning = statement.rsplit(" RETURNING ", 1)
        return Claim(
            statement=(f"{head} AND EXISTS ({sql}) RETURNING {returning}", [*values, *params]),
            run=self.run,
        )


@cache
def _named_fields(model: type[models.Model], names: tuple[str, ...]) -> tuple[models.Field, ...]:
    """The concrete fields ``names`` (KeyError-like FieldDoesNotExist for a typo)."""
    return tuple(model._meta.get_field(name) for name in names)


@cache
def _update_statement(
    model: type[models.Model], names: tuple[str, ...], guards: tuple[str, ...], vendor: str
) -> str:
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    sets = ", ".join(f"{quote(field.column)} = %s" for field in _named_fields(model, names))
    where = [model._meta.pk.column] + [field.column for field in _named_fields(model, guards)]
    # Identifiers come from the model's metadata; every value is a parameter.
    return (
        f"UPDATE {quote(model._meta.db_table)} SET {sets} "  # noqa: S608
        f"WHERE " + " AND ".join(f"{quote(column)} = %s" for column in where)
    )
