"""The prompt library: versions, status, resolving by name, variable checks."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from prompts.generation import PromptSpec
from prompts.models import Prompt
from prompts.services import (
    PromptInvalid,
    PromptNotFound,
    prompt_activate,
    prompt_archive,
    prompt_check_variables,
    prompt_create,
    prompt_new_version,
    prompt_resolve,
    prompt_spec,
)
from tests.cast import make_tenant

pytestmark = pytest.mark.django_db


def make(tenant, name="welcome", **fields):
    fields.setdefault("system_prompt_text", "Hello {{ contact.first_name }}")
    return prompt_create(tenant=tenant, name=name, **fields)


def test_a_new_prompt_is_version_one_and_active(tenant):
    prompt = make(tenant)
    assert (prompt.version, prompt.status) == (1, Prompt.Status.ACTIVE)


def test_name_and_version_are_unique_per_tenant(tenant):
    make(tenant)
    with pytest.raises(IntegrityError):
        Prompt.objects.create(tenant=tenant, name="welcome", version=1, system_prompt_text="x")


def test_the_same_name_in_another_tenant_is_its_own_prompt(tenant):
    make(tenant)
    assert make(make_tenant()).version == 1


def test_creating_an_existing_name_adds_the_next_version(tenant):
    make(tenant)
    assert make(tenant, system_prompt_text="Hi again").version == 2


def test_an_edit_is_a_new_draft_version_and_the_old_one_stays(tenant):
    first = make(tenant, category="sales", generation_config={"temperature": 0.2})
    second = prompt_new_version(prompt=first, system_prompt_text="Hi {{ contact.first_name }}!")

    first.refresh_from_db()
    assert first.system_prompt_text == "Hello {{ contact.first_name }}"
    assert first.status == Prompt.Status.ACTIVE
    assert (second.version, second.status) == (2, Prompt.Status.DRAFT)
    assert second.system_prompt_text == "Hi {{ contact.first_name }}!"
    assert (second.category, second.generation_config) == ("sales", {"temperature": 0.2})
    assert Prompt.objects.filter(tenant=tenant, name="welcome").count() == 2


def test_an_edit_refuses_fields_that_cannot_change(tenant):
    with pytest.raises(PromptInvalid, match="cannot change name"):
        prompt_new_version(prompt=make(tenant), name="other")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"system_prompt_text": "  "}, "system_prompt_text is empty"),
        ({"system_prompt_text": "{% load x %}"}, "system_prompt_text"),
        ({"user_prompt_text": "{{ a|nofilter }}"}, "user_prompt_text"),
        ({"generation_config": {"temprature": 1}}, "unknown key"),
        ({"template_variables": "contact"}, "template_variables must be a list"),
        ({"provider": "skynet"}, "unknown provider"),
    ],
)
def test_an_invalid_prompt_is_refused_with_what_is_wrong(tenant, fields, message):
    with pytest.raises(PromptInvalid, match=message):
        make(tenant, **fields)


def test_a_prompt_needs_a_name(tenant):
    with pytest.raises(PromptInvalid, match="needs a name"):
        make(tenant, name=" ")


def test_resolve_picks_the_latest_active_version(tenant):
    first = make(tenant)
    second = prompt_new_version(prompt=first, system_prompt_text="v2")
    assert prompt_resolve(tenant=tenant, name="welcome") == first  # v2 is still a draft
    prompt_activate(prompt=second)
    assert prompt_resolve(tenant=tenant, name="welcome") == second
    prompt_archive(prompt=second)
    assert prompt_resolve(tenant=tenant.pk, name="welcome") == first


def test_resolve_finds_a_pinned_version_even_as_a_draft(tenant):
    first = make(tenant)
    second = prompt_new_version(prompt=first, system_prompt_text="v2")
    assert prompt_resolve(tenant=tenant, name="welcome", version=2) == second


def test_resolve_refuses_a_pinned_archived_version(tenant):
    prompt_archive(prompt=make(tenant))
    with pytest.raises(PromptNotFound, match="'welcome' version 1 is archived"):
        prompt_resolve(tenant=tenant, name="welcome", version=1)


def test_resolve_names_the_missing_version_and_the_ones_that_exist(tenant):
    make(tenant)
    with pytest.raises(PromptNotFound, match=r"no prompt 'welcome' version 4 .*versions: 1"):
        prompt_resolve(tenant=tenant, name="welcome", version=4)
    with pytest.raises(PromptNotFound, match=r"no prompt 'other' version 1 in the library$"):
        prompt_resolve(tenant=tenant, name="other", version=1)


def test_resolve_says_when_a_prompt_is_missing_or_has_no_active_version(tenant):
    with pytest.raises(PromptNotFound, match="prompt 'welcome' is not in the library"):
        prompt_resolve(tenant=tenant, name="welcome")
    prompt_archive(prompt=make(tenant))
    with pytest.raises(PromptNotFound, match="prompt 'welcome' has no active version"):
        prompt_resolve(tenant=tenant, name="welcome")


def test_resolve_never_crosses_tenants(tenant):
    make(make_tenant())
    with pytest.raises(PromptNotFound):
        prompt_resolve(tenant=tenant, name="welcome")


def test_the_spec_carries_what_the_generation_service_needs(tenant):
    prompt = make(
        tenant,
        user_prompt_text="{{ input }}",
        model_name="gemini-2.5-pro",
        provider="offline",
        generation_config={"json_output": True},
        template_variables=["contact"],
    )
    assert prompt_spec(prompt) == PromptSpec(
        name="welcome",
        version=1,
        system_text="Hello {{ contact.first_name }}",
        user_template="{{ input }}",
        model="gemini-2.5-pro",
        provider="offline",
        generation_config={"json_output": True},
        template_variables=["contact"],
    )


def test_check_variables_lists_used_but_undocumented_names(tenant):
    prompt = make(
        tenant,
        system_prompt_text="{{ contact.first_name }} wants {{ goal }} via {{ channel }}",
        user_prompt_text="{{ input }} {{ level }}",
        template_variables=["contact", "channel"],
    )
    assert prompt_check_variables(prompt) == ["goal", "level"]
