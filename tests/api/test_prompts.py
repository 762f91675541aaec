"""Prompts: CRUD where an edit is a new version, versions, activate/archive, try-it."""

from __future__ import annotations

import pytest

from prompts.models import Prompt
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db

BODY = {
    "name": "Greeter",
    "system_prompt_text": "Greet {{contact.first_name}}.",
    "provider": "offline",
}


def test_create_edit_list_versions_activate_archive(owner):
    made = owner.post("/api/prompts", BODY, format="json")
    assert made.status_code == 201
    first = made.json()
    assert first["version"] == 1
    assert first["status"] == "active"
    edited = owner.patch(
        f"/api/prompts/{first['id']}", {"system_prompt_text": "Hello there."}, format="json"
    )
    assert edited.status_code == 201
    second = edited.json()
    assert second["version"] == 2
    assert second["status"] == "draft"
    assert Prompt.objects.get(pk=first["id"]).system_prompt_text == BODY["system_prompt_text"]
    third = owner.post(
        f"/api/prompts/{first['id']}/versions", {"category": "sales"}, format="json"
    ).json()
    assert third["version"] == 3
    versions = owner.get(f"/api/prompts/{first['id']}/versions").json()["results"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert owner.post(f"/api/prompts/{second['id']}/activate").json()["status"] == "active"
    assert owner.post(f"/api/prompts/{first['id']}/archive").json()["status"] == "archived"
    assert owner.get("/api/prompts?status=archived").json()["count"] == 1
    assert owner.get(f"/api/prompts/{third['id']}").json()["category"] == "sales"


def test_only_a_draft_can_be_deleted(owner):
    first = owner.post("/api/prompts", BODY, format="json").json()
    refused = owner.delete(f"/api/prompts/{first['id']}")
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "prompt_in_use"
    draft = owner.put(
        f"/api/prompts/{first['id']}", {"system_prompt_text": "v2"}, format="json"
    ).json()
    assert owner.delete(f"/api/prompts/{draft['id']}").status_code == 204


def test_an_invalid_prompt_names_the_field(owner):
    response = owner.post(
        "/api/prompts", {**BODY, "system_prompt_text": "{% load x %}"}, format="json"
    )
    assert response.status_code == 400
    body = error_of(response)
    assert body["code"] == "invalid_prompt"
    assert "system_prompt_text" in body["message"]


def test_try_a_prompt_returns_output_tokens_and_cost(owner):
    prompt = owner.post("/api/prompts", BODY, format="json").json()
    response = owner.post(
        f"/api/prompts/{prompt['id']}/test",
        {"variables": {"contact": {"first_name": "Ann"}}},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["model"]
    assert body["log_id"]


def test_an_editor_cannot_activate_or_make_an_active_version(client_as):
    owner, editor = client_as("owner"), client_as("editor")
    prompt = owner.post("/api/prompts", BODY, format="json").json()
    assert editor.post(f"/api/prompts/{prompt['id']}/activate").status_code == 403
    refused = editor.post(
        f"/api/prompts/{prompt['id']}/versions", {"status": "active"}, format="json"
    )
    assert refused.status_code == 403
    assert (
        editor.post(f"/api/prompts/{prompt['id']}/versions", {}, format="json").status_code == 201
    )
