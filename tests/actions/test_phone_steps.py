"""Steps that send to or store a phone number use E.164 in the tenant's default region."""

from __future__ import annotations

import pytest

from crm.models import Contact
from engine.effects.channels import locmem
from engine.effects.contract import StepContext, StepFailed
from engine.effects.dry_services import DryCrm
from tests.actions.conftest import log_of
from tests.cast import make_contact, make_tenant
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db


@pytest.fixture
def us_tenant(db):
    return make_tenant(phone_region="US")


@pytest.mark.parametrize("kind", ["send_sms", "send_whatsapp"])
def test_an_explicit_national_recipient_is_sent_to_in_e164(us_tenant, run, kind):
    contact = make_contact(us_tenant)
    step = {"id": "s", "type": kind, "config": {"message": "Hi", "recipient": "(555) 010-0199"}}
    run(us_tenant, contact, [step])
    [sent] = locmem.outbox
    assert sent.to == "+15550100199"


def test_a_call_recipient_is_placed_in_e164(us_tenant, run):
    contact = make_contact(us_tenant)
    step = {
        "id": "ring",
        "type": "send_message",
        "config": {"message": "Hello", "channel": "voice", "recipient": "555-010-0199"},
    }
    run(us_tenant, contact, [step])
    [call] = locmem.outbox
    assert call.to == "+15550100199"


def test_an_unreadable_recipient_fails_the_step_naming_it(us_tenant, run):
    contact = make_contact(us_tenant)
    step = {"id": "s", "type": "send_sms", "config": {"message": "Hi", "recipient": "front desk"}}
    enrollment = run(us_tenant, contact, [step])
    assert enrollment.status == Enrollment.Status.FAILED
    assert (
        "send_sms.recipient: 'front desk' is not a phone number"
        in log_of(enrollment, "s").error_message
    )
    assert locmem.outbox == []


def test_create_lead_finds_the_contact_by_a_differently_written_phone(us_tenant, run):
    contact = make_contact(us_tenant, phone="+15550100199")
    step = {"id": "lead", "type": "create_lead", "config": {"name": "X", "phone": "(555) 010-0199"}}
    enrollment = run(us_tenant, contact, [step])
    assert enrollment.context["steps"]["lead"] == {"lead_id": contact.pk, "created": False}
    assert Contact.objects.filter(tenant=us_tenant).count() == 1


def test_create_lead_with_an_unreadable_phone_fails_instead_of_creating(us_tenant, run):
    contact = make_contact(us_tenant)
    step = {"id": "lead", "type": "create_lead", "config": {"name": "X", "phone": "n/a"}}
    enrollment = run(us_tenant, contact, [step])
    assert enrollment.status == Enrollment.Status.FAILED
    assert (
        "create_lead.phone: 'n/a' is not a phone number" in log_of(enrollment, "lead").error_message
    )
    assert Contact.objects.filter(tenant=us_tenant).count() == 1


def test_update_contact_stores_the_phone_in_e164(us_tenant, run):
    contact = make_contact(us_tenant)
    step = {"id": "u", "type": "update_contact", "config": {"fields": {"phone": "555.010.0177"}}}
    run(us_tenant, contact, [step])
    contact.refresh_from_db()
    assert contact.phone == "+15550100177"


def test_the_dry_run_normalises_phones_the_same_way(us_tenant):
    crm = DryCrm({"id": 7, "phone": "+15550100199"})
    ctx = StepContext(
        data={},
        now=None,
        tenant_id=us_tenant.pk,
        enrollment_id=None,
        contact_id=7,
        workflow_settings={},
        visit=1,
        services=None,
        successor="",
        render_value=lambda value: value,
    )
    found = crm.create_lead(
        ctx=ctx, step_id="lead", name="X", email="", phone="(555) 010-0199", source=""
    )
    assert found == {"lead_id": 7, "created": False}
    crm.update_contact(ctx=ctx, step_id="u", fields={"phone": "555 010 0123"})
    assert crm.contact["phone"] == "+15550100123"
    with pytest.raises(StepFailed, match=r"update_contact\.phone: 'x' is not a phone number"):
        crm.update_contact(ctx=ctx, step_id="u", fields={"phone": "x"})
