"""Retrying the step a failed enrollment stopped at: admin button, API, exactly once, refusals."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.services import api_token_create
from crm.models import Contact, Direction, Message
from engine.effects.channels.base import ChannelBackend, ChannelError, SendResult
from engine.handlers.base import StepFailed, StepHandler, StepResult, register
from engine.runtime import queue
from engine.runtime.enrollment import enrollment_create
from engine.runtime.flow import forget_flows
from tests.cast import make_contact, make_published, make_tenant
from tests.engine.conftest import InlineQueue
from tests.studio.cast import studio_staff
from workflows.models import Enrollment, SideEffect, StepLog, WorkflowVersion
from workflows.services import workflow_pause, workflow_resume

pytestmark = pytest.mark.usefixtures("require_postgres")


class Provider(ChannelBackend):
    """The SMS provider at the edge: refuses every send while ``broken``; counts every call."""

    name = "test-provider"
    broken = False
    calls: list[str] = []  # the idempotency key of every call that reached the provider
    delivered: list[str] = []

    def send_message(self, message):
        Provider.calls.append(message.idempotency_key)
        if Provider.broken:
            raise ChannelError("21211 invalid 'To' phone number")
        Provider.delivered.append(message.body)
        return SendResult(
            provider_id=f"sm-{len(Provider.delivered)}", status="sent", provider=self.name, raw={}
        )


@register
class SendThenCheckHandler(StepHandler):
    """Sends a text, then fails while the contact is marked ``hold`` (the cause to fix)."""

    kind = "test_send_then_check"

    def handle(self, ctx, step):
        sent = ctx.services.outbound.send_message(
            ctx=ctx, step_id=step["id"], channel="sms", to="+15550001", body="once only"
        )
        if ctx.data["contact"]["custom_fields"].get("hold"):
            raise StepFailed("the CRM refused the follow-up: contact on hold")
        return StepResult(output={"sent": sent["message_id"]})


SMS_FLOW = {
    "name": "Greet",
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "hello", "type": "send_sms", "config": {"message": "Hi {{contact.first_name}}"}},
        {"id": "tag_it", "type": "add_tag", "config": {"tag": "greeted"}},
    ],
}


@pytest.fixture(autouse=True)
def provider(settings):
    settings.STUDIO_CHANNEL_BACKENDS = {"default": f"{__name__}.Provider"}
    Provider.broken, Provider.calls, Provider.delivered = False, [], []
    return Provider


@pytest.fixture
def worker():
    inline = InlineQueue()
    with queue.use_dispatcher(inline):
        yield inline


@pytest.fixture
def tenant():
    return make_tenant("retry-co")


def failed_enrollment(tenant, worker, definition=SMS_FLOW, **contact_fields) -> Enrollment:
    workflow = make_published(tenant, definition)
    contact = make_contact(tenant, first_name="Ann", **contact_fields)
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    worker.drain()
    enrollment.refresh_from_db()
    assert enrollment.status == "failed", enrollment.error
    return enrollment


def api_as(tenant, role: str) -> APIClient:
    client = APIClient()
    user = studio_staff(tenant, role=role)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t').key}")
    return client


def test_fix_the_provider_retry_in_the_admin_and_the_enrollment_completes(
    client, tenant, worker, provider
):
    provider.broken = True
    enrollment = failed_enrollment(tenant, worker)
    assert enrollment.current_step == "hello"
    assert "21211" in enrollment.error
    client.force_login(studio_staff(tenant, role="editor"))
    page = client.get(f"/admin/workflows/enrollment/{enrollment.pk}/change/").content.decode()
    assert "Retry the failed step" in page

    provider.broken = False  # the cause is fixed
    response = client.post(f"/admin/workflows/enrollment/{enrollment.pk}/retry/", follow=True)
    assert "Retrying step &#x27;hello&#x27; (attempt 2)" in response.content.decode()
    worker.drain()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.error) == ("completed", "")
    logs = list(StepLog.objects.filter(enrollment=enrollment, step_id="hello").order_by("id"))
    assert [(log.status, log.attempt, log.visit) for log in logs] == [
        ("failed", 1, 1),
        ("succeeded", 2, 1),
    ]
    # Both attempts used the step's one idempotency key; one text went out and was recorded.
    assert provider.calls == [f"enr{enrollment.pk}:hello:1"] * 2
    assert provider.delivered == ["Hi Ann"]
    assert (
        Message.objects.filter(contact=enrollment.contact, direction=Direction.OUTBOUND).count()
        == 1
    )
    assert enrollment.contact.tags.filter(name="greeted").exists()
    page = client.get(f"/admin/workflows/enrollment/{enrollment.pk}/change/").content.decode()
    assert "completed: reached the end of the workflow" in page
    assert "21211 invalid" in page  # the failed attempt stays on the timeline
    assert "Retry the failed step" not in page


def test_a_side_effect_that_happened_is_not_sent_again_on_retry(tenant, worker, provider):
    flow = {
        "name": "Send then check",
        "trigger": {"type": "manual"},
        "steps": [{"id": "send", "type": "test_send_then_check", "config": {}}],
    }
    enrollment = failed_enrollment(tenant, worker, flow, custom_fields={"hold": True})
    assert provider.delivered == ["once only"]
    key = f"enr{enrollment.pk}:send:1"
    assert SideEffect.objects.get(key=key).status == SideEffect.Status.DONE

    Contact.objects.filter(pk=enrollment.contact_id).update(custom_fields={})  # fix the cause
    editor = api_as(tenant, "editor")
    response = editor.post(f"/api/enrollments/{enrollment.pk}/retry")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "active"
    assert response.json()["retry"] == {"step_id": "send", "attempt": 2, "held": False}
    worker.drain()

    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    assert provider.calls == [key]  # replayed from the stored result, not sent twice
    assert provider.delivered == ["once only"]
    assert enrollment.context["steps"]["send"] == {"sent": "sm-1"}
    attempts = StepLog.objects.filter(enrollment=enrollment).order_by("id")
    assert [(log.status, log.attempt) for log in attempts] == [("failed", 1), ("succeeded", 2)]


def test_retry_of_an_enrollment_that_is_not_failed_is_refused(tenant, worker, client):
    workflow = make_published(tenant, SMS_FLOW)
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    worker.drain()
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"

    response = api_as(tenant, "editor").post(f"/api/enrollments/{enrollment.pk}/retry")
    assert response.status_code == 409
    assert response.json()["code"] == "retry_refused"
    assert "is completed, not failed" in response.json()["message"]

    client.force_login(studio_staff(tenant, role="editor"))
    page = client.post(f"/admin/workflows/enrollment/{enrollment.pk}/retry/", follow=True)
    assert page.status_code == 200
    assert "Not retried: enrollment" in page.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"


def test_a_viewer_cannot_retry(tenant, worker, client, provider):
    provider.broken = True
    enrollment = failed_enrollment(tenant, worker)
    provider.broken = False
    response = api_as(tenant, "viewer").post(f"/api/enrollments/{enrollment.pk}/retry")
    assert response.status_code == 403
    assert "needs editor" in response.json()["message"]

    client.force_login(studio_staff(tenant, role="viewer"))
    page = client.get(f"/admin/workflows/enrollment/{enrollment.pk}/change/").content.decode()
    response = client.post(f"/admin/workflows/enrollment/{enrollment.pk}/retry/", follow=True)
    assert "Retrying needs the editor role." in response.content.decode()
    worker.drain()
    enrollment.refresh_from_db()
    assert enrollment.status == "failed"
    assert len(provider.calls) == 1
    assert "Retry the failed step" in page  # shown, but the server refuses the role


def test_retry_is_refused_when_the_version_no_longer_has_the_step(tenant, worker, provider):
    provider.broken = True
    enrollment = failed_enrollment(tenant, worker)
    without = {**SMS_FLOW, "steps": SMS_FLOW["steps"][1:]}
    WorkflowVersion.objects.filter(pk=enrollment.version_id).update(definition=without)
    forget_flows()
    response = api_as(tenant, "owner").post(f"/api/enrollments/{enrollment.pk}/retry")
    assert response.status_code == 409
    assert "no longer has step 'hello'" in response.json()["message"]
    enrollment.refresh_from_db()
    assert enrollment.status == "failed"


def test_a_retry_on_a_paused_workflow_waits_for_resume(tenant, worker, provider):
    provider.broken = True
    enrollment = failed_enrollment(tenant, worker)
    provider.broken = False
    workflow_pause(workflow=enrollment.workflow)
    response = api_as(tenant, "editor").post(f"/api/enrollments/{enrollment.pk}/retry")
    assert response.json()["retry"]["held"] is True
    worker.drain()
    assert provider.delivered == []
    workflow_resume(workflow=enrollment.workflow)
    worker.tick()
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    assert provider.delivered == ["Hi Ann"]
    assert StepLog.objects.filter(enrollment=enrollment, attempt=2, status="succeeded").exists()
