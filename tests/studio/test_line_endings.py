"""Text typed in a browser arrives with CRLF line breaks; every form and service stores LF."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.text import lf, lf_all
from prompts.models import Prompt
from prompts.services import prompt_create
from tests.cast import make_tenant
from tests.prompts.test_try_it import form_data
from tests.studio.cast import studio_staff
from workflows.models import Workflow
from workflows.selectors import workflow_export
from workflows.services import workflow_import

pytestmark = pytest.mark.django_db

DOC = (
    "name: Crlf flow\r\ntrigger: {type: manual}\r\nsteps:\r\n"
    "  - id: mail\r\n    type: send_email\r\n    config:\r\n"
    '      subject: Hi\r\n      body: "Line one\\r\\nLine two\\rLine three"\r\n'
)


def test_the_normaliser_turns_crlf_and_lone_cr_into_lf():
    assert lf("a\r\nb\rc\nd") == "a\nb\nc\nd"
    assert lf_all({"k": ["x\r\ny", 3, {"z": "\r"}]}) == {"k": ["x\ny", 3, {"z": "\n"}]}


@pytest.fixture
def tenant(client):
    tenant = make_tenant("crlf")
    client.force_login(studio_staff(tenant))
    return tenant


def _body(workflow: Workflow) -> str:
    return workflow.steps.get(step_id="mail").config["body"]


def test_import_paste_and_yaml_editor_store_lf(client, tenant):
    response = client.post("/admin/workflows/workflow/import/", {"tenant": tenant.pk, "text": DOC})
    assert response.status_code in (200, 302)
    workflow = Workflow.objects.get(tenant=tenant, name="Crlf flow")
    assert _body(workflow) == "Line one\nLine two\nLine three"
    assert "\r" not in workflow.source_text

    edited = DOC.replace("Line three", "Line 3")
    url = f"/admin/workflows/workflow/{workflow.pk}/yaml/"
    assert client.post(url, {"text": edited}).status_code == 302
    workflow.refresh_from_db()
    assert _body(workflow) == "Line one\nLine two\nLine 3"
    assert "\\r" not in workflow_export(workflow=workflow)


def test_a_step_body_typed_in_the_page_is_stored_with_lf(client, tenant):
    workflow = workflow_import(tenant=tenant, text=DOC.replace("\r\n", "\n")).workflow
    step = workflow.steps.get(step_id="mail")
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"
    data = {
        "tenant": tenant.pk, "name": workflow.name, "description": "",
        "trigger_type": "manual", "settings": "{}",
        "steps-TOTAL_FORMS": 1, "steps-INITIAL_FORMS": 1,
        "steps-MIN_NUM_FORMS": 0, "steps-MAX_NUM_FORMS": 1000,
        "steps-0-id": step.pk, "steps-0-workflow": workflow.pk, "steps-0-order": 0,
        "steps-0-step_id": "mail", "steps-0-type": "send_email",
        "steps-0-cfg_subject": "Hi", "steps-0-cfg_body": "Dear you,\r\n\r\nThanks\r\n",
        "_continue": "1",
    }  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    workflow.refresh_from_db()
    assert _body(workflow) == "Dear you,\n\nThanks\n"


def test_a_prompt_saved_from_the_page_with_crlf_is_not_a_change(client, tenant):
    prompt = prompt_create(
        tenant=tenant, name="plan", template_variables=["contact"],
        system_prompt_text="Line one\nLine two {{ contact.first_name }}",
    )  # fmt: skip
    url = reverse("admin:prompts_prompt_change", args=[prompt.pk])
    text = prompt.system_prompt_text.replace("\n", "\r\n")
    client.post(url, {**form_data(prompt, system_prompt_text=text), "_continue": "1"})
    new = Prompt.objects.filter(name="plan").order_by("-version").first()
    assert "\r" not in new.system_prompt_text
    page = client.get(
        reverse("admin:prompts_prompt_versions", args=[prompt.pk]),
        {"old": 1, "new": new.version},
    ).content.decode()
    assert "system_prompt_text (changed)" not in page


def test_the_prompt_service_stores_lf():
    tenant = make_tenant("crlf-svc")
    prompt = prompt_create(
        tenant=tenant, name="p", system_prompt_text="a\r\nb", user_prompt_text="c\rd"
    )
    assert (prompt.system_prompt_text, prompt.user_prompt_text) == ("a\nb", "c\nd")
