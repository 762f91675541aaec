"""Publishing checks what an AI step will need from the prompt library: an existing, usable
version and every variable its texts use; and warns when trusted text reads contact text."""

from __future__ import annotations

import json

import pytest

from crm.demo import seed_prompts
from engine.definition import check_document
from prompts.models import Prompt
from prompts.services import prompt_archive, prompt_create, prompt_new_version
from workflows.services import PublishRefused, validation_context, workflow_import, workflow_publish

pytestmark = pytest.mark.django_db


def flow(*steps: dict) -> str:
    return json.dumps({"name": "Plans", "trigger": {"type": "manual"}, "steps": list(steps)})


def refusal(tenant, *steps: dict) -> str:
    workflow = workflow_import(tenant=tenant, text=flow(*steps), format="json").workflow
    with pytest.raises(PublishRefused) as caught:
        workflow_publish(workflow=workflow)
    return str(caught.value)


def warnings(tenant, *steps: dict) -> list[str]:
    result = check_document(flow(*steps), ctx=validation_context(tenant=tenant), format="json")
    assert result.ok, result.errors
    return [str(problem) for problem in result.warnings]


def workout(tenant, **fields):
    fields.setdefault("system_prompt_text", "You are a coach.")
    fields.setdefault("user_prompt_text", "Plan for {{ goal }} at {{ gym }}")
    return prompt_create(
        tenant=tenant, name="workout", template_variables=["goal", "gym"], **fields
    )


def test_a_pinned_archived_version_is_refused_naming_step_prompt_and_version(tenant):
    first = workout(tenant)
    prompt_archive(prompt=prompt_new_version(prompt=first, status=Prompt.Status.ACTIVE))
    step = {"id": "plan", "type": "ai_prompt", "config": {"prompt": "workout", "version": 2}}
    step["config"]["variables"] = {"goal": "5k", "gym": "Mitte"}

    message = refusal(tenant, step)

    assert "step 'plan': prompt 'workout' version 2 is archived: every run would fail" in message
    assert "steps[0].config.prompt" in message


def test_variables_the_prompt_needs_and_the_step_does_not_supply_are_refused(tenant):
    workout(tenant)
    step = {"id": "plan", "type": "ai_prompt", "config": {"prompt": "workout"}}

    message = refusal(tenant, step)

    assert (
        "step 'plan': prompt 'workout' version 1 needs variable(s) goal, gym that the step does "
        "not supply: add them under config.variables"
    ) in message


def test_a_step_supplying_only_some_variables_names_the_rest(tenant):
    workout(tenant)
    step = {"id": "plan", "type": "ai_prompt", "config": {"prompt": "workout"}}
    step["config"]["variables"] = {"goal": "{{ contact.custom_fields.goal }}"}

    assert "needs variable(s) gym that the step" in refusal(tenant, step)


def test_a_prompt_that_exists_only_as_a_draft_is_refused_saying_so(tenant):
    prompt_create(tenant=tenant, name="D", system_prompt_text="x", status=Prompt.Status.DRAFT)
    step = {"id": "ask", "type": "ai_prompt", "config": {"prompt": "D"}}

    message = refusal(tenant, step)

    assert (
        "step 'ask': prompt 'D' has no active version: only a draft exists (version 1); "
        "activate it before publishing"
    ) in message


def test_a_prompt_with_only_archived_and_draft_versions_lists_them(tenant):
    first = prompt_create(tenant=tenant, name="D", system_prompt_text="x")
    prompt_new_version(prompt=first)
    prompt_archive(prompt=first)

    message = refusal(tenant, {"id": "ask", "type": "ai_prompt", "config": {"prompt": "D"}})

    assert "prompt 'D' has no active version: versions: 1 archived, 2 draft" in message


def test_a_missing_prompt_or_version_is_refused(tenant):
    workout(tenant)
    assert "step 'x': no prompt 'nope' in the prompt library" in refusal(
        tenant, {"id": "x", "type": "ai_prompt", "config": {"prompt": "nope"}}
    )
    step = {"id": "x", "type": "ai_prompt", "config": {"prompt": "workout", "version": 7}}
    assert "step 'x': prompt 'workout' has no version 7 (versions: 1)" in refusal(tenant, step)


def test_a_complete_step_publishes(tenant):
    workout(tenant)
    step = {"id": "plan", "type": "ai_prompt", "config": {"prompt": "workout"}}
    step["config"]["variables"] = {"goal": "5k", "gym": "Mitte"}
    workflow = workflow_import(tenant=tenant, text=flow(step), format="json").workflow

    assert workflow_publish(workflow=workflow).number == 1


def test_a_pinned_draft_version_publishes_with_a_warning(tenant):
    prompt_create(tenant=tenant, name="D", system_prompt_text="x", status=Prompt.Status.DRAFT)
    step = {"id": "ask", "type": "ai_prompt", "config": {"prompt": "D", "version": 1}}

    assert warnings(tenant, step) == [
        "steps[0].config.prompt: step 'ask': prompt 'D' version 1 is a draft (line 1)"
    ]


# Trusted text apart from contact text.


def test_a_system_text_reading_contact_or_trigger_fields_is_warned_about(tenant):
    prompt_create(
        tenant=tenant,
        name="hello",
        system_prompt_text="Greet {{ contact.first_name }}: {{ trigger.content }}",
    )
    step = {"id": "hi", "type": "ai_prompt", "config": {"prompt": "hello"}}

    (warning,) = warnings(tenant, step)

    assert (
        "step 'hi': prompt 'hello' version 1: the system text reads contact.first_name, "
        "trigger.content, text that comes from the contact or its events; such text is sent to "
        "the model in the user turn, never in the instruction"
    ) in warning


def test_a_system_text_reading_a_variable_built_from_contact_fields_is_warned_about(tenant):
    prompt_create(tenant=tenant, name="hello", system_prompt_text="Greet {{ name }}")
    step = {"id": "hi", "type": "ai_prompt", "config": {"prompt": "hello"}}
    step["config"]["variables"] = {"name": "{{ contact.first_name }}"}

    (warning,) = warnings(tenant, step)
    assert "the system text reads name, text that comes from the contact" in warning

    step["config"]["variables"] = {"name": "the team"}  # written by staff: trusted
    assert warnings(tenant, step) == []


def test_an_ask_ai_question_reading_contact_fields_is_warned_about(tenant):
    step = {"id": "ask", "type": "ask_ai", "config": {"prompt": "Advise {{ contact.first_name }}"}}

    (warning,) = warnings(tenant, step)

    assert warning.startswith("steps[0].config.prompt: step 'ask': the instruction reads ")
    assert warnings(tenant, {"id": "ask", "type": "ask_ai", "config": {"prompt": "Advise"}}) == []


def test_the_seeded_prompts_follow_the_rule(tenant):
    seed_prompts(tenant=tenant)
    step = {"id": "plan", "type": "ai_prompt", "config": {"prompt": "generate_workout_plan"}}
    qualify = {"id": "q", "type": "ai_prompt", "config": {"prompt": "lead_qualifier"}}

    assert warnings(tenant, step, qualify) == []
