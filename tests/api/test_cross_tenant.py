"""Tenant isolation of every /api/ route: another tenant's object is a 404 and no row changes.

``test_every_api_route_has_a_cross_tenant_test`` walks the URL resolver and fails for a route
that is in none of the tables below, so a new endpoint cannot ship without one.
"""

from __future__ import annotations

import pytest
import yaml
from django.urls import URLResolver, get_resolver

from tests.api.conftest import SIMPLE, error_of
from tests.api.world import World, build_world, snapshot

pytestmark = pytest.mark.django_db

ACTION = {"id": "a1", "type": "send_sms", "config": {"message": "Hi"}, "nextActionId": None}

# Routes that hold no tenant data (reference data, the schema, its page, the 404 catch-all).
TENANT_FREE = {
    "api/openapi.json": "the OpenAPI document",
    "api/openapi.yaml": "the OpenAPI document",
    "api/docs/": "the docs page",
    "api/catalog": "step and trigger kinds, the same for everyone",
    "api/definition-schema": "the definition's JSON Schema, the same for everyone",
    "api/.*": "the 404 catch-all",
}


def object_cases(a: World, b: World) -> dict[str, list[tuple[str, str, object]]]:
    """Route → requests by an owner of tenant B naming tenant A's objects (each must 404)."""
    wf, step, enr, pr = a.workflow, a.step, a.enrollment, a.prompt
    step_body = {"step_id": "x", "type": "exit"}
    return {
        "api/workflows/(?P<pk>[0-9]+)": [
            ("get", f"/api/workflows/{wf}", None),
            ("put", f"/api/workflows/{wf}", SIMPLE),
            ("patch", f"/api/workflows/{wf}", {"name": "stolen"}),
            ("delete", f"/api/workflows/{wf}?force=true", None),
        ],
        "api/workflows/(?P<pk>[0-9]+)/publish": [("post", f"/api/workflows/{wf}/publish", {})],
        "api/workflows/(?P<pk>[0-9]+)/pause": [("post", f"/api/workflows/{wf}/pause", {})],
        "api/workflows/(?P<pk>[0-9]+)/resume": [("post", f"/api/workflows/{wf}/resume", {})],
        "api/workflows/(?P<pk>[0-9]+)/archive": [("post", f"/api/workflows/{wf}/archive", {})],
        "api/workflows/(?P<pk>[0-9]+)/export": [("get", f"/api/workflows/{wf}/export", None)],
        "api/workflows/(?P<pk>[0-9]+)/webhook": [("get", f"/api/workflows/{wf}/webhook", None)],
        "api/workflows/(?P<pk>[0-9]+)/webhook/rotate-secret": [
            ("post", f"/api/workflows/{wf}/webhook/rotate-secret", {})
        ],
        "api/workflows/(?P<pk>[0-9]+)/versions": [("get", f"/api/workflows/{wf}/versions", None)],
        "api/workflows/(?P<pk>[0-9]+)/versions/(?P<number>[0-9]+)": [
            ("get", f"/api/workflows/{wf}/versions/1", None)
        ],
        "api/workflows/(?P<pk>[0-9]+)/versions/(?P<old>[0-9]+)/diff/(?P<new>[0-9]+)": [
            ("get", f"/api/workflows/{wf}/versions/1/diff/1", None)
        ],
        "api/workflows/(?P<pk>[0-9]+)/rollback": [
            ("post", f"/api/workflows/{wf}/rollback", {"version": 1})
        ],
        "api/workflows/(?P<pk>[0-9]+)/enroll": [
            ("post", f"/api/workflows/{wf}/enroll", {"contact_id": b.contact}),
            # B's own workflow, A's contact inside the body.
            ("post", f"/api/workflows/{b.workflow}/enroll", {"contact_id": a.contact}),
            ("post", f"/api/workflows/{b.workflow}/enroll", {"contact_ids": [a.contact]}),
        ],
        "api/workflows/(?P<pk>[0-9]+)/enrollments": [
            ("get", f"/api/workflows/{wf}/enrollments", None)
        ],
        "api/workflows/(?P<pk>[0-9]+)/stats": [("get", f"/api/workflows/{wf}/stats", None)],
        "api/workflows/(?P<pk>[0-9]+)/test": [
            ("post", f"/api/workflows/{wf}/test", {}),
            ("post", f"/api/workflows/{b.workflow}/test", {"contact_id": a.contact}),
        ],
        "api/workflows/<int:workflow_pk>/steps": [
            ("get", f"/api/workflows/{wf}/steps", None),
            ("post", f"/api/workflows/{wf}/steps", step_body),
            # B's own workflow, A's prompt inside the body.
            (
                "post",
                f"/api/workflows/{b.workflow}/steps",
                {**step_body, "type": "ai_prompt", "config": {"prompt": "x"}, "prompt": pr},
            ),
        ],
        "api/workflows/<int:workflow_pk>/steps/reorder": [
            ("post", f"/api/workflows/{wf}/steps/reorder", {"step_ids": ["hello", "pause_a_day"]})
        ],
        "api/workflows/<int:workflow_pk>/steps/<int:pk>": [
            ("get", f"/api/workflows/{wf}/steps/{step}", None),
            ("put", f"/api/workflows/{wf}/steps/{step}", step_body),
            ("patch", f"/api/workflows/{wf}/steps/{step}", {"name": "stolen"}),
            ("delete", f"/api/workflows/{wf}/steps/{step}", None),
            # A's step under B's workflow id.
            ("get", f"/api/workflows/{b.workflow}/steps/{step}", None),
            ("patch", f"/api/workflows/{b.workflow}/steps/{step}", {"name": "x"}),
            # B's step, A's prompt in the body.
            ("patch", f"/api/workflows/{b.workflow}/steps/{b.step}", {"prompt": pr}),
        ],
        "api/workflow-steps": [
            ("post", "/api/workflow-steps", {**step_body, "workflow": wf}),
            ("post", "/api/workflow-steps", {**step_body, "workflow": b.workflow, "prompt": pr}),
        ],
        "api/workflow-steps/(?P<pk>[0-9]+)": [
            ("get", f"/api/workflow-steps/{step}", None),
            ("put", f"/api/workflow-steps/{step}", step_body),
            ("patch", f"/api/workflow-steps/{step}", {"name": "stolen"}),
            ("delete", f"/api/workflow-steps/{step}", None),
        ],
        "api/workflows/run": [
            ("post", "/api/workflows/run", {"workflow_id": wf}),
            ("post", "/api/workflows/run", {"workflowId": str(wf), "triggerData": {}}),
            ("post", "/api/workflows/run", {"workflow_id": b.workflow, "contact_id": a.contact}),
        ],
        "api/workflows/update": [
            ("post", "/api/workflows/update", {"workflowId": str(wf), "name": "stolen"})
        ],
        "api/enrollments/(?P<pk>[0-9]+)": [("get", f"/api/enrollments/{enr}", None)],
        "api/enrollments/(?P<pk>[0-9]+)/exit": [("post", f"/api/enrollments/{enr}/exit", {})],
        "api/enrollments/(?P<pk>[0-9]+)/retry": [("post", f"/api/enrollments/{enr}/retry", {})],
        "api/enrollments/(?P<pk>[0-9]+)/logs": [
            ("get", f"/api/enrollments/{enr}/logs", None),
        ],
        "api/enrollments/(?P<pk>[0-9]+)/runlog": [("get", f"/api/enrollments/{enr}/runlog", None)],
        "api/enroll-jobs/(?P<pk>[0-9]+)": [("get", f"/api/enroll-jobs/{a.job}", None)],
        "api/prompts/(?P<pk>[0-9]+)": [
            ("get", f"/api/prompts/{pr}", None),
            ("put", f"/api/prompts/{pr}", {"system_prompt_text": "stolen"}),
            ("patch", f"/api/prompts/{pr}", {"system_prompt_text": "stolen"}),
            ("delete", f"/api/prompts/{a.draft_prompt}", None),
        ],
        "api/prompts/(?P<pk>[0-9]+)/activate": [
            ("post", f"/api/prompts/{a.draft_prompt}/activate", {})
        ],
        "api/prompts/(?P<pk>[0-9]+)/archive": [("post", f"/api/prompts/{pr}/archive", {})],
        "api/prompts/(?P<pk>[0-9]+)/test": [("post", f"/api/prompts/{pr}/test", {})],
        "api/prompts/(?P<pk>[0-9]+)/versions": [
            ("get", f"/api/prompts/{pr}/versions", None),
            ("post", f"/api/prompts/{pr}/versions", {"category": "stolen"}),
        ],
    }


