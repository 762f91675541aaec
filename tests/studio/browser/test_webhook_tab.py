"""The workflow page's Publishing tab as an owner finds it in a browser: the inbound webhook's
URL, whether it accepts deliveries, and the signing secret, readable without sideways scroll.
Screenshots under var/screenshots/<test>/."""

from __future__ import annotations

import pytest

from workflows.models import Workflow

pytestmark = pytest.mark.e2e


def test_the_publishing_tab_shows_the_webhook_url_and_secret(studio, demo):
    page = studio.page
    page.set_viewport_size({"width": 1400, "height": 900})
    workflow = Workflow.objects.filter(tenant=demo, status=Workflow.Status.ACTIVE).first()
    studio.goto(f"/admin/workflows/workflow/{workflow.pk}/change/", "workflow-page")
    page.get_by_text("Publishing", exact=True).first.click()
    studio.shot("publishing-tab")
    url = page.get_by_text(f"POST /hooks/{workflow.webhook_token}/", exact=True)
    assert url.is_visible()
    secret = page.get_by_text(workflow.webhook_secret, exact=True)
    assert secret.is_visible()
    assert "HMAC-SHA256" in studio.text()
    box = secret.bounding_box()
    assert box["x"] + box["width"] <= 1400, box
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth})"
    )
    assert widths["doc"] <= widths["view"], widths
