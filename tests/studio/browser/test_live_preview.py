"""The workflow page's YAML preview and problem list follow the form as the user types."""

from __future__ import annotations

import pytest

from tests.studio.browser.flows import tagged_welcome

pytestmark = pytest.mark.e2e


def preview_shows(page, text: str) -> None:
    page.wait_for_function(
        "text => document.getElementById('studio-yaml-text').textContent.includes(text)",
        arg=text,
    )


def test_typing_a_step_field_changes_the_preview_before_saving(studio, demo):
    page = studio.page
    workflow = tagged_welcome(demo)
    studio.goto(f"/admin/workflows/workflow/{workflow.pk}/change/", "saved-draft")
    assert "Welcome {{contact.first_name}}" in page.inner_text("#studio-yaml-text")
    assert "valid" in page.inner_text("#studio-problems")

    subject = page.locator("[name$='-cfg_subject']:visible")
    subject.fill("")
    subject.press_sequentially("Good morning {{contact.first_name}}")
    preview_shows(page, "subject: Good morning {{contact.first_name}}")
    assert "unsaved changes" in page.inner_text("#studio-preview-state")
    studio.shot("typed-subject")

    then = page.locator("[name$='-cfg_then']:visible")
    then.fill("welcom")  # a branch to no step: shown with its step, still unsaved
    preview_shows(page, "then: welcom\n")
    page.wait_for_function(
        "() => document.getElementById('studio-problems').textContent.includes(\"'welcom'\")"
    )
    problems = page.inner_text("#studio-problems")
    assert "has_email" in problems
    assert "error" in problems
    studio.shot("typed-mistake")

    saved = workflow.steps.get(step_id="welcome").config["subject"]
    assert saved == "Welcome {{contact.first_name}}"  # nothing was saved
    assert workflow.steps.get(step_id="has_email").config["then"] == "welcome"