# Collection routes: B's answers must not show A's rows, and B's writes land in B only.
COLLECTION_ROUTES = {
    "api/workflows",
    "api/workflows/list",
    "api/workflows/create",
    "api/workflows/import",
    "api/workflow-steps#list",
    "api/prompts",
    "api/schema",
}


def api_routes() -> set[str]:
    def walk(patterns, prefix=""):
        for p in patterns:
            route = prefix + str(p.pattern).lstrip("^").rstrip("$")
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, route)
            else:
                yield route

    return {r for r in walk(get_resolver().url_patterns) if r.startswith("api/")}


@pytest.fixture
def worlds(tenant, other_tenant) -> tuple[World, World]:
    return build_world(tenant), build_world(other_tenant, name="Other")


def test_every_api_route_has_a_cross_tenant_test(worlds):
    covered = (
        set(object_cases(*worlds)) | {r.split("#")[0] for r in COLLECTION_ROUTES} | set(TENANT_FREE)
    )
    missing = sorted(api_routes() - covered)
    assert not missing, f"routes without a cross-tenant test: {missing}"
    stale = sorted(covered - api_routes())
    assert not stale, f"cross-tenant cases for routes that do not exist: {stale}"


@pytest.mark.parametrize("route", sorted(object_cases(World(*[None] * 8), World(*[None] * 8))))
def test_another_tenants_objects_are_404_and_nothing_changes(route, worlds, outsider, tenant):
    a, b = worlds
    before = snapshot(tenant)
    for method, path, body in object_cases(a, b)[route]:
        response = getattr(outsider, method)(path, body, format="json")
        assert response.status_code == 404, (method, path, response.content[:300])
        error_of(response)
        assert snapshot(tenant) == before, (method, path)


