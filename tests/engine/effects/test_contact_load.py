"""How the engine loads a contact: its fields and tag names in one query, by id only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Contact
from engine.effects.contacts import contact_adapter, load_snapshot
from tests.cast import make_contact, make_tenant

pytestmark = pytest.mark.django_db


def test_a_contact_is_loaded_with_its_tags_in_one_query():
    tenant = make_tenant()
    contact = make_contact(tenant, tags=["vip", "beta"], custom_fields={"plan": {"tier": 2}})
    make_contact(tenant, tags=["other"])  # another contact's tags stay out

    with CaptureQueriesContext(connection) as captured:
        snapshot = load_snapshot(contact.pk)
    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1
    assert snapshot["id"] == contact.pk
    assert snapshot["tags"] == ["beta", "vip"]
    assert snapshot["custom_fields"] == {"plan": {"tier": 2}}
    assert snapshot["email"] == contact.email


def test_a_missing_contact_raises_does_not_exist():
    with pytest.raises(Contact.DoesNotExist):
        contact_adapter().load(987_654_321)


def test_the_same_query_serves_every_contact():
    tenant = make_tenant()
    first, second = make_contact(tenant, tags=["a"]), make_contact(tenant)
    assert load_snapshot(first.pk)["tags"] == ["a"]
    assert load_snapshot(second.pk)["tags"] == []
    assert load_snapshot(first.pk)["id"] == first.pk
