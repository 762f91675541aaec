"""The enrollment page: a read-only timeline, exit with a reason, skip the wait."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm.models import Contact
from tests.cast import make_contact
from tests.studio.cast import populate, studio_staff
from workflows.models import EnrollJob, Enrollment, ScheduledAction, StepLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(client):
    made = populate("Alpha")
    made["enrollment"] = Enrollment.objects.get(workflow=made["workflow"])
    StepLog.objects.filter(enrollment=made["enrollment"]).update(
        input_context={"duration": "1h"}, token_usage=42, duration_ms=7
    )
    client.force_login(studio_staff(made["tenant"]))
    return made


def page_of(client, enrollment) -> str:
    return client.get(f"/admin/workflows/enrollment/{enrollment.pk}/change/").content.decode()


def test_the_timeline_shows_each_step_log_with_input_tokens_and_duration(client, shop):
    page = page_of(client, shop["enrollment"])
    assert "Timeline" in page
    assert "Alpha_wait" in page
    assert "&quot;duration&quot;: &quot;1h&quot;" in page
    assert "42" in page
    assert "7 ms" in page
    assert "Why it entered" in page
    assert 'name="status"' not in page  # read-only: no form fields to edit


def test_exit_with_a_reason_goes_through_the_engine(client, shop):
    enrollment = shop["enrollment"]
    url = f"/admin/workflows/enrollment/{enrollment.pk}/exit/"
    assert "Reason" in client.get(url).content.decode()
    client.post(url, {"reason": "asked to stop"})
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "asked to stop")
    assert "exited: asked to stop" in page_of(client, enrollment)


def test_skip_wait_makes_the_pending_resume_due_now(client, shop):
    enrollment = shop["enrollment"]
    before = timezone.now()
    client.post(f"/admin/workflows/enrollment/{enrollment.pk}/skip-wait/")
    action = ScheduledAction.objects.get(enrollment=enrollment)
    assert action.due_at <= timezone.now()
    assert action.due_at >= before


def test_skip_wait_on_a_finished_enrollment_says_why_not(client, shop):
    enrollment = shop["enrollment"]
    Enrollment.objects.filter(pk=enrollment.pk).update(status="completed")
    response = client.post(f"/admin/workflows/enrollment/{enrollment.pk}/skip-wait/", follow=True)
    assert "not waiting; nothing to skip" in response.content.decode()


def test_a_viewer_cannot_exit(client, shop):
    enrollment = shop["enrollment"]
    client.force_login(studio_staff(shop["tenant"], role="viewer"))
    client.post(f"/admin/workflows/enrollment/{enrollment.pk}/exit/", {"reason": "x"})
    enrollment.refresh_from_db()
    assert enrollment.status == "waiting"


def test_the_contact_page_lists_its_enrollments_and_messages(client, shop):
    contact = shop["contact"]
    page = client.get(f"/admin/crm/contact/{contact.pk}/change/").content.decode()
    assert "Alpha flow" in page
    assert "Alpha hello" in page
    assert f"/admin/workflows/enrollment/{shop['enrollment'].pk}/change/" in page


def test_a_large_bulk_enroll_runs_in_the_background_with_its_progress_shown(client, shop, settings):
    settings.STUDIO_API_ENROLL_INLINE_MAX = 2
    for _ in range(3):
        make_contact(shop["tenant"])
    ids = list(Contact.objects.filter(tenant=shop["tenant"]).values_list("pk", flat=True))
    response = client.post(
        "/admin/crm/contact/",
        {"action": "enroll_in_workflow", "_selected_action": ids, "apply": "1",
         "workflow": shop["workflow"].pk},
        follow=True,
    )  # fmt: skip
    job = EnrollJob.objects.filter(workflow=shop["workflow"]).order_by("-pk").first()
    assert job.total == len(ids)
    assert "in the background" in response.content.decode()
    page = client.get(f"/admin/workflows/enrolljob/{job.pk}/change/").content.decode()
    assert f"0 of {len(ids)} (0%)" in page
