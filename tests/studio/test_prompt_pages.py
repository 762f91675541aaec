"""Prompt versions: saving opens the new version, versions compare side by side."""

from __future__ import annotations

import pytest
from django.urls import reverse

from prompts.models import Prompt
from prompts.services import prompt_create
from tests.cast import make_tenant
from tests.prompts.test_try_it import form_data
from tests.studio.cast import studio_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def prompt(client):
    tenant = make_tenant("shop")
    client.force_login(studio_staff(tenant))
    return prompt_create(
        tenant=tenant, name="plan", template_variables=["contact"],
        system_prompt_text="Plan for {{ contact.first_name }}",
    )  # fmt: skip


def test_save_and_continue_opens_the_new_version_not_the_old(client, prompt):
    url = reverse("admin:prompts_prompt_change", args=[prompt.pk])
    data = form_data(prompt, system_prompt_text="Better plan for {{ contact.first_name }}")
    response = client.post(url, {**data, "_continue": "1"}, follow=True)
    new = Prompt.objects.get(name="plan", version=2)
    assert response.redirect_chain[-1][0] == reverse("admin:prompts_prompt_change", args=[new.pk])
    assert "Better plan" in response.content.decode()


def test_versions_side_by_side_with_the_changed_lines(client, prompt):
    url = reverse("admin:prompts_prompt_change", args=[prompt.pk])
    client.post(
        url, form_data(prompt, system_prompt_text="Better plan for {{ contact.first_name }}")
    )
    page = client.get(
        reverse("admin:prompts_prompt_versions", args=[prompt.pk]), {"old": 1, "new": 2}
    ).content.decode()
    assert "system_prompt_text (changed)" in page
    assert "-Plan for {{ contact.first_name }}" in page
    assert "+Better plan for {{ contact.first_name }}" in page
    assert "model_name (changed)" not in page
