"""Done-when 5 and 6: try a prompt and save a new version; the dashboard shows the runs."""

from __future__ import annotations

import json

import pytest

from crm.models import Contact
from engine.runtime import queue
from engine.triggers.api import manual_enroll
from prompts.models import Prompt
from tests.cast import make_published
from tests.engine.conftest import InlineQueue
from tests.studio.browser.flows import tagged_welcome
from workflows.models import Enrollment
from workflows.services import workflow_import, workflow_publish

pytestmark = pytest.mark.e2e

QUICK_HELLO = """
name: Quick hello
trigger: {type: manual}
steps:
  - id: hello
    type: send_email
    config: {subject: "Hi {{contact.first_name}}", body: "Hello"}
"""


def test_try_a_prompt_and_save_a_new_version(studio, demo):
    page = studio.page
    prompt = Prompt.objects.get(tenant=demo, name="lead_qualifier", version=1)
    studio.goto(f"/admin/prompts/prompt/{prompt.pk}/change/", "prompt")
    page.get_by_text("Try it", exact=True).first.click()
    studio.shot("try-form")
    page.fill(
        "[name=variables]",
        json.dumps({"contact": {"first_name": "Ann", "last_name": "Lee", "source": "web"},
                    "trigger": {"content": "I want a trial"}}),
    )  # fmt: skip
    page.get_by_role("button", name="Run the prompt").click()
    studio.shot("try-result")
    assert page.locator("#try-result").count() == 1
    studio.goto(f"/admin/prompts/prompt/{prompt.pk}/change/", "prompt-again")
    page.fill("[name=system_prompt_text]", "Classify this lead briefly: {{contact.first_name}}.")
    page.click("[name=_continue]")
    studio.shot("saved-v2")
    v2 = Prompt.objects.get(tenant=demo, name="lead_qualifier", version=2)
    assert page.url.endswith(f"/admin/prompts/prompt/{v2.pk}/change/")
    assert "Classify this lead briefly" in page.input_value("[name=system_prompt_text]")
    page.get_by_text("Versions and differences").first.click()
    studio.shot("versions")
    assert "system_prompt_text (changed)" in page.inner_text("#studio-prompt-compare")


def make_runs(demo) -> None:
    """Completed, waiting and failed runs in the demo tenant, run by the real engine inline."""
    contacts = list(Contact.objects.filter(tenant=demo).exclude(email="")[:6])
    quick = workflow_import(tenant=demo, text=QUICK_HELLO).workflow
    workflow_publish(workflow=quick)
    quick.refresh_from_db()
    welcome = tagged_welcome(demo)
    workflow_publish(workflow=welcome)
    welcome.refresh_from_db()
    broken = make_published(
        demo,
        {
            "name": "Broken update",
            "steps": [{"id": "update", "type": "update_record",
                       "config": {"model": "nope", "record_id": 1, "fields": {"a": 1}}}],
        },
    )  # fmt: skip
    engine_queue = InlineQueue()
    with queue.use_dispatcher(engine_queue):
        manual_enroll(workflow=quick, contact_ids=[c.pk for c in contacts[:4]])
        manual_enroll(workflow=welcome, contact_ids=[c.pk for c in contacts[:3]])
        manual_enroll(workflow=broken, contact_ids=[c.pk for c in contacts[4:6]])
        engine_queue.drain()


def test_the_dashboard_shows_runs_waiting_and_failures(studio, demo):
    make_runs(demo)
    studio.goto("/admin/", "dashboard")
    page = studio.page
    # The 9 runs above and the demo's simulated A/B history (all within the last 14 days).
    history = Enrollment.objects.filter(tenant=demo, workflow__name="Welcome Offer A/B Test")
    assert history.count() == 12
    assert page.inner_text("#studio-runs-total") == str(9 + history.count())
    assert "Welcome Offer A/B Test · offer_split" in page.inner_text("#studio-ab")
    assert page.inner_text("#studio-waiting-total") == "3"
    # Five charts; those without data (no AI calls in these runs) say so instead of a box.
    charts = page.locator("#studio-dashboard canvas").count()
    empty = page.locator("#studio-dashboard .studio-no-data").count()
    assert charts >= 3
    assert charts + empty == 5
    assert page.locator("canvas[data-value*='Broken update · update']").count() == 1
