"""A webhook request on a token seen before skips reading its workflow, and loses nothing.

The process remembers the workflow row each token read (with its version: PostgreSQL's ``xmin`` and ``ctid``); the next
request records its delivery only if the row is still as it was, in the same statement, and
decides anything else from the row again — so a new secret, a pause, a deletion or a new
version take effect at the very next request.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.models import WebhookDelivery
from engine.triggers import webhooks
from tests.cast import make_contact, make_tenant, publish_raw
from tests.triggers.helpers import listening
from tests.triggers.test_webhooks import post
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

TABLE = Workflow._meta.db_table


@pytest.fixture
def warm(require_postgres, client, trigger_queue):
    """A webhook workflow whose token this process has read once (a first request)."""
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email"}, allow_reenrollment=True)
    make_contact(tenant, email="ann@example.com")
    assert post(client, workflow, {"email": "ann@example.com"}).status_code == 202
    assert workflow.webhook_token in webhooks._REMEMBERED
    return workflow


def reads_of_the_workflow(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT") and TABLE in q["sql"]]  # fmt: skip


def test_a_second_request_records_its_delivery_in_one_statement(client, warm):
    with CaptureQueriesContext(connection) as captured:
        response = post(
            client, warm, {"email": "ann@example.com", "n": "second"}, delivery="second"
        )
    assert response.status_code == 202
    assert reads_of_the_workflow(captured) == []
    statements = [q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1  # the delivery's INSERT, the row checked in it
    assert WebhookDelivery.objects.filter(delivery_id="second").exists()


def test_a_new_secret_holds_from_the_next_request(client, warm):
    old = warm.webhook_secret
    Workflow.objects.filter(pk=warm.pk).update(webhook_secret="rotated-secret")
    warm.webhook_secret = "rotated-secret"

    stale = post(client, warm, {"email": "ann@example.com", "n": "old"}, secret=old, delivery="old")
    fresh = post(client, warm, {"email": "ann@example.com", "n": "new"}, delivery="new")

    assert stale.status_code == 401
    assert fresh.status_code == 202
    recorded = set(WebhookDelivery.objects.values_list("delivery_id", flat=True))
    assert "old" not in recorded
    assert "new" in recorded


def test_a_pause_or_a_deletion_holds_from_the_next_request(client, warm):
    Workflow.objects.filter(pk=warm.pk).update(status=Workflow.Status.PAUSED)  # no signal
    paused = post(client, warm, {"email": "ann@example.com", "n": "paused"}, delivery="paused")
    Workflow.objects.filter(pk=warm.pk).update(status=Workflow.Status.ACTIVE)
    active = post(client, warm, {"email": "ann@example.com", "n": "active"}, delivery="active")
    webhooks._REMEMBERED[warm.webhook_token] = Workflow.objects.get(pk=warm.pk)  # stale soon
    webhooks._REMEMBERED[warm.webhook_token].row_version = "1"  # an xmin it no longer has
    changed = post(client, warm, {"email": "ann@example.com", "n": "changed"}, delivery="changed")
    token = warm.webhook_token
    Workflow.objects.filter(pk=warm.pk).delete()
    gone = post(client, warm, {"email": "ann@example.com", "n": "gone"}, delivery="gone")

    assert (paused.status_code, active.status_code) == (409, 202)
    assert changed.status_code == 202  # read again: the row is fine, only the memory was old
    assert gone.status_code == 404
    assert token not in webhooks._REMEMBERED
    assert not WebhookDelivery.objects.filter(delivery_id__in=["paused", "gone"]).exists()


def test_a_new_version_and_a_replay_are_decided_on_the_row(client, warm, trigger_queue):
    trigger_queue.drain()
    before = Workflow.objects.get(pk=warm.pk).published_version_id
    publish_raw(warm, {**warm.published_version.definition, "name": warm.name})
    after = Workflow.objects.get(pk=warm.pk).published_version_id
    trigger_queue.sent.clear()

    response = post(client, warm, {"email": "ann@example.com", "n": "v2"}, delivery="v2")
    replay = post(client, warm, {"email": "ann@example.com", "n": "again"}, delivery="v2")
    trigger_queue.commit()

    assert after != before
    assert (response.status_code, replay.status_code) == (202, 409)
    ((_name, args),) = trigger_queue.sent
    assert args[4]["version_id"] == after  # what the task enrolls on: the new version
    assert WebhookDelivery.objects.filter(delivery_id="v2").count() == 1


def test_a_body_naming_no_contact_is_still_a_422_on_a_remembered_token(client, warm):
    response = post(client, warm, {"email": "nobody@example.com"}, delivery="nobody")
    assert response.status_code == 422
    assert "no contact with email 'nobody@example.com'" in response.json()["error"]
