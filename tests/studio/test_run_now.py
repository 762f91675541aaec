"""Run now on the workflow list: a real enrollment of a chosen or the sample contact."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers

from crm.models import Contact
from tests.cast import make_contact, make_published
from tests.studio.cast import flow, populate, studio_staff
from workflows.models import Enrollment, Workflow

pytestmark = pytest.mark.usefixtures("require_postgres")

LIST = "/admin/workflows/workflow/"
RUN_NOW = "/admin/workflows/workflow/run-now/"


@pytest.fixture
def shop():
    return populate("Alpha")


def as_role(client, shop, role: str = "admin"):
    client.force_login(studio_staff(shop["tenant"], role=role))


def test_the_row_action_enrolls_the_tenants_sample_contact_and_links_the_enrollment(client, shop):
    workflow = shop["workflow"]
    as_role(client, shop)
    listing = client.get(LIST).content.decode()
    assert f"{LIST}{workflow.pk}/run-now-row/" in listing
    assert "run_now_selected" in listing
    response = client.get(f"{LIST}{workflow.pk}/run-now-row/")
    assert response.status_code == 302
    assert response.url == f"{RUN_NOW}?ids={workflow.pk}"
    page = client.get(response.url).content.decode()
    assert "The tenant&#x27;s sample contact" in page
    assert "trigger.sample = True" in page

    text = client.post(response.url, {"contact": ""}, follow=True).content.decode()
    sample = Contact.objects.get(tenant=shop["tenant"], source="studio_sample")
    enrollment = Enrollment.objects.get(workflow=workflow, contact=sample)
    assert enrollment.version == workflow.published_version
    assert enrollment.context["trigger"]["via"] == "admin-run-now"
    assert enrollment.context["trigger"]["sample"] is True
    assert f'href="/admin/workflows/enrollment/{enrollment.pk}/change/"' in text
    assert "runs now for Sample Contact" in text

    # Again: the same sample contact, already in (no re-enrollment): said, not enrolled twice.
    text = client.post(response.url, {"contact": ""}, follow=True).content.decode()
    assert "already in it and re-enrollment is off" in text
    assert Contact.objects.filter(source="studio_sample").count() == 1
    assert Enrollment.objects.filter(contact=sample).count() == 1


def test_the_bulk_action_runs_the_active_ones_for_a_chosen_contact_and_refuses_the_others(
    client, shop
):
    tenant = shop["tenant"]
    active = shop["workflow"]
    paused = make_published(tenant, flow("Beta"), status=Workflow.Status.PAUSED)
    draft = Workflow.objects.create(tenant=tenant, name="Gamma draft")
    chosen = make_contact(tenant, first_name="Chosen")
    as_role(client, shop)
    response = client.post(
        LIST,
        {"action": "run_now_selected",
         helpers.ACTION_CHECKBOX_NAME: [active.pk, paused.pk, draft.pk]},
    )  # fmt: skip
    assert response.status_code == 302
    assert response.url.startswith(RUN_NOW)
    page = client.get(response.url).content.decode()
    assert "these 3 workflows" in page

    text = client.post(response.url, {"contact": chosen.pk}, follow=True).content.decode()
    assert Enrollment.objects.get(workflow=active, contact=chosen).status in ("active", "waiting")
    assert not Enrollment.objects.filter(workflow__in=[paused, draft]).exists()
    assert "&#x27;Beta flow&#x27; is paused, so it cannot run: resume it first" in text
    assert "&#x27;Gamma draft&#x27; is draft, so it cannot run: publish it first" in text
    assert "runs now for Chosen" in text


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_only_admins_and_owners_run_now(client, shop, role):
    # A real run sends messages: the publishing role, as POST /api/workflows/run asks.
    workflow = shop["workflow"]
    as_role(client, shop, role)
    text = client.post(f"{RUN_NOW}?ids={workflow.pk}", {"contact": ""}, follow=True)
    assert "you must be an admin or owner of Alpha Inc to run it" in text.content.decode()
    assert Enrollment.objects.filter(workflow=workflow).count() == 1  # the cast's own


def test_another_tenants_workflow_or_contact_cannot_be_run(client, shop):
    other = populate("Beta")
    as_role(client, shop)
    response = client.get(f"{RUN_NOW}?ids={other['workflow'].pk}", follow=True)
    assert "Select the workflows to run." in response.content.decode()
    response = client.post(f"{RUN_NOW}?ids={shop['workflow'].pk}", {"contact": other["contact"].pk})
    assert response.status_code == 200  # the form again, with the choice refused
    assert "Select a valid choice" in response.content.decode()
    assert not Enrollment.objects.filter(contact=other["contact"], workflow=shop["workflow"])


@pytest.mark.parametrize(("region", "prefix"), [("DE", "+49"), ("", "+1"), ("GB", "+44")])
def test_the_sample_contact_can_be_emailed_texted_and_called(db, region, prefix):
    import phonenumbers

    from tests.cast import make_tenant
    from workflows.services import sample_contact

    tenant = make_tenant(phone_region=region)
    contact = sample_contact(tenant=tenant)
    assert contact.email.endswith(".example.com")
    assert contact.phone.startswith(prefix)
    assert phonenumbers.is_valid_number(phonenumbers.parse(contact.phone))
    # An older sample contact without a number gets one; still one sample contact.
    type(contact).objects.filter(pk=contact.pk).update(phone="")
    assert sample_contact(tenant=tenant).phone == contact.phone
    assert type(contact).objects.filter(tenant=tenant, source=contact.source).count() == 1