def test_collections_show_and_touch_only_the_callers_tenant(worlds, outsider, tenant):
    _, b = worlds
    before = snapshot(tenant)
    names = [w["name"] for w in outsider.get("/api/workflows").json()["results"]]
    assert names == ["Other"]
    listed = outsider.get("/api/workflows/list").json()["workflows"]
    assert [w["name"] for w in listed] == ["Other"]
    steps = outsider.get("/api/workflow-steps").json()["results"]
    assert {s["workflow"] for s in steps} == {b.workflow}
    prompts = outsider.get("/api/prompts").json()["results"]
    assert all(p["name"].startswith("Other") for p in prompts)
    assert outsider.get("/api/schema").json()["tags"] == ["globex-only"]
    # Same names as A's rows: B gets its own, A's stay as they were.
    made = outsider.post("/api/workflows", {**SIMPLE, "name": "Nurture"}, format="json")
    assert made.status_code == 201
    ts = {"name": "Nurture TS", "trigger": {"type": "manual"}, "actions": [ACTION]}
    assert outsider.post("/api/workflows/create", ts, format="json").status_code == 201
    text = yaml.safe_dump({**SIMPLE, "name": "Nurture"})
    imported = outsider.post("/api/workflows/import", text, content_type="application/yaml")
    assert imported.status_code == 200
    assert imported.json()["workflow"]["id"] == made.json()["id"]
    prompt = outsider.post(
        "/api/prompts", {"name": "Nurture writer", "system_prompt_text": "x"}, format="json"
    )
    assert prompt.json()["version"] == 1
    assert snapshot(tenant) == before
