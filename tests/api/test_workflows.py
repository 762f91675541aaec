"""Workflows CRUD, publish, pause/resume/archive, import/export, versions, delete."""

from __future__ import annotations

import json

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from engine.runtime.enrollment import enrollment_create
from tests.api.conftest import SIMPLE, error_of
from tests.cast import make_contact
from workflows.models import Enrollment, Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db

BROKEN_YAML = """\
name: Broken
trigger:
  type: manual
steps:
  - id: first
    type: send_sms
    config:
      message: hi
    next: nowhere
  - id: second
    type: condition
    config:
      if: []
      then: also_missing
      else: end
"""


def create(client, definition=SIMPLE) -> dict:
    response = client.post("/api/workflows", definition, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def published(client, definition=SIMPLE) -> dict:
    workflow = create(client, definition)
    assert client.post(f"/api/workflows/{workflow['id']}/publish").status_code == 201
    return workflow


def test_create_then_retrieve_gives_steps_status_version_and_stats(owner):
    made = create(owner)
    assert made["status"] == "draft"
    assert made["published_version"] is None
    got = owner.get(f"/api/workflows/{made['id']}").json()
    assert [s["step_id"] for s in got["steps"]] == ["hello", "tag_it"]
    assert got["stats"]["enrolled"] == 0
    assert got["trigger"]["type"] == "manual"


def test_create_reports_definition_problems_with_paths(owner):
    bad = {"name": "Bad", "trigger": {"type": "manual"}, "steps": [{"id": "x", "type": "nope"}]}
    response = owner.post("/api/workflows", bad, format="json")
    assert response.status_code == 400
    body = error_of(response)
    assert body["code"] == "invalid_definition"
    assert body["details"][0]["path"].startswith("steps[0]")


def test_a_duplicate_name_is_409(owner):
    create(owner)
    response = owner.post("/api/workflows", SIMPLE, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "name_taken"


def test_put_replaces_and_patch_merges(owner):
    made = create(owner)
    url = f"/api/workflows/{made['id']}"
    patched = owner.patch(url, {"description": "new words"}, format="json").json()
    assert patched["description"] == "new words"
    assert len(patched["steps"]) == 2
    replaced = {**SIMPLE, "name": "Renamed", "steps": SIMPLE["steps"][:1]}
    body = owner.put(url, replaced, format="json").json()
    assert body["name"] == "Renamed"
    assert body["description"] == ""
    assert [s["step_id"] for s in body["steps"]] == ["hello"]


def test_list_filters_by_status(owner):
    published(owner)
    create(owner, {**SIMPLE, "name": "Draft one"})
    names = [w["name"] for w in owner.get("/api/workflows?status=draft").json()["results"]]
    assert names == ["Draft one"]


def test_publish_refuses_with_every_problem_path_and_line(owner):
    response = owner.post("/api/workflows/import", BROKEN_YAML, content_type="application/yaml")
    assert response.status_code == 201
    assert response.json()["errors"]
    workflow_id = response.json()["workflow"]["id"]
    refused = owner.post(f"/api/workflows/{workflow_id}/publish")
    assert refused.status_code == 400
    body = error_of(refused)
    assert body["code"] == "publish_refused"
    errors = {d["path"]: d for d in body["details"] if d["severity"] == "error"}
    assert "steps[0].next" in errors
    assert "steps[1].config.then" in errors
    assert "nowhere" in errors["steps[0].next"]["message"]
    # Unchanged since the import: lines of the imported document.
    assert errors["steps[0].next"]["line"] == 9
    assert errors["steps[1].config.then"]["line"] == 14
    assert not WorkflowVersion.objects.filter(workflow_id=workflow_id).exists()


def test_publish_pause_resume_archive(owner):
    made = create(owner)
    url = f"/api/workflows/{made['id']}"
    published_body = owner.post(f"{url}/publish", {"note": "first"}, format="json").json()
    assert published_body["version"]["number"] == 1
    assert published_body["version"]["note"] == "first"
    # Nothing changed since: the live version comes back, 200, and no version is added.
    unchanged = owner.post(f"{url}/publish", {"note": "again"}, format="json")
    assert unchanged.status_code == 200
    assert unchanged.json()["version"]["number"] == 1
    assert WorkflowVersion.objects.filter(workflow_id=made["id"]).count() == 1
    assert owner.post(f"{url}/pause").json()["status"] == "paused"
    again = owner.post(f"{url}/pause")
    assert again.status_code == 409
    assert error_of(again)["code"] == "invalid_state"
    assert owner.post(f"{url}/resume").json()["status"] == "active"
    assert owner.post(f"{url}/archive").json()["status"] == "archived"
    assert owner.post(f"{url}/publish").status_code == 409


def test_import_yaml_body_with_publish(owner):
    text = yaml.safe_dump(SIMPLE)
    response = owner.post(
        "/api/workflows/import?publish=true", text, content_type="application/yaml"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["published_version"] == 1
    assert body["format"] == "yaml"
    assert body["workflow"]["status"] == "active"


def test_import_again_updates_the_same_workflow(owner):
    owner.post("/api/workflows/import", json.dumps(SIMPLE), content_type="application/json")
    changed = {**SIMPLE, "description": "v2"}
    again = owner.post(
        "/api/workflows/import", json.dumps(changed), content_type="application/json"
    )
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert Workflow.objects.get(name="Simple").description == "v2"


def test_import_an_uploaded_file(owner):
    upload = SimpleUploadedFile("flow.yaml", yaml.safe_dump(SIMPLE).encode(), "application/yaml")
    response = owner.post("/api/workflows/import", {"file": upload}, format="multipart")
    assert response.status_code == 201
    assert response.json()["format"] == "yaml"


def test_import_the_typescript_shape(owner):
    legacy = {
        "name": "TS",
        "enabled": True,
        "trigger": {"type": "LEAD_CREATED", "config": {}},
        "conditions": [],
        "actions": [
            {"id": "a1", "type": "send_message", "config": {"message": "Hi"}, "nextActionId": None}
        ],
    }
    response = owner.post(
        "/api/workflows/import", json.dumps(legacy), content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["converted_from_typescript"] is True
    assert response.json()["workflow"]["trigger"]["type"] == "lead_created"


def test_import_problems_and_a_publish_refusal_leave_nothing(owner):
    unreadable = owner.post("/api/workflows/import", "name: [", content_type="application/yaml")
    assert unreadable.status_code == 400
    assert error_of(unreadable)["details"][0]["line"] is not None
    refused = owner.post(
        "/api/workflows/import?publish=true", BROKEN_YAML, content_type="application/yaml"
    )
    assert refused.status_code == 400
    assert not Workflow.objects.filter(name="Broken").exists()


def test_import_without_a_document_says_how_to_send_one(owner):
    response = owner.post("/api/workflows/import", {}, format="multipart")
    assert response.status_code == 400
    assert error_of(response)["code"] == "no_document"


def test_import_with_publish_needs_admin(client_as):
    editor = client_as("editor")
    text = yaml.safe_dump(SIMPLE)
    refused = editor.post(
        "/api/workflows/import?publish=true", text, content_type="application/yaml"
    )
    assert refused.status_code == 403
    assert not Workflow.objects.exists()
    assert (
        editor.post("/api/workflows/import", text, content_type="application/yaml").status_code
        == 201
    )


def test_export_yaml_and_json_with_type_and_file_name(owner):
    made = published(owner)
    url = f"/api/workflows/{made['id']}/export"
    as_yaml = owner.get(url)
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert as_yaml["Content-Disposition"] == 'attachment; filename="simple.yaml"'
    assert yaml.safe_load(as_yaml.content)["name"] == "Simple"
    as_json = owner.get(f"{url}?format=json&version=1")
    assert as_json["Content-Type"].startswith("application/json")
    assert as_json["Content-Disposition"] == 'attachment; filename="simple-v1.json"'
    assert json.loads(as_json.content)["steps"][0]["id"] == "hello"
    bad = owner.get(f"{url}?format=xml")
    assert bad.status_code == 400
    assert error_of(bad)["details"][0]["field"] == "format"
    assert owner.get(f"{url}?version=7").status_code == 404


def test_versions_diff_and_rollback(owner):
    made = published(owner)
    url = f"/api/workflows/{made['id']}"
    owner.patch(url, {"steps": [*SIMPLE["steps"], {"id": "bye", "type": "exit"}]}, format="json")
    owner.post(f"{url}/publish")
    versions = owner.get(f"{url}/versions").json()
    assert [v["number"] for v in versions["results"]] == [2, 1]
    one = owner.get(f"{url}/versions/1").json()
    assert [s["id"] for s in one["definition"]["steps"]] == ["hello", "tag_it"]
    diff = owner.get(f"{url}/versions/1/diff/2").json()
    assert diff["added"] == ["bye"]
    assert "+" in diff["text"]
    assert owner.get(f"{url}/versions/1/diff/9").status_code == 404
    rolled = owner.post(f"{url}/rollback", {"version": 1}, format="json").json()
    assert [s["step_id"] for s in rolled["steps"]] == ["hello", "tag_it"]
    assert rolled["published_version"] == 2
    assert owner.post(f"{url}/rollback", {"version": 5}, format="json").status_code == 404


def test_delete_is_refused_while_enrollments_are_live_unless_forced(owner, tenant):
    made = published(
        owner, {**SIMPLE, "steps": [{"id": "w", "type": "wait", "config": {"duration": "1d"}}]}
    )
    workflow = Workflow.objects.get(pk=made["id"])
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    url = f"/api/workflows/{made['id']}"
    refused = owner.delete(url)
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "workflow_busy"
    assert Workflow.objects.filter(pk=made["id"]).exists()
    assert owner.delete(f"{url}?force=true").status_code == 204
    assert not Workflow.objects.filter(pk=made["id"]).exists()
    assert not Enrollment.objects.filter(pk=enrollment.pk).exists()


def test_delete_without_live_enrollments(owner):
    made = create(owner)
    assert owner.delete(f"/api/workflows/{made['id']}").status_code == 204
    assert owner.get(f"/api/workflows/{made['id']}").status_code == 404


def test_publish_problems_of_an_edited_draft_carry_lines_of_its_export(owner):
    made = create(owner)
    url = f"/api/workflows/{made['id']}"
    owner.patch(url, {"steps": [{"id": "a", "type": "send_sms", "config": {"message": "x"},
                                 "next": "ghost"}]}, format="json")  # fmt: skip
    refused = owner.post(f"{url}/publish")
    detail = next(d for d in error_of(refused)["details"] if d["path"] == "steps[0].next")
    exported = owner.get(f"{url}/export").content.decode().splitlines()
    assert "ghost" in exported[detail["line"] - 1]
