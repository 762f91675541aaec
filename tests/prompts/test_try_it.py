"""'Try it': the service, the admin screen and actions, and the management command."""

from __future__ import annotations

import re
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from prompts.models import Prompt
from prompts.services import (
    prompt_create,
    prompt_ignores_user_input,
    prompt_sample_variables,
    prompt_try,
)
from tests.cast import make_staff, make_tenant
from tests.fakes.gemini_server import Reply
from workflows.models import StepLog

pytestmark = pytest.mark.django_db


def make_prompt(tenant, **fields):
    fields.setdefault("system_prompt_text", "Plan for {{ contact.first_name }}")
    return prompt_create(tenant=tenant, name="plan", template_variables=["contact"], **fields)


def staff_client(client, tenant, *codenames):
    user = make_staff(tenant)
    codenames = codenames or ("view_prompt", "change_prompt", "add_prompt")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def test_trying_a_prompt_logs_it_like_a_step_without_an_enrollment(tenant, gemini_server):
    prompt = make_prompt(tenant)
    gemini_server.enqueue(Reply.ok("Run 5k", prompt_tokens=2000, output_tokens=100))
    log = prompt_try(prompt=prompt, variables={"contact": {"first_name": "Ann"}}, user_input="hi")

    sent = gemini_server.requests[0].json
    assert sent["systemInstruction"]["parts"][0]["text"] == (
        "Plan for [contact.first_name: see the user message]"
    )
    assert sent["contents"][0]["parts"][0]["text"] == "contact.first_name: Ann\n\nhi"
    log.refresh_from_db()
    assert (log.status, log.step_id, log.prompt_id) == ("succeeded", "try_it", prompt.pk)
    assert log.enrollment_id is None
    assert log.workflow_id is None
    assert (log.raw_output, log.parsed_output) == ("Run 5k", {"result": "Run 5k", "parsed": None})
    assert (log.input_tokens, log.output_tokens, log.token_usage) == (2000, 100, 2100)
    assert log.cost == Decimal("0.000850")
    assert log.input_context == {
        "variables": {"contact": {"first_name": "Ann"}},
        "user_input": "hi",
        "system": "Plan for [contact.first_name: see the user message]",
        "user": "contact.first_name: Ann\n\nhi",
    }
    assert log.duration_ms is not None
    assert log.finished_at is not None


def test_a_failed_try_is_logged_with_its_error_and_raw_text(tenant, gemini_server):
    prompt = make_prompt(tenant, generation_config={"json_output": True})
    gemini_server.enqueue(Reply.ok("not json"))
    log = prompt_try(prompt=prompt, variables={})
    assert log.status == StepLog.Status.FAILED
    assert "invalid JSON" in log.error_message
    assert log.raw_output == "not json"


def test_a_try_respects_the_cost_cap(gemini_server):
    tenant = make_tenant(ai_monthly_cost_cap=Decimal("0"))
    log = prompt_try(prompt=make_prompt(tenant), variables={})
    assert log.status == StepLog.Status.FAILED
    assert log.error_message.startswith("AI cost cap of $0.00 for ")
    assert gemini_server.requests == []


def test_the_admin_try_it_page_offers_every_variable_the_templates_read(tenant, client):
    prompt = prompt_create(
        tenant=tenant,
        name="trainer",
        system_prompt_text="A trainer at {{ workflow.business }} for {{ contact.first_name }}",
        user_prompt_text="Request: {{ trigger.content }} {{ input }}",
        template_variables=["contact", "notes"],
    )
    response = staff_client(client, tenant).get(
        reverse("admin:prompts_prompt_try", args=[prompt.pk])
    )
    assert response.status_code == 200
    assert prompt_sample_variables(prompt=prompt) == {
        "contact": {"first_name": "<first_name>"},
        "trigger": {"content": "<content>"},
        "workflow": {"business": "<business>"},
        "notes": "",
    }
    assert "&quot;first_name&quot;: &quot;&lt;first_name&gt;&quot;" in response.content.decode()


def test_typed_user_input_that_the_prompt_does_not_use_is_called_out(tenant, client, gemini_server):
    prompt = make_prompt(tenant, user_prompt_text="Request: {{ trigger.content }}")
    assert prompt_ignores_user_input(prompt=prompt)
    assert not prompt_ignores_user_input(prompt=make_prompt(tenant, user_prompt_text=""))
    gemini_server.enqueue(Reply.ok("ok", prompt_tokens=10, output_tokens=2))
    response = staff_client(client, tenant).post(
        reverse("admin:prompts_prompt_try", args=[prompt.pk]),
        {"variables": "{}", "user_input": "typed but unused"},
        follow=True,
    )
    assert "does not use {{ input }}, so the user input you typed was not sent" in (
        response.content.decode()
    )


