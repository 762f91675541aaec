"""Status changes only through publish / pause / resume / archive, which call the services."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers

from tests.studio.cast import populate, studio_staff
from workflows.models import Workflow, WorkflowStep

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return populate("Alpha")


def change_url(workflow) -> str:
    return f"/admin/workflows/workflow/{workflow.pk}/change/"


def test_the_status_cannot_be_posted_by_hand(client, shop):
    workflow = shop["workflow"]
    client.force_login(studio_staff(shop["tenant"]))
    page = client.get(change_url(workflow)).content.decode()
    assert 'name="status"' not in page
    client.post(change_url(workflow), {"status": "archived", "name": workflow.name})
    workflow.refresh_from_db()
    assert workflow.status == Workflow.Status.ACTIVE


def test_pause_resume_and_archive_buttons_call_the_services(client, shop):
    workflow = shop["workflow"]
    client.force_login(studio_staff(shop["tenant"]))
    for button, status in (("pause", "paused"), ("resume", "active"), ("archive", "archived")):
        url = f"/admin/workflows/workflow/{workflow.pk}/{button}/"
        assert "Cancel" in client.get(url).content.decode()
        workflow.refresh_from_db()
        assert workflow.status != status
        assert client.post(url).status_code == 302
        workflow.refresh_from_db()
        assert workflow.status == status


def test_publishing_a_broken_draft_is_refused_with_the_step_named(client, shop):
    workflow = shop["workflow"]
    WorkflowStep.objects.filter(workflow=workflow, type="wait").update(next_step="nowhere")
    client.force_login(studio_staff(shop["tenant"]))
    response = client.post(f"/admin/workflows/workflow/{workflow.pk}/publish/", follow=True)
    text = response.content.decode()
    assert "was not published" in text
    assert "nowhere" in text
    assert workflow.versions.count() == 1


def test_a_draft_publishes_into_a_new_version_from_the_list(client, shop):
    workflow = shop["workflow"]
    client.force_login(studio_staff(shop["tenant"]))
    first = client.post(
        "/admin/workflows/workflow/",
        {"action": "publish_selected", helpers.ACTION_CHECKBOX_NAME: [workflow.pk]},
        follow=True,
    )
    assert "1 workflow published." in first.content.decode()
    workflow.refresh_from_db()
    assert workflow.published_version.number == 2
    # Again, unchanged: said so, and no version is added.
    response = client.post(
        "/admin/workflows/workflow/",
        {"action": "publish_selected", helpers.ACTION_CHECKBOX_NAME: [workflow.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "is unchanged since its live version; nothing to publish." in text
    assert "1 workflow published." not in text
    assert workflow.versions.count() == 2


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewers_and_editors_cannot_publish(client, shop, role):
    workflow = shop["workflow"]
    client.force_login(studio_staff(shop["tenant"], role=role))
    response = client.post(f"/admin/workflows/workflow/{workflow.pk}/publish/", follow=True)
    assert "must be an admin or owner" in response.content.decode()
    assert workflow.versions.count() == 1


def test_a_viewer_reads_a_workflow_but_cannot_change_it(client, shop):
    workflow = shop["workflow"]
    client.force_login(studio_staff(shop["tenant"], role="viewer"))
    page = client.get(change_url(workflow)).content.decode()
    assert workflow.name in page
    assert 'name="name"' not in page


def test_the_site_root_links_the_studio(client):
    page = client.get("/").content.decode()
    assert 'href="/admin/"' in page


def test_duplicate_makes_a_draft_copy_with_a_free_name(client, shop):
    workflow = shop["workflow"]
    client.force_login(studio_staff(shop["tenant"]))
    for _ in range(2):
        client.post(
            "/admin/workflows/workflow/",
            {"action": "duplicate_selected", helpers.ACTION_CHECKBOX_NAME: [workflow.pk]},
        )
    names = set(Workflow.objects.filter(tenant=shop["tenant"]).values_list("name", flat=True))
    assert names == {"Alpha flow", "Alpha flow (copy)", "Alpha flow (copy 2)"}
    copy = Workflow.objects.get(name="Alpha flow (copy)")
    assert copy.status == Workflow.Status.DRAFT
    assert list(copy.steps.values_list("step_id", flat=True)) == ["Alpha_wait", "Alpha_done"]


def test_row_actions_lead_to_the_test_page_and_the_export(client, shop):
    workflow = shop["workflow"]
    client.force_login(studio_staff(shop["tenant"]))
    page = client.get("/admin/workflows/workflow/").content.decode()
    assert f"/admin/workflows/workflow/{workflow.pk}/test-row/" in page
    response = client.get(f"/admin/workflows/workflow/{workflow.pk}/export-row/")
    assert response.url == f"/admin/workflows/workflow/{workflow.pk}/export/"
