"""What a new user sees: seed_demo twice, then the printed login opens the studio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command

from crm.models import Booking, Contact, Message, Tenant
from engine.runtime import queue
from engine.triggers.manual import manual_enroll
from prompts.models import Prompt
from tests.engine.conftest import InlineQueue
from workflows.dashboard import ab_results
from workflows.models import Enrollment, ScheduledAction, StepLog, Workflow

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LIVE_NAMES = [
    "After Hours Auto-Reply",
    "Missed Call Follow-Up",
    "Training Plan Request",
    "Welcome Offer A/B Test",
]


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
    assert sorted(published.values_list("name", flat=True)) == LIVE_NAMES
    assert "  Missed Call Follow-Up (live)" in first


def test_examples_that_loop_or_call_outside_hosts_are_seeded_as_drafts_saying_why():
    output = seed()
    drafts = Workflow.objects.filter(tenant__slug="demo", status="draft")
    assert sorted(drafts.values_list("name", flat=True)) == [
        "Lead Qualification Webhook",
        "New Lead Nurture",
    ]
    assert "New Lead Nurture (draft: its dry-run for Anna Fischer fails: step " in output
    assert "reached the visit limit of 50 (a loop?))" in output
    assert (
        "Lead Qualification Webhook (draft: step 'webhook-1' calls "
        "https://crm.example.com/api/leads, which the offline demo cannot reach)"
    ) in output


def test_the_demos_live_workflows_complete_for_every_demo_contact():
    """Live engine, demo data: every contact enrolled in every live workflow, clock run on."""
    inline = InlineQueue()
    with time_machine.travel(START, tick=False), queue.use_dispatcher(inline):
        seed()
        tenant = Tenant.objects.get(slug="demo")
        live = list(Workflow.objects.filter(tenant=tenant, status="active"))
        for workflow in live:
            manual_enroll(workflow=workflow, everyone=True, by="test")
        inline.drain()
    for hour in range(1, 24 * 14):  # two weeks, an hour at a time: every wait comes due
        if not Enrollment.objects.filter(status__in=Enrollment.LIVE_STATUSES).exists():
            break
        later = time_machine.travel(START + timedelta(hours=hour), tick=False)
        with later, queue.use_dispatcher(inline):
            inline.tick()
    contacts = Contact.objects.filter(tenant=tenant).count()
    enrollments = Enrollment.objects.filter(workflow__in=live)
    assert enrollments.count() == contacts * len(LIVE_NAMES)
    assert sorted(set(enrollments.values_list("status", flat=True))) == ["completed"]
    assert not StepLog.objects.filter(status=StepLog.Status.FAILED).exists()


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


def test_the_printed_login_can_make_its_own_api_token_as_docs_api_says(client):
    seed()
    assert client.login(username="demo", password="studio-demo")
    assert client.get("/admin/api/apitoken/").status_code == 200
    demo = get_user_model().objects.get(username="demo")
    page = client.post(
        "/admin/api/apitoken/add/",
        {"user": demo.pk, "name": "builder", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )
    assert page.status_code == 200
    assert "Copy its key now" in page.content.decode()


def test_the_demo_has_a_live_ab_test_with_a_finished_past_on_the_dashboard(client):
    output = seed()
    tenant = Tenant.objects.get(slug="demo")
    ab = Workflow.objects.get(tenant=tenant, name="Welcome Offer A/B Test")
    assert ab.status == "active"
    assert "Welcome Offer A/B Test: 12 finished runs, 6 met the goal" in output
    rows = ab_results(tenant=tenant)
    assert {r["variant"] for r in rows} == {"discount", "trial"}
    assert sum(r["enrolled"] for r in rows) == 12
    assert sum(r["converted"] for r in rows) == 6
    assert all(r["enrolled"] > 0 for r in rows)
    # Clean: nothing live, nothing failed, nothing due, nothing sent by the history.
    assert not Enrollment.objects.filter(status__in=Enrollment.LIVE_STATUSES).exists()
    assert not StepLog.objects.filter(status=StepLog.Status.FAILED).exists()
    assert not ScheduledAction.objects.exists()
    assert not Message.objects.filter(direction="out").exists()
    seed()  # a second run adds no second past
    assert Enrollment.objects.filter(workflow=ab).count() == 12
    assert client.login(username="demo", password="studio-demo")
    panel = client.get("/admin/").content.decode().split('id="studio-ab"')[1].split("</table>")[0]
    assert "Welcome Offer A/B Test · offer_split" in panel
    assert "discount" in panel
    assert "trial" in panel
    assert "No A/B steps published" not in panel
