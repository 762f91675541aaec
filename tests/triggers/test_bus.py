"""The cheap path, the index cache, bulk announcements, re-checks and host registration."""

from __future__ import annotations

import pytest
from django.db.models.signals import post_save

from crm.models import Contact, Task
from engine.triggers import bus, matching
from engine.triggers.dispatch import contact_enroll, events_dispatch
from engine.triggers.model_events import register_model_event
from engine.triggers.registry import trigger_source
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import enrolled, listening
from workflows.models import Enrollment
from workflows.services import workflow_archive, workflow_pause, workflow_resume

pytestmark = pytest.mark.django_db


def test_a_save_costs_no_query_when_no_workflow_of_the_tenant_listens(
    trigger_queue, django_assert_num_queries
):
    tenant = make_tenant()
    make_contact(tenant)  # builds and caches the (empty) index

    with django_assert_num_queries(1):  # the INSERT only
        Contact.objects.create(tenant=tenant, email="quiet@example.com")
    trigger_queue.commit()

    assert trigger_queue.sent == []


def test_the_index_is_built_once_and_reused(django_assert_num_queries):
    tenant = make_tenant()
    listening(tenant, "contact_created")

    with django_assert_num_queries(1):
        first = matching.tenant_index(tenant.pk)
    with django_assert_num_queries(0):
        again = matching.tenant_index(tenant.pk)

    assert first is again
    assert [x.kind for x in first.by_kind["contact_created"]] == ["contact_created"]


def test_the_index_expires_after_its_time_to_live(settings):
    settings.STUDIO_TRIGGER_INDEX_SECONDS = 0
    tenant = make_tenant()

    assert matching.tenant_index(tenant.pk) is not matching.tenant_index(tenant.pk)


def test_pausing_drops_the_cached_index_and_resuming_brings_the_workflow_back(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "contact_created")
    assert matching.tenant_index(tenant.pk).listens(["contact_created"])

    workflow_pause(workflow=workflow)
    trigger_queue.commit()  # workflow_changed is sent after commit
    assert not matching.tenant_index(tenant.pk).listens(["contact_created"])
    make_contact(tenant)
    trigger_queue.commit()
    assert trigger_queue.sent == []

    workflow_resume(workflow=workflow)
    trigger_queue.commit()
    contact = make_contact(tenant)
    trigger_queue.drain()
    assert enrolled(workflow) == [contact.pk]


def test_the_index_reads_the_published_trigger_not_the_draft():
    tenant = make_tenant()
    workflow = listening(tenant, "contact_created")
    workflow.trigger_type = "tag_added"  # a draft edit, not yet published
    workflow.save()

    index = matching.tenant_index(tenant.pk)

    assert list(index.by_kind) == ["contact_created"]


def test_typescript_aliases_in_a_published_trigger_are_understood():
    tenant = make_tenant()
    listening(tenant, "LEAD_CREATED")

    assert list(matching.tenant_index(tenant.pk).by_kind) == ["lead_created"]


def test_an_unknown_trigger_type_listens_to_nothing():
    tenant = make_tenant()
    listening(tenant, "telepathy")

    assert matching.tenant_index(tenant.pk).by_kind == {}


def test_turning_triggers_off_announces_nothing(trigger_queue, settings):
    settings.STUDIO_TRIGGERS_ENABLED = False
    tenant = make_tenant()
    listening(tenant, "contact_created")
    listening(tenant, "tag_added")

    contact = make_contact(tenant, tags=["x"])
    contact.stage = "customer"
    contact.save()
    trigger_queue.commit()

    assert trigger_queue.sent == []
    assert (
        bus.announce_bulk(kinds=["contact_created"], tenant_id=tenant.pk, contact_ids=[contact.pk])
        == 0
    )


def test_bulk_created_contacts_are_announced_in_chunks(trigger_queue, settings):
    settings.STUDIO_TRIGGER_BULK_CHUNK = 2
    tenant = make_tenant()
    workflow = listening(tenant, "contact_created")
    rows = Contact.objects.bulk_create(
        [Contact(tenant=tenant, email=f"b{i}@example.com") for i in range(5)]
    )
    trigger_queue.commit()
    assert trigger_queue.sent == []  # bulk_create sends no signals

    queued = bus.announce_bulk(
        kinds=["contact_created"], tenant_id=tenant.pk, contact_ids=[c.pk for c in rows]
    )
    trigger_queue.commit()
    assert queued == 5
    assert [len(args[0]) for _name, args in trigger_queue.sent] == [2, 2, 1]
    trigger_queue.drain()

    assert sorted(enrolled(workflow)) == sorted(c.pk for c in rows)


def test_bulk_announcements_nobody_listens_to_are_dropped(trigger_queue):
    tenant = make_tenant()

    assert (
        bus.announce_bulk(kinds=["contact_created"], tenant_id=tenant.pk, contact_ids=[1, 2]) == 0
    )


def test_every_event_re_checks_the_contacts_exit_conditions(trigger_queue):
    tenant = make_tenant()
    workflow = listening(
        tenant,
        "manual",
        exit_conditions=[{"field": "stage", "operator": "equals", "value": "customer"}],
    )
    contact = make_contact(tenant)
    Enrollment.objects.create(
        tenant=tenant,
        workflow=workflow,
        version=workflow.published_version,
        contact=contact,
        status="waiting",
        current_step="pause",
        context={"trigger": {}, "steps": {}},
    )

    contact.stage = "customer"
    contact.save()
    trigger_queue.drain()

    enrollment = Enrollment.objects.get(workflow=workflow, contact=contact)
    assert enrollment.status == "exited"


