"""Done-when 1: build a workflow from nothing with form fields only, see the mistake, fix it."""

from __future__ import annotations

import pytest

from workflows.models import Workflow

pytestmark = pytest.mark.e2e


def add_step(page, index: int, fields: dict[str, str], selects: dict[str, str]) -> None:
    page.get_by_text("Add another Workflow step").click()
    for name, value in selects.items():
        page.select_option(f"select[name='steps-{index}-{name}']", value)
    for name, value in fields.items():
        page.fill(f"[name='steps-{index}-{name}']", value)


def test_build_a_workflow_from_nothing_with_form_fields(studio, demo):
    page = studio.page
    studio.goto("/admin/workflows/workflow/add/", "add-workflow")
    page.select_option("select[name=tenant]", str(demo.pk))
    page.fill("input[name=name]", "Tagged welcome")
    page.get_by_text("Trigger", exact=True).first.click()
    page.select_option("select[name=trigger_type]", "tag_added")
    page.fill("input[name=tcfg_tag]", "vip")
    studio.shot("trigger")
    add_step(page, 0, {"step_id": "wait_1h", "order": "1", "cfg_duration": "1h"}, {"type": "wait"})
    add_step(
        page,
        1,
        {
            "step_id": "has_email",
            "order": "2",
            "cfg_if_1_field": "email",
            "cfg_then": "welcom",  # the deliberate mistake: no such step
            "cfg_else": "end",
        },
        {"type": "condition", "cfg_if_1_op": "is_not_empty"},
    )
    add_step(
        page,
        2,
        {
            "step_id": "welcome",
            "order": "3",
            "cfg_subject": "Welcome {{contact.first_name}}",
            "cfg_body": "Hello {{contact.first_name}}, thanks for joining.",
        },
        {"type": "send_email"},
    )
    studio.shot("steps-filled")
    page.click("[name=_continue]")
    page.wait_for_load_state()
    studio.shot("saved-with-mistake")
    problems = page.inner_text("#studio-problems")
    assert "has_email" in problems
    assert "welcom" in problems

    page.fill("[name='steps-1-cfg_then']", "welcome")
    page.click("[name=_continue]")
    page.wait_for_load_state()
    studio.shot("fixed")
    assert "The draft is valid" in page.inner_text("#studio-problems")
    workflow = Workflow.objects.get(tenant=demo, name="Tagged welcome")
    assert workflow.trigger_type == "tag_added"
    assert workflow.steps.get(step_id="has_email").config["then"] == "welcome"
