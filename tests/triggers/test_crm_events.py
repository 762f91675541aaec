"""Each CRM event kind, from a real model save through to an enrollment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from crm.forms_intake import FormIntakeError, form_submit
from crm.models import Booking, Call, Contact, ContactTag, Message, Tag
from tests.cast import add_tag, make_contact, make_tenant
from tests.triggers.helpers import enrolled, listening, trigger_of

pytestmark = pytest.mark.django_db


def test_a_created_contact_is_enrolled_in_a_contact_created_workflow(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "contact_created")

    contact = make_contact(tenant, source="ads")
    trigger_queue.drain()

    assert enrolled(workflow) == [contact.pk]
    trigger = trigger_of(workflow, contact)
    assert trigger["type"] == "contact_created"
    assert trigger["source"] == "ads"
    assert trigger["contact_id"] == contact.pk


def test_tags_added_after_the_first_save_are_seen_by_the_filters(trigger_queue):
    tenant = make_tenant()
    vip = listening(
        tenant,
        "contact_created",
        filters=[{"field": "tags", "operator": "contains", "value": "vip"}],
    )

    with transaction.atomic():
        tagged = make_contact(tenant, tags=["vip"])
        plain = make_contact(tenant)
    trigger_queue.drain()

    assert enrolled(vip) == [tagged.pk]
    assert plain.pk not in enrolled(vip)


def test_a_rolled_back_save_enrolls_nobody(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "contact_created")

    def failing_request():
        with transaction.atomic():
            make_contact(tenant)
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    trigger_queue.drain()

    assert trigger_queue.sent == []
    assert enrolled(workflow) == []


def test_a_paused_workflow_enrolls_nobody(trigger_queue):
    from workflows.services import workflow_pause

    tenant = make_tenant()
    workflow = listening(tenant, "contact_created")
    workflow_pause(workflow=workflow)

    make_contact(tenant)
    trigger_queue.drain()

    assert enrolled(workflow) == []


def test_an_event_queued_before_a_pause_enrolls_nobody(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "contact_created")
    make_contact(tenant)
    trigger_queue.commit()

    workflow.status = "paused"
    workflow.save(update_fields=["status"])
    trigger_queue.drain()

    assert enrolled(workflow) == []


def test_contact_updated_fires_for_the_configured_fields_only(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "contact_updated", config={"fields": ["stage"]})
    contact = make_contact(tenant, stage="lead")
    trigger_queue.drain()

    contact.first_name = "Renamed"
    contact.save()
    trigger_queue.drain()
    assert enrolled(workflow) == []

    contact.stage = "customer"
    contact.save()
    trigger_queue.drain()
    assert enrolled(workflow) == [contact.pk]
    trigger = trigger_of(workflow, contact)
    assert trigger["changed"] == ["stage"]
    assert trigger["changes"] == {"stage": {"from": "lead", "to": "customer"}}


def test_a_field_changed_to_filter_reads_the_new_value(trigger_queue):
    tenant = make_tenant()
    workflow = listening(
        tenant,
        "contact_updated",
        filters=[{"field": "trigger.changes.stage.to", "operator": "equals", "value": "customer"}],
    )
    won = make_contact(tenant)
    lost = make_contact(tenant)

    fresh = Contact.objects.get(pk=won.pk)
    fresh.stage = "customer"
    fresh.save(update_fields=["stage"])
    lost.stage = "churned"
    lost.save()
    trigger_queue.drain()

    assert enrolled(workflow) == [won.pk]


def test_custom_field_keys_are_listed_as_changed(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "contact_updated", config={"fields": ["custom_fields.goal"]})
    contact = make_contact(tenant, custom_fields={"goal": "strength", "level": 1})

    contact.custom_fields["level"] = 2
    contact.save()
    trigger_queue.drain()
    assert enrolled(workflow) == []

    contact.custom_fields["goal"] = "endurance"
    contact.save()
    trigger_queue.drain()
    assert enrolled(workflow) == [contact.pk]
    assert "custom_fields.goal" in trigger_of(workflow, contact)["changed"]


def test_an_in_place_change_deep_in_a_loaded_contacts_custom_fields_is_seen(trigger_queue):
    """What a load remembers is a copy down to the leaves: changing a nested list or dict in
    place must not change the remembered value too (crm.signals._copied)."""
    from crm.models import Contact

    tenant = make_tenant()
    workflow = listening(tenant, "contact_updated", config={"fields": ["custom_fields.plan"]})
    created = make_contact(tenant, custom_fields={"plan": {"seats": [1, 2], "tier": "gold"}})
    trigger_queue.drain()

    loaded = Contact.objects.get(pk=created.pk)
    loaded.custom_fields["plan"]["seats"].append(3)
    loaded.save()
    trigger_queue.drain()

    assert enrolled(workflow) == [created.pk]
    assert "custom_fields.plan" in trigger_of(workflow, created)["changed"]


def test_a_save_without_changes_announces_nothing(trigger_queue):
    tenant = make_tenant()
    listening(tenant, "contact_updated")
    contact = make_contact(tenant)
    trigger_queue.drain()

    contact.save()
    trigger_queue.commit()

    assert trigger_queue.sent == []


@pytest.mark.parametrize("how", ["manager", "through_row", "reverse"])
def test_tag_added_fires_for_every_way_of_adding_a_tag(trigger_queue, how):
    tenant = make_tenant()
    workflow = listening(tenant, "tag_added", config={"tag": "VIP"})
    contact = make_contact(tenant)
    vip = Tag.objects.create(tenant=tenant, name="vip")
    other = Tag.objects.create(tenant=tenant, name="other")

    if how == "manager":
        contact.tags.add(other, vip)
    elif how == "through_row":
        ContactTag.objects.create(contact=contact, tag=other)
        ContactTag.objects.create(contact=Contact.objects.get(pk=contact.pk), tag_id=vip.pk)
    else:
        vip.contacts.add(contact)
    trigger_queue.drain()

    assert enrolled(workflow) == [contact.pk]
    assert trigger_of(workflow, contact)["tag"] == "vip"


@pytest.mark.parametrize("how", ["remove", "clear", "delete_row"])
def test_tag_removed_fires_for_every_way_of_removing_a_tag(trigger_queue, how):
    tenant = make_tenant()
    workflow = listening(tenant, "tag_removed", config={"tag": "trial"})
    contact = make_contact(tenant, tags=["trial"])
    trial = Tag.objects.get(tenant=tenant, name="trial")

    if how == "remove":
        contact.tags.remove(trial)
    elif how == "clear":
        contact.tags.clear()
    else:
        ContactTag.objects.get(contact=contact).delete()
    trigger_queue.drain()

    assert enrolled(workflow) == [contact.pk]
    assert trigger_of(workflow, contact)["tag"] == "trial"


def test_deleting_a_contact_is_not_a_tag_removal(trigger_queue):
    tenant = make_tenant()
    listening(tenant, "tag_removed")
    contact = make_contact(tenant, tags=["trial"])
    trigger_queue.drain()

    contact.delete()
    trigger_queue.commit()

    assert trigger_queue.sent == []


def test_deleting_a_tag_removes_it_from_its_contacts(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "tag_removed", config={"tag": "trial"})
    contact = make_contact(tenant, tags=["trial"])

    Tag.objects.get(tenant=tenant, name="trial").delete()
    trigger_queue.drain()

    assert enrolled(workflow) == [contact.pk]


def test_lead_created_fires_for_new_leads_and_contacts_turned_lead(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "lead_created")
    lead = make_contact(tenant, stage="lead")
    customer = make_contact(tenant, stage="customer")
    subscriber = make_contact(tenant, stage="subscriber")
    trigger_queue.drain()
    assert enrolled(workflow) == [lead.pk]

    subscriber.stage = "lead"
    subscriber.save()
    customer.first_name = "Still a customer"
    customer.save()
    trigger_queue.drain()

    assert sorted(enrolled(workflow)) == sorted([lead.pk, subscriber.pk])
    assert trigger_of(workflow, lead)["leadId"] == lead.pk


def inbound(contact, channel="whatsapp", **fields):
    fields.setdefault("body", "Hallo, ich brauche einen Trainingsplan")
    fields.setdefault("from_address", contact.phone)
    return Message.objects.create(
        tenant_id=contact.tenant_id, contact=contact, channel=channel, direction="inbound", **fields
    )


@pytest.mark.parametrize(
    ("kind", "channel"),
    [
        ("sms_received", "sms"),
        ("whatsapp_message", "whatsapp"),
        ("email_received", "email"),
        ("web_chat", "webchat"),
        ("voice_call", "voice"),
    ],
)
def test_each_channel_kind_hears_its_own_channel_only(trigger_queue, kind, channel):
    tenant = make_tenant()
    workflow = listening(tenant, kind)
    hit, miss = make_contact(tenant), make_contact(tenant)

    inbound(hit, channel=channel)
    inbound(miss, channel="sms" if channel != "sms" else "email")
    trigger_queue.drain()

    assert enrolled(workflow) == [hit.pk]
    trigger = trigger_of(workflow, hit)
    assert trigger["channel"] == channel
    assert trigger["content"] == "Hallo, ich brauche einen Trainingsplan"
    assert trigger["from"] == hit.phone


def test_message_received_hears_any_channel_or_the_configured_one(trigger_queue):
    tenant = make_tenant()
    anything = listening(tenant, "message_received")
    email_only = listening(tenant, "message_received", config={"channel": "email"})
    a, b = make_contact(tenant), make_contact(tenant)

    inbound(a, channel="sms")
    inbound(b, channel="email", subject="Question")
    trigger_queue.drain()

    assert sorted(enrolled(anything)) == sorted([a.pk, b.pk])
    assert enrolled(email_only) == [b.pk]
    assert trigger_of(email_only, b)["subject"] == "Question"


def test_outbound_messages_trigger_nothing(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "message_received")
    contact = make_contact(tenant)

    Message.objects.create(
        tenant=tenant, contact=contact, channel="sms", direction="outbound", body="Hi"
    )
    trigger_queue.drain()

    assert enrolled(workflow) == []


def test_intent_detected_checks_intent_and_confidence(trigger_queue):
    tenant = make_tenant()
    workflow = listening(
        tenant, "intent_detected", config={"intent": "training_plan", "min_confidence": 0.8}
    )
    sure, unsure, other = make_contact(tenant), make_contact(tenant), make_contact(tenant)

    inbound(sure, intent="training_plan", intent_confidence=0.92)
    inbound(unsure, intent="training_plan", intent_confidence=0.5)
    inbound(other, intent="cancel", intent_confidence=0.99)
    trigger_queue.drain()

    assert enrolled(workflow) == [sure.pk]
    assert trigger_of(workflow, sure)["intent_confidence"] == 0.92


def test_an_intent_set_after_the_message_was_stored_fires_once(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "intent_detected", config={"intent": "training_plan"})
    contact = make_contact(tenant)
    message = inbound(contact)
    trigger_queue.drain()
    assert enrolled(workflow) == []

    stored = Message.objects.get(pk=message.pk)
    stored.intent, stored.intent_confidence = "training_plan", 0.9
    stored.save()
    trigger_queue.drain()
    assert enrolled(workflow) == [contact.pk]

    stored.status = "delivered"
    stored.save()
    trigger_queue.commit()
    assert "engine.tasks.dispatch_event" not in trigger_queue.names()


def test_a_missed_call_fires_when_created_missed_or_marked_missed_later(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "missed_call")
    first, second = make_contact(tenant), make_contact(tenant)

    Call.objects.create(
        tenant=tenant, contact=first, direction="inbound", status="missed", from_number=first.phone
    )
    ringing = Call.objects.create(
        tenant=tenant, contact=second, direction="inbound", status="ringing"
    )
    trigger_queue.drain()
    assert enrolled(workflow) == [first.pk]

    call = Call.objects.get(pk=ringing.pk)
    call.status = "missed"
    call.save()
    trigger_queue.drain()

    assert sorted(enrolled(workflow)) == sorted([first.pk, second.pk])
    assert trigger_of(workflow, first)["from"] == first.phone


def test_an_answered_inbound_call_is_a_voice_call(trigger_queue):
    tenant = make_tenant()
    voice = listening(tenant, "voice_call", config={"channel": "voice"})
    missed = listening(tenant, "missed_call")
    caller, outbound = make_contact(tenant), make_contact(tenant)

    Call.objects.create(
        tenant=tenant, contact=caller, direction="inbound", status="completed", transcript="Hi"
    )
    Call.objects.create(tenant=tenant, contact=outbound, direction="outbound", status="completed")
    trigger_queue.drain()

    assert enrolled(voice) == [caller.pk]
    assert enrolled(missed) == []
    assert trigger_of(voice, caller)["content"] == "Hi"


def test_a_booking_enrolls_its_contact(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "booking_created")
    contact = make_contact(tenant)

    booking = Booking.objects.create(
        tenant=tenant,
        contact=contact,
        title="Probetraining",
        starts_at=datetime(2026, 5, 4, 10, tzinfo=UTC),
    )
    booking.status = "cancelled"
    booking.save()
    trigger_queue.drain()

    assert enrolled(workflow) == [contact.pk]
    trigger = trigger_of(workflow, contact)
    assert trigger["title"] == "Probetraining"
    assert trigger["starts_at"] == "2026-05-04T10:00:00+00:00"


def test_a_form_submission_finds_or_creates_the_contact(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "form_submitted", config={"form": "trial"})
    known = make_contact(tenant, email="known@example.com")

    same = form_submit(
        tenant=tenant, form="trial", fields={"email": "KNOWN@example.com", "goal": "fit"}
    )
    by_phone = form_submit(tenant=tenant, form="trial", fields={"phone": known.phone})
    new = form_submit(
        tenant=tenant, form="trial", fields={"email": "new@example.com", "first_name": "Neu"}
    )
    form_submit(tenant=tenant, form="newsletter", fields={"email": "other@example.com"})
    trigger_queue.drain()

    assert same == known == by_phone
    assert new.first_name == "Neu"
    assert new.source == "form:trial"
    assert sorted(enrolled(workflow)) == sorted([known.pk, new.pk])
    assert trigger_of(workflow, known)["fields"] == {"email": "KNOWN@example.com", "goal": "fit"}


def test_a_form_submission_without_email_or_phone_is_refused():
    tenant = make_tenant()

    with pytest.raises(
        FormIntakeError, match="form 'trial': a submission needs an email or a phone"
    ):
        form_submit(tenant=tenant, form="trial", fields={"name": "Ann"})


def test_events_of_one_tenant_never_enroll_in_another(trigger_queue):
    mine, theirs = make_tenant(), make_tenant()
    workflow = listening(theirs, "contact_created")

    make_contact(mine)
    trigger_queue.drain()

    assert enrolled(workflow) == []
    assert trigger_queue.sent == []


def test_a_filter_on_the_contact_and_the_trigger_decides(trigger_queue):
    tenant = make_tenant()
    workflow = listening(
        tenant,
        "message_received",
        filters={
            "all": [
                {"field": "trigger.content", "operator": "contains", "value": "preis"},
                {"field": "custom_fields.plan", "operator": "equals", "value": "basic"},
            ]
        },
    )
    basic, premium = (
        make_contact(tenant, custom_fields={"plan": "basic"}),
        make_contact(tenant, custom_fields={"plan": "premium"}),
    )

    inbound(basic, body="Was ist der Preis?")
    inbound(premium, body="Was ist der Preis?")
    inbound(make_contact(tenant, custom_fields={"plan": "basic"}), body="Hallo")
    trigger_queue.drain()

    assert enrolled(workflow) == [basic.pk]


def test_a_malformed_filter_matches_nobody(trigger_queue):
    tenant = make_tenant()
    workflow = listening(
        tenant, "contact_created", filters=[{"field": "tags", "operator": "resembles", "value": 1}]
    )

    make_contact(tenant)
    trigger_queue.drain()

    assert enrolled(workflow) == []


def test_add_tag_helper_and_repeated_events_enroll_once(trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "tag_added")
    contact = make_contact(tenant)

    add_tag(contact, "a")
    add_tag(contact, "b")
    trigger_queue.drain()

    assert enrolled(workflow) == [contact.pk]
