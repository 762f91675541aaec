"""The workflow page's live preview: the unsaved form in, its YAML and problems out, unsaved."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client

from tests.studio.cast import populate, studio_staff
from tests.studio.test_workflow_page import ADD, new_workflow_post
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

NEW_PREVIEW = "/admin/workflows/workflow/preview/"


def preview_url(workflow: Workflow) -> str:
    return f"/admin/workflows/workflow/{workflow.pk}/preview/"


@pytest.fixture
def shop(client):
    made = populate("Alpha")
    client.force_login(studio_staff(made["tenant"]))
    return made


@pytest.fixture
def saved(client, shop) -> tuple[Workflow, dict]:
    """The 'Tagged welcome' workflow saved through the page, and its change form's data."""
    data = new_workflow_post(shop["tenant"], then_target="welcome")
    assert client.post(ADD, data).status_code == 302
    workflow = Workflow.objects.get(name="Tagged welcome")
    data.pop("tenant")  # read-only once saved
    data["steps-INITIAL_FORMS"] = 3
    for index, step in enumerate(workflow.steps.order_by("order")):
        data[f"steps-{index}-id"] = step.pk
        data[f"steps-{index}-workflow"] = workflow.pk
    return workflow, data


def test_typing_a_step_field_changes_the_preview_without_saving(client, saved):
    workflow, data = saved
    data["steps-2-cfg_subject"] = "Good morning {{contact.first_name}}"
    response = client.post(preview_url(workflow), data)
    assert response.status_code == 200
    answer = response.json()
    steps = {s["id"]: s for s in yaml.safe_load(answer["yaml"])["steps"]}
    assert steps["welcome"]["config"]["subject"] == "Good morning {{contact.first_name}}"
    assert (answer["errors"], answer["problems"]) == (0, [])
    saved_step = workflow.steps.get(step_id="welcome")
    assert saved_step.config["subject"] == "Welcome {{contact.first_name}}"  # nothing saved


def test_a_branch_to_a_missing_step_is_a_problem_of_its_step(client, saved):
    workflow, data = saved
    data["steps-1-cfg_then"] = "welcom"
    answer = client.post(preview_url(workflow), data).json()
    assert answer["errors"] >= 1
    problem = next(p for p in answer["problems"] if "welcom" in p["message"])
    assert (problem["severity"], problem["step"]) == ("error", "has_email")
    assert problem["path"].startswith("steps[1]")
    assert "then: welcom" in answer["yaml"]


def test_a_new_step_and_a_removed_step_show_in_the_preview(client, saved):
    workflow, data = saved
    data["steps-TOTAL_FORMS"] = 4
    data.update(
        {
            "steps-3-order": 4,
            "steps-3-step_id": "bye",
            "steps-3-type": "exit",
            "steps-3-cfg_reason": "done",
            "steps-0-DELETE": "on",
        }
    )
    answer = client.post(preview_url(workflow), data).json()
    ids = [s["id"] for s in yaml.safe_load(answer["yaml"])["steps"]]
    assert ids == ["has_email", "welcome", "bye"]


def test_a_bad_field_value_is_a_problem_naming_field_and_step_and_the_rest_previews(client, saved):
    workflow, data = saved
    data["steps-1-cfg_if_1_op"] = ""
    data["steps-2-cfg_subject"] = "Still previewed"
    answer = client.post(preview_url(workflow), data).json()
    problem = next(p for p in answer["problems"] if p["step"] == "has_email")
    assert "Rule 1: choose both a field and an operator." in problem["message"]
    assert problem["path"].startswith("steps[1].cfg_if_1_field")
    assert "Still previewed" in answer["yaml"]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"steps-TOTAL_FORMS": "lots", "name": ""},
        {"trigger_type": "send_emial", "settings": "{not json", "steps-TOTAL_FORMS": 1,
         "steps-INITIAL_FORMS": 0, "steps-0-type": "send_emial", "steps-0-step_id": "a b"},
    ],
)  # fmt: skip
def test_an_incomplete_or_bad_form_gives_problems_never_a_500(client, saved, data):
    workflow, _ = saved
    response = client.post(preview_url(workflow), data)
    assert response.status_code == 200
    answer = response.json()
    assert answer["errors"] >= 1
    assert all(p["message"] for p in answer["problems"])
    assert isinstance(answer["yaml"], str)


def test_a_new_workflow_is_previewed_before_its_first_save(client, shop):
    data = new_workflow_post(shop["tenant"], then_target="welcome")
    answer = client.post(NEW_PREVIEW, data).json()
    document = yaml.safe_load(answer["yaml"])
    assert document["trigger"] == {
        "type": "tag_added",
        "config": {"tag": "vip"},
        "filters": [{"field": "email", "operator": "is_not_empty"}],
    }
    assert [s["id"] for s in document["steps"]] == ["wait_1h", "has_email", "welcome"]
    assert not Workflow.objects.filter(name="Tagged welcome").exists()


def test_another_tenants_workflow_or_tenant_cannot_be_previewed(client, shop):
    other = populate("Zorro")
    assert client.post(preview_url(other["workflow"]), {}).status_code == 404
    assert client.get(preview_url(other["workflow"])).status_code == 404
    data = new_workflow_post(other["tenant"], then_target="welcome")
    answer = client.post(NEW_PREVIEW, data).json()
    assert any(p["path"] == "tenant" for p in answer["problems"])  # not a choice for me


def test_viewers_cannot_preview_and_get_is_refused(client, saved):
    workflow, data = saved
    assert client.get(preview_url(workflow)).status_code == 405
    client.force_login(studio_staff(workflow.tenant, role="viewer"))
    assert client.post(preview_url(workflow), data).status_code == 403
    assert client.post(NEW_PREVIEW, {}).status_code == 403


def test_the_preview_needs_the_csrf_token(saved):
    workflow, data = saved
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(studio_staff(workflow.tenant))
    assert strict.post(preview_url(workflow), data).status_code == 403


def test_the_change_page_carries_the_preview_url_and_script(client, saved):
    workflow, _ = saved
    page = client.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()
    assert f'data-url="{preview_url(workflow)}"' in page
    assert "studio/live_preview" in page
    client.force_login(studio_staff(workflow.tenant, role="viewer"))
    page = client.get(f"/admin/workflows/workflow/{workflow.pk}/change/").content.decode()
    assert 'id="studio-yaml-preview"' in page
    assert "data-url=" not in page  # a viewer's page does not post previews
