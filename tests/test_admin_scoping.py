"""Staff see and pick only their own tenants' rows in every admin screen."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import RequestFactory

from crm.models import Contact, Tenant
from prompts.models import Prompt
from tests.cast import make_contact, make_published, make_staff, make_tenant
from workflows.models import Enrollment, Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db

FLOW = {"name": "Mine", "steps": [{"id": "done", "type": "exit"}]}


@pytest.fixture
def two_tenants():
    mine, theirs = make_tenant("mine"), make_tenant("theirs")
    staff = make_staff(mine)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["crm", "workflows", "prompts"])
    )
    return mine, theirs, staff


def request_for(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.mark.parametrize("model", [Contact, Workflow, Prompt, Enrollment, WorkflowVersion, Tenant])
def test_querysets_hold_only_the_users_tenants(two_tenants, model):
    mine, theirs, staff = two_tenants
    for tenant in (mine, theirs):
        contact = make_contact(tenant)
        workflow = make_published(tenant, {**FLOW, "name": f"Flow {tenant.slug}"})
        Prompt.objects.create(tenant=tenant, name="p", system_prompt_text="x")
        Enrollment.objects.create(
            tenant=tenant, workflow=workflow, version=workflow.published_version, contact=contact
        )
    model_admin = admin.site._registry[model]
    rows = model_admin.get_queryset(request_for(staff))
    assert rows.count() == 1
    owner = rows.get()
    tenant = owner if model is Tenant else getattr(owner, "tenant", None) or owner.workflow.tenant
    assert tenant == mine


def test_a_superuser_sees_every_tenant(two_tenants):
    mine, theirs, _ = two_tenants
    make_contact(mine), make_contact(theirs)
    root = make_staff(username="root", is_superuser=True)
    assert admin.site._registry[Contact].get_queryset(request_for(root)).count() == 2


def test_foreign_key_choices_are_limited_to_the_users_tenants(two_tenants):
    mine, theirs, staff = two_tenants
    make_contact(mine), make_contact(theirs)
    model_admin = admin.site._registry[Enrollment]
    request = request_for(staff)
    tenant_field = model_admin.formfield_for_foreignkey(
        Enrollment._meta.get_field("tenant"), request
    )
    assert list(tenant_field.queryset) == [mine]
    contact_field = model_admin.formfield_for_foreignkey(
        Enrollment._meta.get_field("contact"), request
    )
    assert {c.tenant for c in contact_field.queryset} == {mine}


def test_saving_a_row_into_another_tenant_is_refused(two_tenants):
    from django.core.exceptions import PermissionDenied

    _, theirs, staff = two_tenants
    contact = Contact(tenant=theirs, first_name="Sneaky")
    with pytest.raises(PermissionDenied):
        admin.site._registry[Contact].save_model(request_for(staff), contact, None, False)
    assert not Contact.objects.filter(first_name="Sneaky").exists()


def test_the_changelist_page_shows_only_my_contacts(client, two_tenants):
    mine, theirs, staff = two_tenants
    make_contact(mine, first_name="Visible")
    make_contact(theirs, first_name="Hidden")
    client.force_login(staff)
    page = client.get("/admin/crm/contact/").content.decode()
    assert "Visible" in page
    assert "Hidden" not in page
    other = Contact.objects.get(first_name="Hidden")
    assert client.get(f"/admin/crm/contact/{other.pk}/change/").status_code == 302
