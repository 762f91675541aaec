from __future__ import annotations

from datetime import timedelta

import pytest

from crm.models import Booking, Contact, ContactTag, Task
from tests.actions.conftest import START, log_of
from tests.cast import make_contact, make_tenant
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db


def tags_of(contact) -> list[str]:
    return sorted(contact.tags.values_list("name", flat=True))


def test_add_tag_creates_the_tag_and_links_it_once(tenant, contact, run):
    steps = [
        {"id": "tag", "type": "add_tag", "config": {"tag": "vip-{{trigger.tier}}"}},
        {"id": "again", "type": "add_tag", "config": {"tag": "vip-gold"}},
    ]
    enrollment = run(tenant, contact, steps, trigger={"tier": "gold"})
    assert tags_of(contact) == ["vip-gold"]
    assert enrollment.context["steps"]["tag"] == {"tag": "vip-gold", "added": True}
    assert enrollment.context["steps"]["again"] == {"tag": "vip-gold", "added": False}


def test_remove_tag_unlinks_only_this_contacts_tag(tenant, run):
    contact = make_contact(tenant, tags=["cold", "lead"])
    other = make_contact(tenant, tags=["cold"])
    steps = [
        {"id": "untag", "type": "remove_tag", "config": {"tag": "cold"}},
        {"id": "none", "type": "remove_tag", "config": {"tag": "absent"}},
    ]
    enrollment = run(tenant, contact, steps)
    assert tags_of(contact) == ["lead"]
    assert tags_of(other) == ["cold"]
    assert enrollment.context["steps"]["untag"]["removed"] is True
    assert enrollment.context["steps"]["none"]["removed"] is False


def test_an_empty_tag_is_an_error(tenant, contact, run):
    enrollment = run(
        tenant, contact, [{"id": "t", "type": "add_tag", "config": {"tag": "{{trigger.x}}"}}]
    )
    assert "add_tag.tag rendered to an empty value" in log_of(enrollment, "t").error_message
    assert not ContactTag.objects.exists()


def test_update_contact_sets_fields_and_custom_fields(tenant, contact, run):
    step = {
        "id": "upd",
        "type": "update_contact",
        "config": {
            "fields": {
                "stage": "customer",
                "custom_fields.goal": "{{trigger.goal}}",
                "custom_fields": {"level": 3},
                "sms_opt_out": "true",
            }
        },
    }
    enrollment = run(tenant, contact, [step], trigger={"goal": "marathon"})
    contact.refresh_from_db()
    assert contact.stage == "customer"
    assert contact.custom_fields == {"goal": "marathon", "level": 3}
    assert contact.sms_opt_out is True
    assert enrollment.context["steps"]["upd"]["updated"] == [
        "custom_fields.goal",
        "custom_fields.level",
        "sms_opt_out",
        "stage",
    ]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"tenant_id": 2}, "'tenant_id' is not a contact field a workflow may set"),
        ({"stage": "king"}, "update_contact.stage: Value 'king' is not a valid choice."),
        ({"email": "not-an-email"}, "update_contact.email: Enter a valid email address."),
        ("{{trigger.nothing}}", "update_contact.fields must be a non-empty mapping"),
    ],
)
def test_update_contact_refuses_unknown_fields_and_bad_values(tenant, contact, run, fields, error):
    step = {"id": "upd", "type": "update_contact", "config": {"fields": fields}}
    enrollment = run(tenant, contact, [step])
    assert enrollment.status == Enrollment.Status.FAILED
    assert error in log_of(enrollment, "upd").error_message
    contact.refresh_from_db()
    assert contact.stage == "lead"


