"""The enable/disable toggle in the workflow list's status column (pause ↔ resume)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.cast import make_published
from tests.studio.cast import flow, populate, studio_staff
from workflows.models import Enrollment, Workflow

pytestmark = pytest.mark.usefixtures("require_postgres")

LIST = "/admin/workflows/workflow/"


@pytest.fixture
def shop():
    made = populate("Alpha")
    made["paused"] = make_published(made["tenant"], flow("Beta"), status=Workflow.Status.PAUSED)
    made["draft"] = Workflow.objects.create(tenant=made["tenant"], name="Gamma draft")
    made["archived"] = make_published(
        made["tenant"], flow("Delta"), status=Workflow.Status.ARCHIVED
    )
    return made


def toggle_url(workflow) -> str:
    return f"{LIST}{workflow.pk}/toggle/"


def row_of(page: str, workflow) -> str:
    """The list row of ``workflow`` (from its change link to the end of its <tr>)."""
    start = page.index(f"{LIST}{workflow.pk}/change/")
    return page[start : page.index("</tr>", start)]


def status_of(workflow) -> str:
    workflow.refresh_from_db()
    return workflow.status


def test_each_status_shows_its_badge_and_its_toggle(client, shop):
    client.force_login(studio_staff(shop["tenant"], role="admin"))
    page = client.get(LIST).content.decode()
    active = row_of(page, shop["workflow"])
    assert re.search(r">\s*active\s*</span>", active)
    assert f'formaction="{toggle_url(shop["workflow"])}"' in active
    assert 'value="pause"' in active
    assert ">Disable</button>" in active
    paused = row_of(page, shop["paused"])
    assert re.search(r">\s*paused\s*</span>", paused)
    assert 'value="resume"' in paused
    assert ">Enable</button>" in paused
    draft = row_of(page, shop["draft"])
    assert "Publish to enable" in draft
    assert f'href="{LIST}{shop["draft"].pk}/publish/"' in draft
    assert "toggle" not in draft.replace("studio-toggle", "")
    archived = row_of(page, shop["archived"])
    assert re.search(r">\s*archived\s*</span>", archived)
    assert "studio-toggle" not in archived
    # The toggle is a button of the changelist form, which carries the CSRF token.
    assert 'name="csrfmiddlewaretoken"' in page


def test_the_toggle_pauses_and_resumes_through_the_services(client, shop):
    workflow = shop["workflow"]
    enrollment = Enrollment.objects.get(workflow=workflow)
    client.force_login(studio_staff(shop["tenant"], role="admin"))
    response = client.post(toggle_url(workflow), {"toggle": "pause"}, follow=True)
    assert status_of(workflow) == "paused"
    assert "1 workflow paused." in response.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.held  # the pause service held the contact inside

    # A second click from a stale page does not flip it back: refused with the reason.
    text = client.post(toggle_url(workflow), {"toggle": "pause"}, follow=True).content.decode()
    assert "is paused; cannot make it paused" in text
    assert status_of(workflow) == "paused"

    client.post(toggle_url(workflow), {"toggle": "resume"})
    assert status_of(workflow) == "active"
    enrollment.refresh_from_db()
    assert not enrollment.held


def test_an_editor_cannot_toggle(client, shop):
    workflow = shop["workflow"]
    client.force_login(studio_staff(shop["tenant"], role="editor"))
    text = client.post(toggle_url(workflow), {"toggle": "pause"}, follow=True).content.decode()
    assert "you must be an admin or owner of Alpha Inc to pause it" in text
    assert status_of(workflow) == "active"


def test_the_toggle_needs_a_post_with_the_csrf_token(shop):
    workflow = shop["workflow"]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(studio_staff(shop["tenant"], role="owner"))
    assert browser.get(toggle_url(workflow)).status_code == 302  # a link never changes state
    assert status_of(workflow) == "active"
    assert browser.post(toggle_url(workflow), {"toggle": "pause"}).status_code == 403
    assert status_of(workflow) == "active"
    browser.get(LIST)
    token = browser.cookies["csrftoken"].value
    browser.post(toggle_url(workflow), {"toggle": "pause", "csrfmiddlewaretoken": token})
    assert status_of(workflow) == "paused"


def test_a_draft_or_another_tenants_workflow_is_not_toggled(client, shop):
    other = populate("Omega")
    client.force_login(studio_staff(shop["tenant"], role="owner"))
    text = client.post(toggle_url(shop["draft"]), {"toggle": "resume"}, follow=True)
    assert "is draft; cannot make it active" in text.content.decode()
    assert status_of(shop["draft"]) == "draft"
    client.post(toggle_url(other["workflow"]), {"toggle": "pause"})
    assert status_of(other["workflow"]) == "active"
