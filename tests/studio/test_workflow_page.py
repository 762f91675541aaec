"""The workflow page: built from ordinary fields, checked on the page, YAML, versions, import."""

from __future__ import annotations

import pytest

from tests.studio.cast import populate, studio_staff
from workflows.models import Workflow
from workflows.services import workflow_publish

pytestmark = pytest.mark.django_db

ADD = "/admin/workflows/workflow/add/"


def management(total: int, initial: int = 0) -> dict:
    return {
        "steps-TOTAL_FORMS": total,
        "steps-INITIAL_FORMS": initial,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }


def new_workflow_post(tenant, *, then_target: str) -> dict:
    return {
        "tenant": tenant.pk,
        "name": "Tagged welcome",
        "description": "",
        "trigger_type": "tag_added",
        "tcfg_tag": "vip",
        "filter_1_field": "email",
        "filter_1_op": "is_not_empty",
        "settings": "{}",
        **management(3),
        "steps-0-order": 1,
        "steps-0-step_id": "wait_1h",
        "steps-0-type": "wait",
        "steps-0-cfg_duration": "1h",
        "steps-1-order": 2,
        "steps-1-step_id": "has_email",
        "steps-1-type": "condition",
        "steps-1-cfg_if_match": "all",
        "steps-1-cfg_if_1_field": "email",
        "steps-1-cfg_if_1_op": "is_not_empty",
        "steps-1-cfg_then": then_target,
        "steps-1-cfg_else": "end",
        "steps-2-order": 3,
        "steps-2-step_id": "welcome",
        "steps-2-type": "send_email",
        "steps-2-cfg_subject": "Welcome {{contact.first_name}}",
        "steps-2-cfg_body": "Hello!",
    }


@pytest.fixture
def shop(client):
    made = populate("Alpha")
    client.force_login(studio_staff(made["tenant"]))
    return made


def test_a_workflow_is_built_from_form_fields_into_the_canonical_definition(client, shop):
    response = client.post(ADD, new_workflow_post(shop["tenant"], then_target="welcome"))
    assert response.status_code == 302, response.content.decode()[:3000]
    workflow = Workflow.objects.get(name="Tagged welcome")
    assert workflow.trigger_config == {"tag": "vip"}
    assert workflow.trigger_filters == [{"field": "email", "operator": "is_not_empty"}]
    steps = {s.step_id: s for s in workflow.steps.all()}
    assert steps["wait_1h"].config == {"duration": "1h"}
    assert steps["has_email"].config == {
        "if": [{"field": "email", "operator": "is_not_empty"}],
        "then": "welcome",
        "else": "end",
    }
    assert steps["welcome"].config == {
        "subject": "Welcome {{contact.first_name}}",
        "body": "Hello!",
    }
    assert workflow.status == Workflow.Status.DRAFT
    workflow_publish(workflow=workflow)  # the form's output is a publishable definition


def test_a_branch_to_a_missing_step_is_shown_with_its_step_before_publishing(client, shop):
    client.post(ADD, new_workflow_post(shop["tenant"], then_target="welcom"))
    workflow = Workflow.objects.get(name="Tagged welcome")
    page = client.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()
    assert "Check before publishing" in page
    assert "welcom" in page
    assert "has_email" in page  # the step the problem belongs to


def test_the_saved_form_shows_its_config_in_the_fields_again(client, shop):
    client.post(ADD, new_workflow_post(shop["tenant"], then_target="welcome"))
    workflow = Workflow.objects.get(name="Tagged welcome")
    page = client.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()
    assert 'name="steps-0-cfg_duration"' in page
    assert 'value="1h"' in page
    assert 'value="vip"' in page
    assert "The draft is valid" in page
    assert "<svg" in page  # the graph
    assert "duration: 1h" in page  # the YAML preview


def test_a_bad_value_is_refused_with_the_field_named(client, shop):
    data = new_workflow_post(shop["tenant"], then_target="welcome")
    data["steps-1-cfg_if_1_op"] = ""
    page = client.post(ADD, data).content.decode()
    assert "Rule 1: choose both a field and an operator." in page
    assert not Workflow.objects.filter(name="Tagged welcome").exists()


def test_the_yaml_editor_saves_a_readable_draft_and_shows_errors_with_lines(client, shop):
    workflow = shop["workflow"]
    url = f"/admin/workflows/workflow/{workflow.pk}/yaml/"
    assert "Alpha_wait" in client.get(url).content.decode()
    broken = f"name: {workflow.name}\nsteps:\n  - id: a\n    type: send_emial\n"
    page = client.post(url, {"text": broken}).content.decode()
    assert "send_emial" in page
    assert "cannot be read" in page
    workflow.refresh_from_db()
    assert workflow.steps.filter(step_id="Alpha_wait").exists()
    fixed = (
        f"name: {workflow.name}\ntrigger: {{type: manual}}\nsteps:\n  - id: only\n    type: exit\n"
    )
    assert client.post(url, {"text": fixed}).status_code == 302
    assert list(workflow.steps.values_list("step_id", flat=True)) == ["only"]


def test_versions_diff_and_roll_back(client, shop):
    workflow = shop["workflow"]
    workflow.steps.filter(type="wait").update(config={"duration": "2h"})
    workflow_publish(workflow=workflow)
    url = f"/admin/workflows/workflow/{workflow.pk}/versions/"
    page = client.get(url, {"old": 1, "new": 2}).content.decode()
    assert "Steps changed: Alpha_wait" in page
    assert "+      duration: 2h" in page or "duration: 2h" in page
    client.post(url, {"rollback": 1})
    assert workflow.steps.get(type="wait").config == {"duration": "1h"}


def test_export_any_version_as_yaml_or_json(client, shop):
    workflow = shop["workflow"]
    base = f"/admin/workflows/workflow/{workflow.pk}/export/"
    yaml_text = client.get(base, {"version": 1}).content.decode()
    assert "name: Alpha flow" in yaml_text
    json_response = client.get(base, {"format": "json"})
    assert json_response.json()["name"] == "Alpha flow"
    assert client.get(base, {"version": 9}).status_code == 404


def test_import_by_paste_shows_warnings_and_by_upload_reports_lines(client, shop, settings):
    from pathlib import Path

    text = (Path(settings.BASE_DIR) / "examples" / "new-lead-nurture.yaml").read_text()
    response = client.post(
        "/admin/workflows/workflow/import/", {"tenant": shop["tenant"].pk, "text": text}
    )
    assert response.status_code == 302
    workflow = Workflow.objects.get(tenant=shop["tenant"], name="New Lead Nurture")
    page = client.get(response.url).content.decode()
    assert "warning" in page
    assert "<svg" in page
    assert workflow.status == Workflow.Status.DRAFT
    bad = "name: x\nsteps:\n  - id: a\n    type: wait\n    config: {duration: 1h\n"
    page = client.post(
        "/admin/workflows/workflow/import/", {"tenant": shop["tenant"].pk, "text": bad}
    ).content.decode()
    assert "cannot be read" in page
    assert "line" in page.lower()
