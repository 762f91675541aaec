"""A webhook matching contacts by phone finds one contact whatever the number's format."""

from __future__ import annotations

import pytest

from crm.models import Contact
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import enrolled, listening
from tests.triggers.test_webhooks import post

pytestmark = pytest.mark.django_db


def test_two_formats_of_one_number_find_the_one_stored_contact(client, trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "phone", "create": True})
    contact = make_contact(tenant, phone="+15550100199")

    first = post(client, workflow, {"phone": "+1 (555) 010-0199"})
    second = post(client, workflow, {"contact": {"phone": "+1-555-010-0199"}})
    trigger_queue.drain()

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["contact_id"] == second.json()["contact_id"] == contact.pk
    assert first.json()["created_contact"] is False
    assert Contact.objects.filter(tenant=tenant).count() == 1
    assert enrolled(workflow) == [contact.pk]


def test_a_national_number_is_read_in_the_tenants_region(client, trigger_queue):
    tenant = make_tenant(phone_region="US")
    workflow = listening(tenant, "webhook", config={"match_by": "phone", "create": True})
    contact = make_contact(tenant, phone="+15550100199")

    response = post(client, workflow, {"phone": "(555) 010-0199"})

    assert response.json()["contact_id"] == contact.pk


def test_a_created_contact_stores_the_e164_form(client, trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "phone", "create": True})

    response = post(client, workflow, {"phone": "+1 (555) 010-0142", "first_name": "Neu"})

    assert response.status_code == 202
    assert Contact.objects.get(pk=response.json()["contact_id"]).phone == "+15550100142"


def test_an_unreadable_number_is_a_400_and_no_contact(client, trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "phone", "create": True})

    response = post(client, workflow, {"phone": "call me maybe"})

    assert response.status_code == 400
    assert "'call me maybe' is not a phone number" in response.json()["error"]
    assert not Contact.objects.filter(tenant=tenant).exists()