def test_create_lead_creates_a_contact_with_the_lead_stage(tenant, contact, run):
    step = {
        "id": "lead",
        "type": "create_lead",
        "config": {
            "name": "{{trigger.name}}",
            "email": "{{trigger.email}}",
            "phone": "+4930999",
            "source": "webinar",
        },
    }
    enrollment = run(
        tenant, contact, [step], trigger={"name": "Bo Berg Jr", "email": "bo@example.com"}
    )
    lead = Contact.objects.get(email="bo@example.com")
    assert (lead.first_name, lead.last_name, lead.stage, lead.source, lead.tenant_id) == (
        "Bo",
        "Berg Jr",
        "lead",
        "webinar",
        tenant.pk,
    )
    assert enrollment.context["steps"]["lead"] == {"lead_id": lead.pk, "created": True}


def test_create_lead_finds_an_existing_contact_by_email_then_phone(tenant, contact, run):
    by_email = {
        "id": "a",
        "type": "create_lead",
        "config": {"name": "X", "email": "ANN@example.com"},
    }
    by_phone = {
        "id": "b",
        "type": "create_lead",
        "config": {"name": "X", "phone": "+4915100000001"},
    }
    enrollment = run(tenant, contact, [by_email, by_phone])
    assert Contact.objects.count() == 1
    assert enrollment.context["steps"]["a"] == {"lead_id": contact.pk, "created": False}
    assert enrollment.context["steps"]["b"] == {"lead_id": contact.pk, "created": False}


def test_create_lead_does_not_find_contacts_of_another_tenant(tenant, contact, run):
    outsider_tenant = make_tenant()
    make_contact(outsider_tenant, email="bo@example.com")
    step = {
        "id": "lead",
        "type": "create_lead",
        "config": {"name": "Bo", "email": "bo@example.com"},
    }
    enrollment = run(tenant, contact, [step])
    assert enrollment.context["steps"]["lead"]["created"] is True
    assert Contact.objects.filter(email="bo@example.com", tenant=tenant).exists()


def test_update_lead_by_templated_id(tenant, contact, run):
    lead = make_contact(tenant, stage="lead")
    step = {
        "id": "upd",
        "type": "update_lead",
        "config": {"leadId": "{{trigger.leadId}}", "updates": {"stage": "qualified"}},
    }
    enrollment = run(tenant, contact, [step], trigger={"leadId": str(lead.pk)})
    lead.refresh_from_db()
    assert lead.stage == "qualified"
    assert enrollment.context["steps"]["upd"] == {"lead_id": lead.pk, "updated": ["stage"]}


@pytest.mark.parametrize(
    ("lead_id", "error"), [("abc", "not a record id"), ("OTHER", "does not exist")]
)
def test_update_lead_refuses_bad_or_foreign_ids(tenant, contact, run, lead_id, error):
    foreign = make_contact(make_tenant())
    lead_id = str(foreign.pk) if lead_id == "OTHER" else lead_id
    step = {
        "id": "upd",
        "type": "update_lead",
        "config": {"lead_id": lead_id, "updates": {"stage": "customer"}},
    }
    enrollment = run(tenant, contact, [step])
    assert error in log_of(enrollment, "upd").error_message
    foreign.refresh_from_db()
    assert foreign.stage == "lead"


def test_schedule_follow_up_creates_a_task_due_after_the_delay(tenant, contact, run, frozen):
    step = {
        "id": "follow",
        "type": "schedule_follow_up",
        "config": {"delay": "2d", "message": "Call {{contact.first_name}} back"},
    }
    enrollment = run(tenant, contact, [step])
    task = Task.objects.get()
    assert (task.title, task.contact_id, task.tenant_id) == ("Call Ann back", contact.pk, tenant.pk)
    assert task.due_at == START + timedelta(days=2)
    assert enrollment.context["steps"]["follow"]["task_id"] == task.pk


def test_schedule_follow_up_refuses_a_bad_delay(tenant, contact, run):
    step = {"id": "f", "type": "schedule_follow_up", "config": {"delay": "soon", "message": "x"}}
    enrollment = run(tenant, contact, [step])
    assert log_of(enrollment, "f").error_message.startswith("schedule_follow_up.delay:")
    assert not Task.objects.exists()


