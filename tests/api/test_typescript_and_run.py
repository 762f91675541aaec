"""The TypeScript write-up's four routes with its request examples, and the PHP plan's run."""

from __future__ import annotations

import pytest

from tests.api.conftest import error_of
from tests.cast import make_contact, make_published
from workflows.models import Enrollment, Workflow

pytestmark = pytest.mark.django_db

# The write-up's "POST /api/workflows/create" request, verbatim.
CREATE_EXAMPLE = {
    "name": "Workflow Name",
    "description": "Optional description",
    "enabled": True,
    "trigger": {"type": "voice_call", "config": {}},
    "conditions": [],
    "actions": [
        {
            "id": "action-1",
            "type": "send_message",
            "config": {"message": "Hello!"},
            "nextActionId": None,
        }
    ],
}
WORKFLOW_KEYS = {
    "id", "tenantId", "name", "description", "enabled", "trigger", "conditions", "actions",
    "createdAt", "updatedAt", "runCount", "successCount", "errorCount", "lastRunAt", "status",
}  # fmt: skip

INSTANT = {
    "name": "Instant",
    "trigger": {"type": "manual"},
    "steps": [{"id": "note", "type": "add_tag", "config": {"tag": "ran"}}],
}


def test_create_example_answers_in_the_write_ups_envelope(owner, tenant):
    response = owner.post("/api/workflows/create", CREATE_EXAMPLE, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["success"] is True
    workflow = body["workflow"]
    assert set(workflow) == WORKFLOW_KEYS
    assert workflow["tenantId"] == str(tenant.pk)
    assert workflow["enabled"] is True
    assert workflow["trigger"]["type"] == "voice_call"
    assert workflow["actions"] == [
        {"id": "action-1", "type": "send_message", "config": {"message": "Hello!"},
         "nextActionId": None}
    ]  # fmt: skip
    assert (workflow["runCount"], workflow["successCount"], workflow["errorCount"]) == (0, 0, 0)
    assert Workflow.objects.get(pk=int(workflow["id"])).published_version.number == 1


def test_update_example_renames_and_disables(owner):
    created = owner.post("/api/workflows/create", CREATE_EXAMPLE, format="json").json()
    workflow_id = created["workflow"]["id"]
    # The write-up's "POST /api/workflows/update" request (with a real id).
    response = owner.post(
        "/api/workflows/update",
        {"workflowId": workflow_id, "name": "Updated Name", "enabled": False},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["workflow"]["name"] == "Updated Name"
    assert body["workflow"]["enabled"] is False
    assert body["workflow"]["actions"][0]["id"] == "action-1"
    row = Workflow.objects.get(pk=int(workflow_id))
    assert row.status == "paused"
    enabled = owner.post(
        "/api/workflows/update", {"workflowId": workflow_id, "enabled": True}, format="json"
    ).json()
    assert enabled["workflow"]["enabled"] is True
    # The rename changed the draft, so enabling published it as version 2 ...
    assert row.versions.count() == 2
    owner.post(
        "/api/workflows/update", {"workflowId": workflow_id, "enabled": False}, format="json"
    )
    owner.post("/api/workflows/update", {"workflowId": workflow_id, "enabled": True}, format="json")
    # ... and with nothing changed since, enabling again only resumes it.
    row.refresh_from_db()
    assert row.status == "active"
    assert row.versions.count() == 2


def test_update_of_actions_publishes_a_new_version_when_enabled(owner):
    created = owner.post("/api/workflows/create", CREATE_EXAMPLE, format="json").json()
    workflow_id = created["workflow"]["id"]
    actions = [
        {"id": "a", "type": "send_sms", "config": {"message": "One"}, "nextActionId": "b"},
        {"id": "b", "type": "send_sms", "config": {"message": "Two"}, "nextActionId": None},
    ]
    body = owner.post(
        "/api/workflows/update",
        {"workflowId": workflow_id, "actions": actions, "enabled": True},
        format="json",
    ).json()
    assert [a["nextActionId"] for a in body["workflow"]["actions"]] == ["b", None]
    assert Workflow.objects.get(pk=int(workflow_id)).published_version.number == 2


def test_update_needs_a_workflow_id_of_the_tenant(owner):
    missing = owner.post("/api/workflows/update", {"name": "x"}, format="json")
    assert missing.status_code == 400
    assert error_of(missing)["details"][0]["field"] == "workflowId"
    assert (
        owner.post("/api/workflows/update", {"workflowId": "999999"}, format="json").status_code
        == 404
    )


def test_list_example_with_enabled_only_and_stats(owner, tenant):
    owner.post("/api/workflows/create", CREATE_EXAMPLE, format="json")
    owner.post(
        "/api/workflows/create", {**CREATE_EXAMPLE, "name": "Off", "enabled": False}, format="json"
    )
    everything = owner.get("/api/workflows/list").json()
    assert everything["success"] is True
    assert len(everything["workflows"]) == 2
    assert "stats" not in everything
    body = owner.get("/api/workflows/list?enabledOnly=true&includeStats=true").json()
    assert [w["name"] for w in body["workflows"]] == ["Workflow Name"]
    assert set(body["workflows"][0]) == WORKFLOW_KEYS
    assert body["stats"] == {
        "totalWorkflows": 1,
        "enabledWorkflows": 1,
        "totalExecutions": 0,
        "successRate": None,
    }


def test_the_write_ups_run_request(owner, tenant, sent):
    workflow = make_published(tenant, INSTANT)
    response = owner.post(
        "/api/workflows/run",
        {
            "workflowId": str(workflow.pk),
            "triggerData": {"content": "Test message", "from": "test-user"},
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["success"] is True
    assert body["result"]["success"] is True
    assert body["result"]["executionId"] == body["execution_id"]
    assert set(body["result"]) == {"success", "executionId", "actionsExecuted", "results"}
    enrollment = Enrollment.objects.get(pk=int(body["execution_id"]))
    assert enrollment.context["trigger"]["content"] == "Test message"
    assert enrollment.contact.first_name == "test-user"
    assert enrollment.contact.source == "api_run"


def test_the_php_plans_run_request(owner, tenant, sent):
    workflow = make_published(tenant, INSTANT)
    contact = make_contact(tenant, email="ann@example.org")
    response = owner.post(
        "/api/workflows/run",
        {"workflow_id": workflow.pk, "input_vars": {"email": "ANN@example.org", "plan": "gold"}},
        format="json",
    )
    assert response.status_code == 202
    body = response.json()
    assert {"execution_id", "status", "errors"} <= set(body)
    assert body["errors"] == []
    assert body["contact_id"] == contact.pk
    again = owner.post(
        "/api/workflows/run",
        {"workflow_id": workflow.pk, "contact_id": contact.pk},
        format="json",
    )
    assert again.status_code == 409


def test_run_errors(owner, tenant):
    assert (
        error_of(owner.post("/api/workflows/run", {}, format="json"))["details"][0]["field"]
        == "workflow_id"
    )
    assert owner.post("/api/workflows/run", {"workflowId": "abc"}, format="json").status_code == 400
    assert (
        owner.post("/api/workflows/run", {"workflow_id": 999999}, format="json").status_code == 404
    )
    draft = Workflow.objects.create(tenant=tenant, name="Draft")
    refused = owner.post("/api/workflows/run", {"workflow_id": draft.pk}, format="json")
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "enrollment_refused"


def test_run_needs_admin(client_as, tenant):
    workflow = make_published(tenant, INSTANT)
    refused = client_as("editor").post(
        "/api/workflows/run", {"workflow_id": workflow.pk}, format="json"
    )
    assert refused.status_code == 403
    assert not Enrollment.objects.exists()
