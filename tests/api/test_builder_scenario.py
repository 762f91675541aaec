"""A visual builder's session, end to end on a real Celery worker, Redis and PostgreSQL.

Catalog → a workflow built step by step (trigger, wait, condition, email) → test (dry run)
→ publish → enroll → follow the logs to completion → export YAML → import it back unchanged.
"""

from __future__ import annotations

import pytest
import yaml

from engine.runtime import scheduler
from tests.api.conftest import bearer
from tests.cast import make_contact, make_published, make_staff, make_tenant
from workflows.models import Enrollment, Workflow
from workflows.services import draft_definition

pytestmark = pytest.mark.e2e

SERVICES = ("require_postgres", "require_redis", "transactional_db")


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.content[:500]
    return response.json()


@pytest.mark.usefixtures(*SERVICES)
def test_a_builder_builds_tests_publishes_runs_and_round_trips_a_workflow(e2e_worker):
    tenant = make_tenant("builder")
    # make_staff makes an editor; publishing and enrolling need admin.
    api = bearer(make_staff(tenant))
    tenant.memberships.update(role="admin")

    catalog = ok(api.get("/api/catalog"))
    kinds = {step["type"] for step in catalog["steps"]}
    assert {"wait", "condition", "send_email"} <= kinds
    assert "manual" in {trigger["type"] for trigger in catalog["triggers"]}

    made = ok(
        api.post(
            "/api/workflows",
            {
                "name": "Builder flow",
                "trigger": {"type": "manual"},
                "steps": [{"id": "pause", "type": "wait", "config": {"duration": "1s"}}],
            },
            format="json",
        ),
        201,
    )
    steps_url = f"/api/workflows/{made['id']}/steps"
    ok(
        api.post(
            steps_url,
            {
                "step_id": "is_vip",
                "type": "condition",
                "config": {
                    "if": [{"field": "tags", "operator": "contains", "value": "vip"}],
                    "then": "welcome",
                    "else": "end",
                },
            },
            format="json",
        ),
        201,
    )
    ok(
        api.post(
            steps_url,
            {
                "step_id": "welcome",
                "type": "send_email",
                "config": {"subject": "Welcome {{contact.first_name}}", "body": "Glad you came."},
            },
            format="json",
        ),
        201,
    )
    assert [s["step_id"] for s in ok(api.get(steps_url))["results"]] == [
        "pause",
        "is_vip",
        "welcome",
    ]

    report = ok(
        api.post(
            f"/api/workflows/{made['id']}/test",
            {"contact": {"first_name": "Vic", "email": "vic@example.com", "tags": ["vip"]}},
            format="json",
        )
    )
    assert report["path"] == ["pause", "is_vip", "welcome"]
    assert report["outbox"][0]["subject"] == "Welcome Vic"
    assert not Enrollment.objects.exists()

    published = ok(api.post(f"/api/workflows/{made['id']}/publish"), 201)
    assert published["version"]["number"] == 1

    contact = make_contact(tenant, first_name="Vic", tags=["vip"])
    with e2e_worker.dispatching():
        enrolled = ok(
            api.post(
                f"/api/workflows/{made['id']}/enroll", {"contact_id": contact.pk}, format="json"
            )
        )
    assert enrolled["enrolled"] == 1
    enrollment_id = ok(api.get(f"/api/workflows/{made['id']}/enrollments"))["results"][0]["id"]

    def completed():
        with e2e_worker.dispatching():
            scheduler.tick()  # what celery beat does every few seconds
        detail = ok(api.get(f"/api/enrollments/{enrollment_id}"))
        return detail if detail["status"] == "completed" else None

    detail = e2e_worker.wait_for(completed, timeout=30)
    logs = ok(api.get(f"/api/enrollments/{enrollment_id}/logs"))["results"]
    assert [log["step_id"] for log in logs if log["status"] == "succeeded"][-2:] == [
        "is_vip",
        "welcome",
    ]
    assert detail["timeline"][-1]["step_id"] == "welcome"
    runlog = ok(api.get(f"/api/enrollments/{enrollment_id}/runlog"))
    assert runlog["status"] == "completed"

    exported = api.get(f"/api/workflows/{made['id']}/export?format=yaml")
    assert exported["Content-Type"].startswith("application/yaml")
    text = exported.content.decode()
    assert yaml.safe_load(text)["steps"][1]["config"]["then"] == "welcome"
    before = draft_definition(workflow=Workflow.objects.get(pk=made["id"]))
    imported = ok(api.post("/api/workflows/import", text, content_type="application/yaml"))
    assert imported["created"] is False
    assert imported["errors"] == []
    after = draft_definition(workflow=Workflow.objects.get(pk=made["id"]))
    assert after == before
    assert api.get(f"/api/workflows/{made['id']}/export?format=yaml").content.decode() == text


@pytest.mark.usefixtures(*SERVICES)
def test_run_with_wait_returns_the_finished_run_log(e2e_worker):
    tenant = make_tenant("runner")
    user = make_staff(tenant)
    tenant.memberships.update(role="owner")
    api = bearer(user)
    workflow = make_published(
        tenant,
        {
            "name": "Instant",
            "trigger": {"type": "manual"},
            "steps": [{"id": "mark", "type": "add_tag", "config": {"tag": "ran-{{trigger.plan}}"}}],
        },
    )
    with e2e_worker.dispatching():
        body = ok(
            api.post(
                "/api/workflows/run?wait=20",
                {
                    "workflow_id": workflow.pk,
                    "input_vars": {"email": "x@example.com", "plan": "gold"},
                },
                format="json",
            )
        )
    assert body["status"] == "completed"
    assert body["run_log"]["status"] == "completed"
    assert [s["step_id"] for s in body["run_log"]["steps"]] == ["mark"]
    assert body["result"]["actionsExecuted"] == 1
    assert "mark" in body["result"]["results"]
    contact = Enrollment.objects.get(pk=int(body["execution_id"])).contact
    assert list(contact.tags.values_list("name", flat=True)) == ["ran-gold"]
