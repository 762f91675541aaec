"""Manual enrollment from the service, the `enroll` command and the admin action."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engine.runtime.enrollment import EnrollmentRefused
from engine.triggers.manual import ManualEnrollError, manual_enroll
from tests.cast import make_contact, make_staff, make_tenant
from tests.triggers.helpers import enrolled, listening, trigger_of
from workflows.services import workflow_pause

pytestmark = pytest.mark.django_db
VIP = [{"field": "tags", "operator": "contains", "value": "vip"}]


@pytest.fixture
def crowd():
    tenant = make_tenant(slug="studio")
    workflow = listening(tenant, "manual", name="Welcome")
    vips = [make_contact(tenant, tags=["vip"]) for _ in range(2)]
    others = [make_contact(tenant) for _ in range(2)]
    return tenant, workflow, vips, others


def test_chosen_contacts_are_enrolled_and_repeats_skipped(crowd):
    _tenant, workflow, vips, others = crowd

    first = manual_enroll(workflow=workflow, contact_ids=[vips[0].pk, vips[0].pk], by="ann")
    second = manual_enroll(workflow=workflow, contact_ids=[vips[0].pk, others[0].pk])

    assert (first.selected, first.enrolled) == (1, 1)
    assert (second.selected, second.enrolled, second.skipped) == (2, 1, 1)
    assert trigger_of(workflow, vips[0])["by"] == "ann"
    assert trigger_of(workflow, vips[0])["type"] == "manual"


def test_a_filtered_set_or_everyone_can_be_enrolled(crowd):
    _tenant, workflow, vips, _others = crowd

    assert manual_enroll(workflow=workflow, filters=VIP).enrolled == 2
    assert sorted(enrolled(workflow)) == sorted(c.pk for c in vips)
    assert manual_enroll(workflow=workflow, everyone=True).enrolled == 2


def test_a_selection_must_be_exactly_one_kind(crowd):
    _tenant, workflow, vips, _others = crowd

    with pytest.raises(ManualEnrollError, match="choose exactly one"):
        manual_enroll(workflow=workflow)
    with pytest.raises(ManualEnrollError, match="choose exactly one"):
        manual_enroll(workflow=workflow, contact_ids=[vips[0].pk], everyone=True)


def test_contacts_of_another_tenant_are_refused(crowd):
    _tenant, workflow, _vips, _others = crowd
    stranger = make_contact(make_tenant())

    with pytest.raises(
        ManualEnrollError,
        match=f"contacts not found in tenant of workflow 'Welcome': {stranger.pk}",
    ):
        manual_enroll(workflow=workflow, contact_ids=[stranger.pk])


def test_a_paused_workflow_refuses_manual_enrollment(crowd):
    _tenant, workflow, vips, _others = crowd
    workflow_pause(workflow=workflow)

    with pytest.raises(EnrollmentRefused, match="is paused, not active"):
        manual_enroll(workflow=workflow, contact_ids=[vips[0].pk])


def run(*args):
    out = StringIO()
    call_command("enroll", *args, stdout=out)
    return out.getvalue()


def test_the_enroll_command_takes_a_contact_a_filter_or_all(crowd):
    _tenant, workflow, _vips, others = crowd

    assert run("Welcome", "--tenant", "studio", "--contact", str(others[0].pk)) == (
        "enrolled 1 of 1 contacts in 'Welcome' (0 already in)\n"
    )
    assert run("Welcome", "--tenant", "studio", "--filter", json.dumps(VIP)).startswith(
        "enrolled 2 of 2"
    )
    assert run(str(workflow.pk), "--tenant", "studio", "--all") == (
        "enrolled 1 of 4 contacts in 'Welcome' (3 already in)\n"
    )
    assert trigger_of(workflow, others[0])["via"] == "command"


def test_the_enroll_command_names_what_is_wrong(crowd):
    with pytest.raises(CommandError, match="--filter is not valid JSON"):
        run("Welcome", "--tenant", "studio", "--filter", "{nope")
    with pytest.raises(CommandError, match="unknown operator 'resembles'"):
        run(
            "Welcome",
            "--tenant",
            "studio",
            "--filter",
            '[{"field": "tags", "operator": "resembles"}]',
        )
    with pytest.raises(CommandError, match="contacts not found"):
        run("Welcome", "--tenant", "studio", "--contact", "999999")


def changelist_post(client, contacts, follow=False, **extra):
    data = {"action": "enroll_in_workflow", "_selected_action": [c.pk for c in contacts], **extra}
    return client.post("/admin/crm/contact/", data, follow=follow)


def test_the_admin_action_asks_for_a_workflow_then_enrolls(client, crowd):
    tenant, workflow, vips, _others = crowd
    listening(tenant, "manual", name="Paused one").__class__.objects.filter(
        name="Paused one"
    ).update(status="paused")
    client.force_login(make_staff(tenant, is_superuser=True))

    page = changelist_post(client, vips)
    assert page.status_code == 200
    assert b"Enroll contacts in a workflow" in page.content
    assert b"Welcome" in page.content
    assert b"Paused one" not in page.content

    done = changelist_post(client, vips, apply="1", workflow=workflow.pk)
    assert done.status_code == 302
    assert sorted(enrolled(workflow)) == sorted(c.pk for c in vips)
    messages = [str(m) for m in done.wsgi_request._messages]
    assert messages == ["Enrolled 2 of 2 contacts in 'Welcome' (0 were already in it)."]
    assert trigger_of(workflow, vips[0])["via"] == "admin"


def test_the_admin_action_refuses_contacts_of_two_tenants(client, crowd):
    tenant, _workflow, vips, _others = crowd
    stranger = make_contact(make_tenant())
    client.force_login(make_staff(tenant, is_superuser=True))

    response = changelist_post(client, [vips[0], stranger], follow=True)

    assert b"Select contacts of one tenant" in response.content


def test_the_admin_action_reports_a_workflow_paused_meanwhile(client, crowd):
    tenant, workflow, vips, _others = crowd
    client.force_login(make_staff(tenant, is_superuser=True))
    form_page = changelist_post(client, vips)
    assert form_page.status_code == 200
    workflow.__class__.objects.filter(pk=workflow.pk).update(status="paused")

    response = changelist_post(client, vips, apply="1", workflow=workflow.pk)

    assert response.status_code == 200  # the picker again: the workflow is no longer a choice
    assert enrolled(workflow) == []


def test_bulk_snapshots_match_the_adapters_own(crowd):
    from engine.effects.contacts import contact_adapter
    from engine.triggers.audience import snapshots

    _tenant, _workflow, vips, others = crowd
    contacts = [type(vips[0]).objects.get(pk=c.pk) for c in vips + others]

    assert snapshots(contacts) == [contact_adapter().snapshot(c) for c in contacts]


def test_streamed_row_snapshots_are_the_adapters_own_for_every_kind_of_contact(crowd):
    # A filtered schedule reads the bundled CRM's contacts as rows (no model instances): each
    # snapshot must be exactly what the adapter makes of the contact, field by field.
    from engine.effects.contacts import contact_adapter
    from engine.triggers.audience import _snapshot_stream

    tenant, _workflow, vips, others = crowd
    # Another tenant's tagged contact whose id falls among this tenant's: neither it nor its
    # tags are streamed (a chunk's tags are read for its own ids only).
    make_contact(make_tenant(slug="between"), tags=["stranger", "vip"])
    odd = [
        make_contact(
            tenant,
            tags=["b", "a", "vip"],
            first_name="",
            last_name="Solo",
            custom_fields={"plan": {"tier": 2}, "n": [1, None]},
            email_opt_out=True,
            voice_opt_out=True,
            stage="customer",
            timezone="Europe/Berlin",
        ),
        make_contact(tenant, first_name="Two Words", last_name="", phone="", email=""),
    ]
    make_contact(make_tenant(slug="elsewhere"))  # another tenant's contact is not streamed
    contacts = sorted(vips + others + odd, key=lambda c: c.pk)

    streamed = list(_snapshot_stream(tenant.pk))

    adapter = contact_adapter()
    expected = [(c.pk, adapter.snapshot(type(c).objects.get(pk=c.pk))) for c in contacts]
    assert streamed == expected
    assert streamed[-2][1]["tags"] == ["a", "b", "vip"]
    assert streamed[-2][1]["opted_out"] == {
        "email": True, "sms": False, "whatsapp": False, "voice": True
    }  # fmt: skip
