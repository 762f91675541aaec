"""API test cast: two tenants, a member of each role, and clients that speak Bearer tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from api.services import api_token_create
from crm.models import TenantMembership
from engine.runtime import queue
from tests.cast import make_staff, make_tenant

ROLES = ("viewer", "editor", "admin", "owner")

SIMPLE = {
    "name": "Simple",
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "hello", "type": "send_sms", "config": {"message": "Hi {{contact.first_name}}"}},
        {"id": "tag_it", "type": "add_tag", "config": {"tag": "greeted"}},
    ],
}


@pytest.fixture(autouse=True)
def _fresh_throttle():
    # Throttle buckets live in the cache; one test's requests must not count for the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tenant(db):
    return make_tenant("acme")


@pytest.fixture
def other_tenant(db):
    return make_tenant("globex")


def bearer(user) -> APIClient:
    client = APIClient()
    key = api_token_create(user=user, name="test").key
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def member(tenant) -> Callable[[str], object]:
    """member(role) → a user with that role in ``tenant``."""

    def make(role: str):
        user = make_staff()
        TenantMembership.objects.create(tenant=tenant, user=user, role=role)
        return user

    return make


@pytest.fixture
def client_as(member) -> Callable[[str], APIClient]:
    """client_as(role) → an APIClient with a Bearer token of a member with ``role``."""
    return lambda role: bearer(member(role))


@pytest.fixture
def owner(client_as) -> APIClient:
    return client_as("owner")


@pytest.fixture
def outsider(other_tenant) -> APIClient:
    """An owner of the other tenant: every object of ``tenant`` must be a 404 for them."""
    user = make_staff()
    TenantMembership.objects.create(tenant=other_tenant, user=user, role="owner")
    return bearer(user)


def error_of(response) -> dict:
    """The one error shape, checked: code, message, details (a list)."""
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["details"], list)
    return body


class Collected:
    """Tasks dispatched through engine.queue, kept (not run) for the test to look at."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []

    def __call__(self, name: str, args: list) -> None:
        self.sent.append((name, list(args)))

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]


@pytest.fixture
def sent():
    """Collects dispatched tasks (wrap the request in django_capture_on_commit_callbacks)."""
    collector = Collected()
    with queue.use_dispatcher(collector):
        yield collector
