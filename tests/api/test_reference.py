"""The builder's reference data: data dictionary, catalog, definition JSON Schema."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.cast import add_tag, make_contact

pytestmark = pytest.mark.django_db


def test_the_data_dictionary_lists_models_fields_choices_and_tags(owner, tenant, other_tenant):
    add_tag(make_contact(tenant), "vip")
    add_tag(make_contact(other_tenant), "secret-tag")
    body = owner.get("/api/schema").json()
    models = {m["name"]: m for m in body["models"]}
    assert {"contact", "task", "booking"} <= set(models)
    stage = next(f for f in models["contact"]["fields"] if f["name"] == "stage")
    assert {"value": "customer", "label": "Customer"} in stage["choices"]
    relation = next(f for f in models["task"]["fields"] if f["name"] == "contact")
    assert relation["type"] == "relation"
    assert relation["relation"] == "crm.Contact"
    assert body["tags"] == ["vip"]


def test_the_catalog_has_triggers_and_steps_with_json_schemas(owner):
    body = owner.get("/api/catalog").json()
    steps = {s["type"]: s for s in body["steps"]}
    assert {"wait", "condition", "send_email"} <= set(steps)
    assert "properties" in steps["wait"]["config_schema"]
    assert any(t["type"] == "contact_created" for t in body["triggers"])


def test_the_definition_schema_is_a_json_schema(owner):
    body = owner.get("/api/definition-schema").json()
    assert body["$schema"].startswith("https://json-schema.org/")
    assert "steps" in body["properties"]


def test_reference_data_needs_a_login(db):
    for path in ("/api/catalog", "/api/definition-schema", "/api/schema"):
        assert APIClient().get(path).status_code == 401
