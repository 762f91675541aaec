"""Roles from TenantMembership: viewer reads; editor edits drafts and tests; admin and owner
publish, pause, resume, archive, enroll, exit, run and delete (docs/api.md has the table)."""

from __future__ import annotations

import pytest

from tests.api.conftest import ROLES, SIMPLE, error_of
from tests.api.world import World, build_world, snapshot

pytestmark = pytest.mark.django_db

ACTION = {"id": "a1", "type": "send_sms", "config": {"message": "Hi"}, "nextActionId": None}
IMPORTED = "name: Imported\ntrigger: {type: manual}\nsteps: [{id: bye, type: exit}]\n"


def endpoints(w: World) -> list[tuple[str, str, object, str]]:
    """(method, path, body, least role) for every endpoint."""
    wf, step, enr, pr = w.workflow, w.step, w.enrollment, w.prompt
    return [
        ("get", "/api/workflows", None, "viewer"),
        ("get", f"/api/workflows/{wf}", None, "viewer"),
        ("get", f"/api/workflows/{wf}/export", None, "viewer"),
        ("get", f"/api/workflows/{wf}/versions", None, "viewer"),
        ("get", f"/api/workflows/{wf}/versions/1", None, "viewer"),
        ("get", f"/api/workflows/{wf}/versions/1/diff/1", None, "viewer"),
        ("get", f"/api/workflows/{wf}/enrollments", None, "viewer"),
        ("get", f"/api/workflows/{wf}/stats", None, "viewer"),
        ("get", f"/api/workflows/{wf}/steps", None, "viewer"),
        ("get", f"/api/workflows/{wf}/steps/{step}", None, "viewer"),
        ("get", "/api/workflow-steps", None, "viewer"),
        ("get", f"/api/workflow-steps/{step}", None, "viewer"),
        ("get", f"/api/enrollments/{enr}", None, "viewer"),
        ("get", f"/api/enrollments/{enr}/logs", None, "viewer"),
        ("get", f"/api/enrollments/{enr}/runlog", None, "viewer"),
        ("get", f"/api/enroll-jobs/{w.job}", None, "viewer"),
        ("get", "/api/prompts", None, "viewer"),
        ("get", f"/api/prompts/{pr}", None, "viewer"),
        ("get", f"/api/prompts/{pr}/versions", None, "viewer"),
        ("get", "/api/workflows/list", None, "viewer"),
        ("get", "/api/schema", None, "viewer"),
        ("get", "/api/catalog", None, "viewer"),
        ("get", "/api/definition-schema", None, "viewer"),
        ("post", "/api/workflows", {**SIMPLE, "name": "New"}, "editor"),
        ("patch", f"/api/workflows/{wf}", {"description": "x"}, "editor"),
        ("put", f"/api/workflows/{wf}", {**SIMPLE, "name": "Nurture"}, "editor"),
        ("post", f"/api/workflows/{wf}/test", {}, "editor"),
        ("post", f"/api/workflows/{wf}/rollback", {"version": 1}, "editor"),
        ("post", f"/api/workflows/{wf}/steps", {"step_id": "z", "type": "exit"}, "editor"),
        ("patch", f"/api/workflows/{wf}/steps/{step}", {"name": "x"}, "editor"),
        (
            "post",
            f"/api/workflows/{wf}/steps/reorder",
            {"step_ids": ["hello", "pause_a_day"]},
            "editor",
        ),
        ("post", "/api/workflow-steps", {"workflow": wf, "step_id": "y", "type": "exit"}, "editor"),
        ("delete", f"/api/workflow-steps/{step}", None, "editor"),
        ("post", "/api/workflows/import", None, "editor"),
        (
            "post",
            "/api/workflows/create",
            {"name": "T", "trigger": {"type": "manual"}, "actions": [ACTION]},
            "editor",
        ),
        ("post", "/api/workflows/update", {"workflowId": str(wf), "name": "U"}, "editor"),
        ("post", "/api/prompts", {"name": "P", "system_prompt_text": "x"}, "editor"),
        ("patch", f"/api/prompts/{pr}", {"category": "c"}, "editor"),
        ("post", f"/api/prompts/{pr}/versions", {}, "editor"),
        ("post", f"/api/prompts/{pr}/test", {}, "editor"),
        ("post", f"/api/enrollments/{enr}/retry", {}, "editor"),
        ("post", f"/api/workflows/{wf}/publish", {}, "admin"),
        ("post", f"/api/workflows/{wf}/pause", {}, "admin"),
        ("post", f"/api/workflows/{wf}/archive", {}, "admin"),
        ("post", f"/api/workflows/{wf}/resume", {}, "admin"),
        ("post", f"/api/workflows/{wf}/enroll", {"contact_id": w.contact}, "admin"),
        ("post", f"/api/enrollments/{enr}/exit", {}, "admin"),
        ("post", "/api/workflows/run", {"workflow_id": wf}, "admin"),
        ("delete", f"/api/workflows/{wf}?force=true", None, "admin"),
        ("post", f"/api/prompts/{pr}/archive", {}, "admin"),
        ("post", f"/api/prompts/{w.draft_prompt}/activate", {}, "admin"),
        ("delete", f"/api/prompts/{w.draft_prompt}", None, "admin"),
        ("post", "/api/workflows/update", {"workflowId": str(wf), "enabled": False}, "admin"),
        (
            "post",
            "/api/workflows/create",
            {"name": "E", "trigger": {"type": "manual"}, "enabled": True, "actions": [ACTION]},
            "admin",
        ),
    ]


ENDPOINTS = range(len(endpoints(World(*[0] * 8))))


@pytest.mark.parametrize("index", ENDPOINTS)
def test_each_role_may_do_exactly_what_its_rank_allows(index, tenant, client_as):
    """Every role in turn, lowest first: the refused ones change nothing, so one world serves."""
    world = build_world(tenant)
    method, path, body, least = endpoints(world)[index]
    for role in ROLES:
        client = client_as(role)
        before = snapshot(tenant)
        if path == "/api/workflows/import":
            response = client.post(path, IMPORTED, content_type="application/yaml")
        else:
            response = getattr(client, method)(path, body, format="json")
        if ROLES.index(role) < ROLES.index(least):
            assert response.status_code == 403, (method, path, role)
            assert error_of(response)["code"] == "permission_denied"
            assert snapshot(tenant) == before
        else:
            # Allowed: not a refusal for the role, whatever else (a second publish after the
            # admin's, a resume of an active workflow: 409 is about the workflow, not the caller).
            assert response.status_code not in (401, 403), (method, path, role)
            assert response.status_code < 500, response.content[:400]
