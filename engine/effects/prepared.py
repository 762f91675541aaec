"""Hot queries compiled to SQL once per process, then run with new values through ``raw()``.

Django compiles a QuerySet's SQL on every call; for the few queries that run on every webhook
and every enrollment that compilation cost more CPU than the database spent answering them
(0.8–1.3 ms against 0.2–0.4 ms here, bench/README.md). The SQL of such a query depends only
on its shape, so it is compiled once from the QuerySet built with *probe* values where the
parameters go, and kept; each call passes its own values in the same order. ``raw()`` still
builds model instances the usual way (``from_db``, ``post_init``), with any column the SQL does
not select deferred. PostgreSQL only: elsewhere the QuerySet simply runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet

logger = logging.getLogger(__name__)

_SQL: dict[Hashable, tuple[str, type[Model]] | None] = {}


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
    return next(iter(model.objects.raw(sql, list(values))), None)
