"""Done-when 2–4: dry-run a workflow, publish it and watch a real worker enroll, import one."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from crm.models import Contact
from tests.cast import add_tag
from tests.studio.browser.flows import tagged_welcome
from workflows.models import Enrollment

pytestmark = pytest.mark.e2e


def test_dry_run_shows_the_path_and_the_rendered_email(studio, demo):
    page = studio.page
    workflow = tagged_welcome(demo)
    studio.goto(f"/admin/workflows/workflow/{workflow.pk}/change/", "workflow")
    page.get_by_text("Test (dry-run)").first.click()
    studio.shot("test-form")
    page.fill("[name=contact_fields]", "first_name: Ann\nemail: ann@example.com")
    page.fill("[name=trigger]", "tag: vip")
    page.click("#studio-test-form button[type=submit]")
    studio.shot("test-result")
    assert page.inner_text("#studio-test-path") == "wait_1h → has_email → welcome"
    outbox = page.inner_text("#studio-outbox")
    assert "Welcome Ann" in outbox
    assert "Hello Ann, thanks for joining." in outbox
    assert page.locator("g.studio-on-path").count() == 3


def test_publish_tag_a_contact_and_watch_the_worker_enroll_it(studio, demo, e2e_worker):
    page = studio.page
    workflow = tagged_welcome(demo)
    studio.goto(f"/admin/workflows/workflow/{workflow.pk}/change/", "draft")
    page.get_by_text("Publish", exact=True).first.click()
    studio.shot("confirm-publish")
    page.get_by_role("button", name="Publish").click()
    studio.shot("published")
    workflow.refresh_from_db()
    assert workflow.status == "active"
    # The status column's toggle: Disable pauses, Enable resumes (a real form POST with CSRF).
    studio.goto("/admin/workflows/workflow/", "list-active")
    row = page.locator("#result_list tr", has_text=workflow.name)
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    row.get_by_role("button", name="Disable").click()  # asked first; "Cancel" changes nothing
    assert questions
    assert questions[0].startswith(f"Pause '{workflow.name}'?")
    workflow.refresh_from_db()
    assert workflow.status == "active"
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Disable").click()
    studio.shot("list-disabled")
    workflow.refresh_from_db()
    assert workflow.status == "paused"
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#result_list tr", has_text=workflow.name).get_by_role(
        "button", name="Enable"
    ).click()
    workflow.refresh_from_db()
    assert workflow.status == "active"
    contact = Contact.objects.filter(tenant=demo).exclude(email="").first()
    with e2e_worker.dispatching():
        add_tag(contact, "vip")
        e2e_worker.wait_for(
            lambda: Enrollment.objects.filter(workflow=workflow, contact=contact).exists(),
            timeout=30,
        )
    studio.goto("/admin/workflows/enrollment/", "enrollments")
    assert str(contact) in page.inner_text("#result_list")
    enrollment = Enrollment.objects.get(workflow=workflow, contact=contact)
    e2e_worker.wait_for(lambda: enrollment.logs.exists(), timeout=30)
    page.locator("#result_list a", has_text=str(contact)).first.click()
    studio.shot("timeline")
    timeline = page.inner_text("#studio-timeline")
    assert "wait_1h" in timeline
    assert "tag_added" in page.inner_text("#studio-enrollment-summary")


def test_import_the_sample_through_the_page_and_see_warnings_and_graph(studio, demo):
    page = studio.page
    studio.goto("/admin/workflows/workflow/", "workflow-list")
    page.get_by_text("Import YAML / JSON").first.click()
    studio.shot("import-form")
    sample = Path(settings.BASE_DIR) / "examples" / "new-lead-nurture.yaml"
    page.set_input_files("input[name=file]", str(sample))
    page.get_by_role("button", name="Import").click()
    studio.shot("imported")
    problems = page.inner_text("#studio-problems")
    assert "warning" in problems
    graph = page.locator("#studio-graph svg")
    assert graph.count() == 1
    assert "welcome_email" in page.inner_text("#studio-graph")