def test_the_admin_try_it_page_runs_the_prompt_and_shows_output_tokens_and_cost(
    tenant, client, gemini_server
):
    prompt = make_prompt(tenant)
    gemini_server.enqueue(Reply.ok("<b>Run</b> 5k", prompt_tokens=1000, output_tokens=0))
    response = staff_client(client, tenant).post(
        reverse("admin:prompts_prompt_try", args=[prompt.pk]),
        {"variables": '{"contact": {"first_name": "Ann"}}', "user_input": "go"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert '<pre id="try-output">&lt;b&gt;Run&lt;/b&gt; 5k</pre>' in html
    assert "1000 in / 0 out" in html
    assert "$0.000300" in html
    assert StepLog.objects.get(step_id="try_it").triggering_object_id.startswith("user:")


def test_the_admin_try_it_page_refuses_variables_that_are_not_an_object(tenant, client):
    prompt = make_prompt(tenant)
    response = staff_client(client, tenant).post(
        reverse("admin:prompts_prompt_try", args=[prompt.pk]), {"variables": "[1]"}
    )
    assert "Variables must be a JSON object" in response.content.decode()
    assert not StepLog.objects.exists()


def test_the_admin_try_it_page_hides_other_tenants_prompts(tenant, client):
    other = make_prompt(make_tenant())
    response = staff_client(client, tenant).get(
        reverse("admin:prompts_prompt_try", args=[other.pk])
    )
    assert response.status_code == 404


def test_trying_needs_change_permission(tenant, client):
    prompt = make_prompt(tenant)
    response = staff_client(client, tenant, "view_prompt").get(
        reverse("admin:prompts_prompt_try", args=[prompt.pk])
    )
    assert response.status_code == 403


def test_the_admin_actions_make_versions_and_change_status(tenant, client):
    prompt = make_prompt(tenant)
    changelist = reverse("admin:prompts_prompt_changelist")
    admin = staff_client(client, tenant)
    admin.post(changelist, {"action": "new_version", "_selected_action": [prompt.pk]})
    second = Prompt.objects.get(name="plan", version=2)
    assert second.status == Prompt.Status.DRAFT

    admin.post(changelist, {"action": "activate", "_selected_action": [second.pk]})
    admin.post(changelist, {"action": "archive", "_selected_action": [prompt.pk]})
    statuses = dict(Prompt.objects.values_list("version", "status"))
    assert statuses == {1: Prompt.Status.ARCHIVED, 2: Prompt.Status.ACTIVE}
    assert "Try it" in admin.get(changelist).content.decode()


def form_data(prompt: Prompt, **changes) -> dict:
    data = {
        "category": prompt.category,
        "status": prompt.status,
        "system_prompt_text": prompt.system_prompt_text,
        "user_prompt_text": prompt.user_prompt_text,
        "template_variables": '["contact"]',
        "provider": prompt.provider,
        "model_name": prompt.model_name,
        "generation_config": "{}",
    }
    return {**data, **changes}


def test_editing_in_the_admin_saves_a_new_draft_version_and_keeps_the_old(tenant, client):
    prompt = make_prompt(tenant)
    admin = staff_client(client, tenant)
    url = reverse("admin:prompts_prompt_change", args=[prompt.pk])
    assert "Try it" in admin.get(url).content.decode()
    response = admin.post(url, form_data(prompt, system_prompt_text="New {{ contact.email }}"))

    assert response.status_code == 302
    prompt.refresh_from_db()
    assert prompt.system_prompt_text == "Plan for {{ contact.first_name }}"
    new = Prompt.objects.get(name="plan", version=2)
    assert (new.system_prompt_text, new.status) == ("New {{ contact.email }}", "draft")


def test_a_status_only_edit_changes_the_version_in_place(tenant, client):
    prompt = make_prompt(tenant)
    url = reverse("admin:prompts_prompt_change", args=[prompt.pk])
    staff_client(client, tenant).post(url, form_data(prompt, status="archived"))
    prompt.refresh_from_db()
    assert prompt.status == "archived"
    assert Prompt.objects.count() == 1


def test_an_invalid_edit_is_refused_with_what_is_wrong(tenant, client):
    prompt = make_prompt(tenant)
    url = reverse("admin:prompts_prompt_change", args=[prompt.pk])
    response = staff_client(client, tenant).post(
        url, form_data(prompt, generation_config='{"temprature": 1}')
    )
    assert response.status_code == 200
    assert "unknown key(s) temprature" in response.content.decode()
    assert Prompt.objects.count() == 1


def test_adding_in_the_admin_numbers_the_version(tenant, client):
    make_prompt(tenant)
    response = staff_client(client, tenant).post(
        reverse("admin:prompts_prompt_add"),
        {
            **form_data(Prompt(status="active")),
            "tenant": tenant.pk,
            "name": "plan",
            "system_prompt_text": "Another",
        },
    )
    assert response.status_code == 302
    assert Prompt.objects.get(name="plan", version=2).system_prompt_text == "Another"


def test_the_try_prompt_command_prints_the_answer_and_its_cost(tenant, no_gemini_key):
    make_prompt(tenant)
    out, err = StringIO(), StringIO()
    call_command(
        "try_prompt",
        "plan",
        tenant=tenant.slug,
        variables='{"contact": {"first_name": "Ann"}}',
        stdout=out,
        stderr=err,
    )
    assert "[offline provider" in out.getvalue()
    assert "plan v1 · gemini-2.5-flash" in err.getvalue()
    assert "$0.000000" in err.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"tenant": "nobody"}, "no tenant with slug 'nobody'"),
        ({"variables": "{"}, "--variables is not valid JSON"),
        ({"variables": "[]"}, "--variables must be a JSON object"),
        ({"prompt_version": 9}, "no prompt 'plan' version 9"),
    ],
)
def test_the_try_prompt_command_explains_bad_input(tenant, args, message):
    make_prompt(tenant)
    with pytest.raises(CommandError, match=message):
        call_command("try_prompt", "plan", **{"tenant": tenant.slug, **args})