def test_create_record_makes_a_registered_model_row_for_the_contact(tenant, contact, run):
    step = {
        "id": "book",
        "type": "create_record",
        "config": {
            "model": "crm.Booking",
            "fields": {"title": "Intro call", "starts_at": "2026-03-05T10:00:00"},
        },
    }
    enrollment = run(tenant, contact, [step])
    booking = Booking.objects.get()
    assert (booking.title, booking.contact_id, booking.tenant_id) == (
        "Intro call",
        contact.pk,
        tenant.pk,
    )
    assert booking.starts_at.isoformat() == "2026-03-05T10:00:00+00:00"
    assert enrollment.context["steps"]["book"] == {"model": "crm.Booking", "record_id": booking.pk}


def test_update_record_changes_a_row_of_this_tenant(tenant, contact, run):
    task = Task.objects.create(tenant=tenant, contact=contact, title="Old", due_at=START)
    step = {
        "id": "upd",
        "type": "update_record",
        "config": {"model": "task", "record_id": "{{trigger.task}}", "fields": {"status": "done"}},
    }
    enrollment = run(tenant, contact, [step], trigger={"task": task.pk})
    task.refresh_from_db()
    assert task.status == "done"
    assert enrollment.context["steps"]["upd"]["updated"] == ["status"]


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (
            {"model": "auth.User", "fields": {"is_superuser": True}},
            "model 'auth.User' is not open to workflows",
        ),
        (
            {"model": "crm.Tenant", "fields": {"name": "x"}},
            "model 'crm.Tenant' is not open to workflows",
        ),
        (
            {"model": "crm.Task", "fields": {"assigned_to": 1}},
            "crm.Task.assigned_to is not open to workflows",
        ),
        ({"model": "crm.Task", "fields": {"due_at": "next week"}}, "crm.Task.due_at:"),
        (
            {"model": "crm.Task", "fields": {"due_at": "2026-03-05T10:00:00Z"}},
            "title: This field cannot be blank.",
        ),
        (
            {
                "model": "crm.Task",
                "fields": {"title": "x", "due_at": "2026-03-05", "contact": "FOREIGN"},
            },
            "no crm.Contact with id",
        ),
    ],
)
def test_create_record_refuses_what_the_registry_does_not_expose(
    tenant, contact, run, config, error
):
    foreign = make_contact(make_tenant())
    fields = {k: (foreign.pk if v == "FOREIGN" else v) for k, v in config["fields"].items()}
    step = {"id": "rec", "type": "create_record", "config": {**config, "fields": fields}}
    enrollment = run(tenant, contact, [step])
    assert enrollment.status == Enrollment.Status.FAILED
    assert error in log_of(enrollment, "rec").error_message
    assert not Task.objects.exists()


def test_update_record_cannot_reach_another_tenants_row(tenant, contact, run):
    other = make_tenant()
    task = Task.objects.create(tenant=other, title="Theirs", due_at=START)
    step = {
        "id": "upd",
        "type": "update_record",
        "config": {"model": "task", "record_id": task.pk, "fields": {"title": "Mine"}},
    }
    enrollment = run(tenant, contact, [step])
    assert (
        f"no crm.Task with id {task.pk} in this tenant" in log_of(enrollment, "upd").error_message
    )
    task.refresh_from_db()
    assert task.title == "Theirs"


def test_the_registry_is_a_setting(tenant, contact, run, settings):
    settings.STUDIO_RECORD_MODELS = {"booking": {"model": "crm.Booking", "fields": ["title"]}}
    step = {
        "id": "rec",
        "type": "create_record",
        "config": {"model": "task", "fields": {"title": "x"}},
    }
    enrollment = run(tenant, contact, [step])
    assert "(registered: booking)" in log_of(enrollment, "rec").error_message
