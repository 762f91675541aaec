"""End to end with a real Celery worker process, PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from crm.models import Message
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import listening
from tests.triggers.test_webhooks import post
from workflows.models import Enrollment, ScheduledAction

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def started(workflow, contact):
    """The enrollment once the worker has also run its first step (a wait, so it rests)."""
    return ScheduledAction.objects.filter(
        enrollment__workflow=workflow, enrollment__contact=contact
    ).first()


def test_a_created_contact_is_enrolled_by_the_worker(
    require_postgres, require_redis, transactional_db, e2e_worker
):
    tenant = make_tenant()
    workflow = listening(tenant, "contact_created")

    with e2e_worker.dispatching():
        contact = make_contact(tenant)

    action = e2e_worker.wait_for(lambda: started(workflow, contact))
    assert action.enrollment.status == "waiting"


def test_an_inbound_message_is_enrolled_by_the_worker(
    require_postgres, require_redis, transactional_db, e2e_worker
):
    tenant = make_tenant()
    workflow = listening(tenant, "whatsapp_message")
    contact = make_contact(tenant)

    with e2e_worker.dispatching():
        Message.objects.create(
            tenant=tenant, contact=contact, channel="whatsapp", direction="inbound", body="Hallo"
        )

    e2e_worker.wait_for(lambda: started(workflow, contact))
    assert Enrollment.objects.get(workflow=workflow).context["trigger"]["content"] == "Hallo"


def test_a_signed_webhook_is_enrolled_by_the_worker(
    require_postgres, require_redis, transactional_db, e2e_worker, client
):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook")
    contact = make_contact(tenant, email="hook@example.com")

    with e2e_worker.dispatching():
        response = post(client, workflow, {"email": "hook@example.com"}, delivery="e2e-1")

    assert response.status_code == 202
    e2e_worker.wait_for(lambda: started(workflow, contact))
