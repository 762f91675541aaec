"""What a new user sees: seed_demo twice, then the printed login opens the studio."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from crm.models import Booking, Contact, Message, Tenant
from prompts.models import Prompt
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_is_safe_to_run_twice_and_prints_the_login():
    first = seed()
    counts = (Contact.objects.count(), Workflow.objects.count(), Prompt.objects.count())
    second = seed()
    assert (Contact.objects.count(), Workflow.objects.count(), Prompt.objects.count()) == counts
    assert "Admin login: username 'demo', password 'studio-demo'" in first
    assert "0 new contacts" in second
    tenant = Tenant.objects.get(slug="demo")
    assert Contact.objects.filter(tenant=tenant).count() >= 30
    assert Message.objects.filter(tenant=tenant).exists()
    assert Booking.objects.filter(tenant=tenant).exists()
    assert Prompt.objects.filter(tenant=tenant).count() == 2
    published = Workflow.objects.filter(tenant=tenant, status="active")
    assert sorted(published.values_list("name", flat=True)) == [
        "After Hours Auto-Reply",
        "Lead Qualification Webhook",
        "Missed Call Follow-Up",
        "New Lead Nurture",
        "Training Plan Request",
    ]


def test_the_printed_login_opens_the_admin_with_contacts_and_workflows(client):
    seed()
    assert client.login(username="demo", password="studio-demo")
    workflows = client.get("/admin/workflows/workflow/")
    assert workflows.status_code == 200
    assert "New Lead Nurture" in workflows.content.decode()
    contacts = client.get("/admin/crm/contact/")
    assert contacts.status_code == 200
    assert "Anna" in contacts.content.decode()
    nurture = Workflow.objects.get(name="New Lead Nurture")
    page = client.get(f"/admin/workflows/workflow/{nurture.pk}/change/")
    assert page.status_code == 200
    assert "welcome_email" in page.content.decode()
