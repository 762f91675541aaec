"""Shared fixtures: service detection that honours REQUIRE_SERVICES=1.

A test that needs PostgreSQL or Redis skips when the service is missing, except when
REQUIRE_SERVICES=1 (CI), where the missing service is a failure instead of a skip.
"""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") == "1"


def missing_service(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def redis_url() -> str | None:
    url = os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis://") else None


@pytest.fixture
def require_postgres(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        missing_service("PostgreSQL is not configured (set DATABASE_URL=postgres://…)")


@pytest.fixture
def require_redis():
    url = redis_url()
    if url is None:
        missing_service("Redis is not configured (set CELERY_BROKER_URL=redis://…)")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        missing_service(f"Redis at {url} is not reachable: {exc}")
    return url


@pytest.fixture(autouse=True)
def _fresh_flow_cache():
    # Rolled-back test transactions reuse ids; the per-process caches must not.
    from engine.effects.zones import forget_tenant_zones
    from engine.runtime.flow import forget_flows
    from engine.runtime.tenancy import forget_verified

    for forget in (forget_flows, forget_verified, forget_tenant_zones):
        forget()
    yield
    for forget in (forget_flows, forget_verified, forget_tenant_zones):
        forget()


@pytest.fixture(scope="session", autouse=True)
def _close_side_effect_journal(django_db_setup):
    # The attempt journal keeps a connection of its own per thread (engine/effects/
    # idempotency.py); closed before the test database is dropped.
    yield
    from engine.effects.idempotency import close_journal

    close_journal()


# One real Celery worker per test session, shared by every end-to-end test (defined last:
# it imports the helpers above).
from tests.e2e_worker import e2e_worker  # noqa: E402, F401