def test_the_try_prompt_command_fails_when_the_call_fails(no_gemini_key):
    tenant = make_tenant(ai_monthly_cost_cap=Decimal("0"))
    make_prompt(tenant)
    with pytest.raises(CommandError, match=r"plan v1 failed .*AI cost cap"):
        call_command("try_prompt", "plan", tenant=tenant.slug)


def test_the_admin_add_page_opens(tenant, client):
    response = staff_client(client, tenant).get(reverse("admin:prompts_prompt_add"))
    assert response.status_code == 200
    assert "Used but not documented" in response.content.decode()


def test_the_admin_change_page_names_contact_text_in_the_system_text(tenant, client):
    prompt = make_prompt(tenant, system_prompt_text="Plan for {{ contact.first_name }}")
    clean = prompt_create(
        tenant=tenant, name="clean", system_prompt_text="Plan.", user_prompt_text="{{ contact }}"
    )
    admin = staff_client(client, tenant)

    def shown(prompt) -> str:
        page = admin.get(reverse("admin:prompts_prompt_change", args=[prompt.pk])).content.decode()
        assert "Contact text in the system text (sent in the user turn)" in page
        row = page.split("Contact text in the system text (sent in the user turn)", 2)[-1]
        # The admin theme (unfold) renders a read-only value in a boxed div.
        value = re.search(r'<div class="[^"]*(?:readonly|bg-base-50)[^"]*">(.*?)</div>', row, re.S)
        return value.group(1).strip()

    assert shown(prompt) == "contact.first_name"
    assert shown(clean) == "none"


def test_the_admin_try_it_page_shows_every_token_kind_and_the_cost(tenant, client, gemini_server):
    prompt = make_prompt(tenant)
    gemini_server.enqueue(
        Reply.ok(
            "plan", prompt_tokens=10_000, output_tokens=100, thinking_tokens=800, cached_tokens=8000
        )
    )
    response = staff_client(client, tenant).post(
        reverse("admin:prompts_prompt_try", args=[prompt.pk]),
        {"variables": '{"contact": {"first_name": "Ann"}}', "user_input": "go"},
    )
    html = response.content.decode()
    log = StepLog.objects.get(step_id="try_it")
    # Gemini bills thinking as output: 100 + 800 out; 8000 of the 10 000 in were cached.
    assert (log.output_tokens, log.thinking_tokens, log.cached_tokens) == (900, 800, 8000)
    assert '<td id="try-tokens">10000 in / 900 out</td>' in html
    assert '<td id="try-thinking-tokens">800 (part of the output)</td>' in html
    assert '<td id="try-cached-tokens">8000 (part of the input)</td>' in html
    assert '<td id="try-total-tokens">10900</td>' in html
    assert f'<td id="try-cost">${log.cost}</td>' in html
    assert log.cost > 0