def test_a_paused_workflow_with_a_goal_still_gets_re_checks():
    tenant = make_tenant()
    goal = {
        "id": "bought",
        "type": "goal",
        "config": {"condition": [{"field": "stage", "operator": "equals", "value": "customer"}]},
    }
    workflow = listening(
        tenant,
        "manual",
        steps=[{"id": "pause", "type": "wait", "config": {"duration": "1d"}}, goal],
    )
    workflow_pause(workflow=workflow)

    index = matching.tenant_index(tenant.pk)

    assert index.recheck is True
    assert index.by_kind == {}


def test_an_archived_workflow_without_goals_needs_no_re_check():
    tenant = make_tenant()
    workflow_archive(workflow=listening(tenant, "contact_created"))

    assert matching.tenant_index(tenant.pk) == matching.TenantIndex({}, False)


def test_an_event_for_a_deleted_contact_is_dropped():
    tenant = make_tenant()
    listening(tenant, "contact_created")
    event = bus.make_event(kinds=["contact_created"], tenant_id=tenant.pk, contact_id=987654)

    assert events_dispatch(events=[event]) == []
    assert contact_enroll(workflow_id=1, contact_id=987654, trigger={}) is None


def test_contact_enroll_applies_the_workflows_filters():
    tenant = make_tenant()
    workflow = listening(
        tenant,
        "webhook",
        filters=[{"field": "trigger.body.plan", "operator": "equals", "value": "gold"}],
    )
    contact = make_contact(tenant)

    assert (
        contact_enroll(
            workflow_id=workflow.pk, contact_id=contact.pk, trigger={"body": {"plan": "silver"}}
        )
        is None
    )
    enrollment_id = contact_enroll(
        workflow_id=workflow.pk, contact_id=contact.pk, trigger={"body": {"plan": "gold"}}
    )

    trigger = Enrollment.objects.get(pk=enrollment_id).context["trigger"]
    assert trigger["type"] == "webhook"
    assert {"hour", "weekday", "day"} <= set(trigger)


def test_contact_enroll_refuses_a_paused_workflow():
    tenant = make_tenant()
    workflow = listening(tenant, "webhook")
    workflow_pause(workflow=workflow)

    assert (
        contact_enroll(workflow_id=workflow.pk, contact_id=make_contact(tenant).pk, trigger={})
        is None
    )


def test_a_host_model_can_feed_a_trigger_kind(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "booking_created")
    contact = make_contact(tenant)
    receiver = register_model_event(
        model="crm.Task",
        kind="booking_created",
        when=lambda task, created: created and task.contact_id is not None,
        contact=lambda task: task.contact_id,
        tenant=lambda task: task.tenant_id,
        context=lambda task: {"title": task.title},
    )
    try:
        Task.objects.create(tenant=tenant, title="No contact", due_at="2026-01-01T10:00Z")
        Task.objects.create(
            tenant=tenant, contact=contact, title="Call back", due_at="2026-01-01T10:00Z"
        )
        trigger_queue.drain()
    finally:
        post_save.disconnect(receiver, sender=Task)

    assert enrolled(workflow) == [contact.pk]
    assert Enrollment.objects.get(workflow=workflow).context["trigger"]["title"] == "Call back"


def test_a_host_registration_may_return_several_kinds_or_none(trigger_queue):
    tenant = make_tenant()
    created = listening(tenant, "contact_created")
    contact = make_contact(tenant)
    trigger_queue.drain()
    Enrollment.objects.all().delete()
    receiver = register_model_event(
        model=Task,
        kind=lambda task, is_new: ["contact_created"] if task.title == "go" else [],
        when=lambda task, is_new: True,
        contact=lambda task: task.contact_id,
        tenant=lambda task: task.tenant_id,
    )
    try:
        Task.objects.create(
            tenant=tenant, contact=contact, title="stay", due_at="2026-01-01T10:00Z"
        )
        trigger_queue.drain()
        assert enrolled(created) == []
        Task.objects.create(tenant=tenant, contact=contact, title="go", due_at="2026-01-01T10:00Z")
        trigger_queue.drain()
    finally:
        post_save.disconnect(receiver, sender=Task)

    assert enrolled(created) == [contact.pk]


def test_the_registry_describes_every_canonical_kind():
    from engine.definition.triggers import TRIGGER_KINDS

    for kind in TRIGGER_KINDS:
        source = trigger_source(kind)
        assert source is not None, kind
        assert "contact_id" in source.context_keys
    assert trigger_source("sms_received").channel == "sms"
    assert trigger_source("nope") is None


def test_a_send_step_wants_inbound_messages_but_not_every_contact_event():
    # Before: any send step made every tag and field change of the tenant an event that
    # loaded the contact and re-checked its enrollments, for nothing (no goal, no exit rule).
    tenant = make_tenant()
    listening(
        tenant, "manual", steps=[{"id": "hi", "type": "send_sms", "config": {"message": "Hi"}}]
    )

    index = matching.tenant_index(tenant.pk)

    assert (index.recheck, index.replies) == (False, True)
    assert bus.wanted(tenant.pk, ["message_received", "sms_received"]) is True
    assert bus.wanted(tenant.pk, ["tag_added"]) is False
    assert bus.wanted(tenant.pk, ["contact_updated"]) is False


def test_exit_conditions_want_every_contact_event():
    tenant = make_tenant()
    rule = [{"field": "stage", "operator": "equals", "value": "customer"}]
    listening(tenant, "manual", exit_conditions=rule)

    assert bus.wanted(tenant.pk, ["tag_added"]) is True
