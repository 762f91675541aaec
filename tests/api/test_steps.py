"""Draft steps: nested CRUD with reorder and the flat /api/workflow-steps resource."""

from __future__ import annotations

import pytest

from prompts.services import prompt_create
from tests.api.conftest import SIMPLE, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow_id(owner) -> int:
    return owner.post("/api/workflows", SIMPLE, format="json").json()["id"]


def step_ids(owner, workflow_id) -> list[str]:
    rows = owner.get(f"/api/workflows/{workflow_id}/steps").json()["results"]
    return [r["step_id"] for r in rows]


def test_add_a_step_at_a_position_then_edit_and_delete_it(owner, workflow_id):
    url = f"/api/workflows/{workflow_id}/steps"
    made = owner.post(
        url,
        {"step_id": "wait_a_bit", "type": "wait", "config": {"duration": "2h"}, "order": 1},
        format="json",
    )
    assert made.status_code == 201
    assert step_ids(owner, workflow_id) == ["hello", "wait_a_bit", "tag_it"]
    step = made.json()["id"]
    patched = owner.patch(f"{url}/{step}", {"config": {"duration": "3h"}}, format="json")
    assert patched.json()["config"] == {"duration": "3h"}
    replaced = owner.put(
        f"{url}/{step}", {"step_id": "wait_more", "type": "wait", "config": {"duration": "1d"}},
        format="json",
    )  # fmt: skip
    assert replaced.json()["step_id"] == "wait_more"
    assert owner.get(f"{url}/{step}").json()["config"] == {"duration": "1d"}
    assert owner.delete(f"{url}/{step}").status_code == 204
    assert step_ids(owner, workflow_id) == ["hello", "tag_it"]


def test_a_step_config_is_checked_against_its_kind(owner, workflow_id):
    response = owner.post(
        f"/api/workflows/{workflow_id}/steps",
        {"step_id": "w", "type": "wait", "config": {"duration": "1h", "bogus": 1}},
        format="json",
    )
    assert response.status_code == 400
    body = error_of(response)
    assert body["code"] == "invalid_definition"
    assert body["details"][0]["path"] == "steps[2].config"
    assert "bogus" in body["details"][0]["message"]
    unknown = owner.post(
        f"/api/workflows/{workflow_id}/steps",
        {"step_id": "x", "type": "teleport"},
        format="json",
    )
    assert unknown.status_code == 400


def test_a_duplicate_step_id_is_refused(owner, workflow_id):
    response = owner.post(
        f"/api/workflows/{workflow_id}/steps",
        {"step_id": "hello", "type": "exit"},
        format="json",
    )
    assert response.status_code == 400
    assert error_of(response)["details"][0]["path"] == "steps[2].id"


def test_reorder_needs_every_step_once(owner, workflow_id):
    url = f"/api/workflows/{workflow_id}/steps/reorder"
    ok = owner.post(url, {"step_ids": ["tag_it", "hello"]}, format="json")
    assert ok.status_code == 200
    assert step_ids(owner, workflow_id) == ["tag_it", "hello"]
    bad = owner.post(url, {"step_ids": ["tag_it", "tag_it", "ghost"]}, format="json")
    assert bad.status_code == 400
    body = error_of(bad)
    assert body["code"] == "invalid_order"
    assert "ghost" in body["message"]
    assert "hello" in body["message"]


def test_a_step_may_name_a_prompt_of_the_tenant(owner, tenant, workflow_id):
    prompt = prompt_create(tenant=tenant, name="Writer", system_prompt_text="Write.")
    response = owner.post(
        f"/api/workflows/{workflow_id}/steps",
        {
            "step_id": "ask",
            "type": "ai_prompt",
            "config": {"prompt": "Writer"},
            "prompt": prompt.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["prompt"] == prompt.pk


def test_the_flat_resource(owner, workflow_id):
    made = owner.post(
        "/api/workflow-steps",
        {"workflow": workflow_id, "step_id": "bye", "type": "exit"},
        format="json",
    )
    assert made.status_code == 201
    listed = owner.get(f"/api/workflow-steps?workflow={workflow_id}").json()["results"]
    assert [s["step_id"] for s in listed] == ["hello", "tag_it", "bye"]
    assert owner.get("/api/workflow-steps").json()["count"] == 3
    url = f"/api/workflow-steps/{made.json()['id']}"
    assert owner.patch(url, {"name": "Goodbye"}, format="json").json()["name"] == "Goodbye"
    assert owner.delete(url).status_code == 204
    missing = owner.post(
        "/api/workflow-steps", {"workflow": 999999, "step_id": "x", "type": "exit"}, format="json"
    )
    assert missing.status_code == 404
