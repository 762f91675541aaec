"""A webhook's enrolling task reads its contact inside the enrollment's INSERT (PostgreSQL).

The request found the contact's id; the task's INSERT reads the contact along with it
(``prepared.Along``, ``CrmContactAdapter.load_along``) and claims the delivery only while the
contact is there — one round trip fewer than loading it first. Filters that read the contact
still load it first.
"""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Contact
from engine.effects.contacts import contact_adapter
from engine.models import WebhookDelivery
from engine.runtime.enrollment import enrollment_create
from engine.triggers.webhooks import delivery_claim
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import enrolled, listening
from tests.triggers.test_webhooks import post
from workflows.models import Enrollment

GREET = {
    "id": "greet",
    "type": "update_contact",
    "config": {
        "fields": {"custom_fields.greeting": "{{ contact.first_name }} {{ contact.tags|join:',' }}"}
    },
}


def _contact_reads(captured) -> list[str]:
    # The contact's load selects its columns first (``CrmContactAdapter.load``); the
    # update_contact step's own read locks the row (``FOR UPDATE``) and is not a load.
    head = f'SELECT "{Contact._meta.db_table}"."id"'
    return [
        sql
        for sql in (q["sql"] for q in captured.captured_queries)
        if sql.startswith(head) and not sql.endswith("FOR UPDATE")
    ]


def test_the_task_reads_the_contact_in_the_enrollments_insert_and_its_steps_see_it(
    client, trigger_queue, require_postgres
):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email"}, steps=[GREET])
    contact = make_contact(tenant, email="bo@example.com", first_name="Bo", tags=["vip", "gold"])
    post(client, workflow, {"email": "bo@example.com"}, delivery="a1")
    trigger_queue.commit()

    with CaptureQueriesContext(connection) as captured:
        trigger_queue.drain()

    assert _contact_reads(captured) == []  # no statement of its own for the contact
    (insert,) = [q["sql"] for q in captured.captured_queries if "WITH claimed" in q["sql"]]
    assert "AS along ON true" in insert
    assert f'"{Contact._meta.db_table}"' in insert
    contact.refresh_from_db()
    assert contact.custom_fields["greeting"] == "Bo gold,vip"  # the first step saw it all
    assert enrolled(workflow) == [contact.pk]
    assert WebhookDelivery.objects.get(delivery_id="a1").outcome == "enrolled"


def test_filters_that_read_the_contact_load_it_before_the_insert(
    client, trigger_queue, require_postgres
):
    tenant = make_tenant()
    vips = [{"expression": "'vip' in contact.tags"}]
    workflow = listening(
        tenant, "webhook", config={"match_by": "email"}, filters=vips, steps=[GREET]
    )
    vip = make_contact(tenant, email="vip@example.com", first_name="Vi", tags=["vip"])
    make_contact(tenant, email="no@example.com")
    post(client, workflow, {"email": "vip@example.com"}, delivery="f1")
    post(client, workflow, {"email": "no@example.com"}, delivery="f2")
    trigger_queue.commit()

    with CaptureQueriesContext(connection) as captured:
        trigger_queue.drain()

    assert len(_contact_reads(captured)) == 2  # each task read its contact for the filter
    inserts = [q["sql"] for q in captured.captured_queries if "WITH claimed" in q["sql"]]
    assert len(inserts) == 1  # the VIP's; the other was filtered before any INSERT
    assert "AS along" not in inserts[0]
    assert enrolled(workflow) == [vip.pk]
    outcomes = dict(WebhookDelivery.objects.values_list("delivery_id", "outcome"))
    assert outcomes == {"f1": "enrolled", "f2": "filtered"}


def test_a_contact_gone_before_the_insert_claims_nothing_and_enrolls_nobody(require_postgres):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email"}, steps=[GREET])
    contact = make_contact(tenant)
    delivery = WebhookDelivery.objects.create(workflow=workflow, delivery_id="g", trigger={})
    contact_id = contact.pk
    contact.delete()
    claim = delivery_claim(delivery.pk, still=(workflow.pk, workflow.published_version_id))

    made = enrollment_create(
        workflow=workflow,
        contact=None,
        contact_id=contact_id,
        contact_along=contact_adapter().load_along(contact_id),
        claim=claim,
        run_first=True,
    )

    assert made is None
    assert not Enrollment.objects.filter(workflow=workflow).exists()
    delivery.refresh_from_db()
    assert delivery.outcome == ""  # still owed: the task's slower path settles it ("gone")


def test_another_tenants_contact_read_along_is_refused_and_rolled_back(require_postgres):
    tenant, other = make_tenant(), make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email"}, steps=[GREET])
    stranger = make_contact(other)
    delivery = WebhookDelivery.objects.create(workflow=workflow, delivery_id="t", trigger={})
    claim = delivery_claim(delivery.pk, still=(workflow.pk, workflow.published_version_id))

    made = enrollment_create(
        workflow=workflow,
        contact=None,
        contact_id=stranger.pk,
        contact_along=contact_adapter().load_along(stranger.pk),
        claim=claim,
        run_first=True,
    )

    assert made is None
    assert not Enrollment.objects.filter(workflow=workflow).exists()
    delivery.refresh_from_db()
    assert delivery.outcome == ""
    stranger.refresh_from_db()
    assert "greeting" not in stranger.custom_fields  # no step ran on it
