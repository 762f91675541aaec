"""Hot queries compiled to SQL once per process, then run with new values through ``raw()``.

Django compiles a QuerySet's SQL on every call; for the few queries that run on every webhook
and every enrollment that compilation cost more CPU than the database spent answering them
(0.8–1.3 ms against 0.2–0.4 ms here, bench/README.md). The SQL of such a query depends only
on its shape, so it is compiled once from the QuerySet built with *probe* values where the
parameters go, and kept; each call passes its own values in the same order. Rows become model
instances as ``raw()`` makes them (``from_db``, ``post_init``, any column the SQL does not
select deferred, the others set as attributes), with the column mapping worked out once per
query. PostgreSQL only: elsewhere the QuerySet simply runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.sql import Query

logger = logging.getLogger(__name__)

_SQL: dict[Hashable, tuple[str, type[Model]] | None] = {}


@dataclass(frozen=True)
class Beside:
    """Writes to other tables that ride in an UPDATE's statement (PostgreSQL's ``WITH``,
    ``engine.runtime.rows.update_beside``): one round trip for both.

    ``ctes``: ``name AS (…)`` clauses (a data-modifying one runs whether or not anything
    reads it); ``params``: their values in order; ``select``: the statement's final SELECT
    over them, whose rows the caller gets back. Text from our own code, never from input.
    """

    ctes: tuple[str, ...]
    params: list[Any]
    select: str


def compiled_sql(
    key: Hashable, build: Callable[..., QuerySet], probes: Sequence[Any]
) -> tuple[str, type[Model]] | None:
    """``(sql, model)`` of ``build(*probes)``, compiled on first use and kept under ``key``.

    None when the compiled parameters are not exactly the probes, in order (the query's shape
    transforms or adds a value, so its SQL cannot be reused with other values).
    """
    if key not in _SQL:
        queryset = build(*probes)
        sql, params = queryset.query.sql_with_params()
        if tuple(params) == tuple(probes):
            _SQL[key] = (sql, queryset.model)
        else:
            logger.warning("%s: parameters %r are not its probes; not prepared", key, params)
            _SQL[key] = None
    return _SQL[key]


def first_row(
    *, key: Hashable, build: Callable[..., QuerySet], probes: Sequence[Any], values: Sequence[Any]
) -> Any:
    """The first row of ``build(*values)`` (a model instance, or None when there is none).

    ``key`` names the query's shape (one per ``build``); ``probes`` are sample values, one per
    parameter, distinct from each other and from anything the query itself contains.
    """
    prepared = compiled_sql(key, build, probes) if connection.vendor == "postgresql" else None
    if prepared is None:
        return next(iter(build(*values)), None)
    sql, model = prepared
    with connection.cursor() as cursor:
        cursor.execute(sql, list(values))
        row = cursor.fetchone()
        reader = _reader(key, model, cursor.description)
    return None if row is None else reader.instance(row)


def _reader(key: Hashable, model: type[Model], description: Sequence[Any]) -> _Reader:
    """The query ``key``'s row reader, learnt from its first result's ``description``."""
    reader = _READERS.get(key)
    if reader is None:
        reader = _READERS[key] = _Reader.learn(model, description)
    return reader


_READERS: dict[Hashable, _Reader] = {}


@dataclass(frozen=True)
class _Reader:
    """How a prepared query's rows become instances, learnt from its first result's columns.

    What ``RawQuerySet`` works out on every run — which columns are which fields, their
    converters (JSON decoding, say), the annotations — depends only on the SQL, so it is
    worked out once per query here, the same way (``RawModelIterable``); each row then costs
    only its conversions and ``Model.from_db``.
    """

    model: type[Model]
    names: tuple[str, ...]  # attnames of the selected fields, in the model's field order
    positions: tuple[int, ...]  # where each of those is in the row
    annotations: tuple[tuple[str, int], ...]  # (attribute, position) of the other columns
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]

    @classmethod
    def learn(cls, model: type[Model], description: Sequence[Any]) -> _Reader:
        convert = connection.introspection.identifier_converter
        columns = [convert(column.name) for column in description]
        fields = {convert(field.column): field for field in model._meta.fields}
        selected = [field for field in model._meta.fields if convert(field.column) in columns]
        found = [fields.get(column) for column in columns]
        compiler = connection.ops.compiler("SQLCompiler")(Query(model), connection, None)
        expressions = [f.get_col(f.model._meta.db_table) if f else None for f in found]
        return cls(
            model=model,
            names=tuple(field.attname for field in selected),
            positions=tuple(columns.index(convert(field.column)) for field in selected),
            annotations=tuple(
                (column, position)
                for position, column in enumerate(columns)
                if column not in fields
            ),
            converters=tuple(
                (position, tuple(functions), expression)
                for position, (functions, expression) in compiler.get_converters(
                    expressions
                ).items()
            ),
        )

    def instance(self, row: Sequence[Any]) -> Model:
        values = list(row)
        for position, functions, expression in self.converters:
            for function in functions:
                values[position] = function(values[position], expression, connection)
        instance = self.model.from_db(
            connection.alias, self.names, [values[position] for position in self.positions]
        )
        for name, position in self.annotations:
            setattr(instance, name, values[position])
        return instance


@dataclass
class Along:
    """A prepared one-row SELECT that another statement runs and returns beside its own row.

    ``rows.insert_instance(along=…)`` puts ``sql`` in its INSERT's statement (``LEFT JOIN
    (sql) AS along ON true``) and hands the returned columns to :meth:`read`: a row read in
    the round trip of a write instead of one of its own (~0.4 ms in process, ~0.9 ms under
    the deployment's scheduling, bench/README.md). ``params`` are ``sql``'s, in order.
    """

    key: Hashable  # the query's ``first_row`` key: its rows read the same way
    sql: str
    params: list[Any]
    model: type[Model]
    row: Model | None = None  # what :meth:`read` made of the columns, None when none came

    @classmethod
    def of(
        cls, *, key: Hashable, build: Callable[..., QuerySet], probes: Sequence[Any],
        values: Sequence[Any],
    ) -> Along | None:  # fmt: skip
        """``first_row``'s query (same arguments) to run along; None off PostgreSQL or when
        its SQL cannot be reused (``compiled_sql``)."""
        prepared = compiled_sql(key, build, probes) if connection.vendor == "postgresql" else None
        if prepared is None:
            return None
        sql, model = prepared
        return cls(key=key, sql=sql, params=list(values), model=model)

    def read(self, row: Sequence[Any], description: Sequence[Any]) -> Model | None:
        """Make ``row`` (this query's columns, as ``description`` names them) an instance, kept
        in ``self.row``; None when the LEFT JOIN found nothing (every column NULL)."""
        if all(value is None for value in row):
            self.row = None
            return None
        self.row = _reader(self.key, self.model, description).instance(row)
        return self.row
