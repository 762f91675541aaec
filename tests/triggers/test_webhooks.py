"""Inbound webhooks over HTTP: a signed JSON POST enrolls; every bad input gets its 4xx."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Contact
from engine.models import WebhookDelivery
from engine.triggers.webhooks import deliveries_purge, sign
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import enrolled, listening, trigger_of
from workflows.services import workflow_pause

pytestmark = pytest.mark.django_db
_ids = count(1)


def post(
    client,
    workflow,
    payload,
    *,
    secret=None,
    timestamp=None,
    delivery=None,
    content_type="application/json",
    raw=None,
    **headers,
):
    body = raw if raw is not None else json.dumps(payload).encode()
    timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
    signature = sign(secret=secret or workflow.webhook_secret, timestamp=timestamp, body=body)
    extra = {
        "HTTP_X_STUDIO_TIMESTAMP": timestamp,
        "HTTP_X_STUDIO_SIGNATURE": signature,
        "HTTP_X_STUDIO_DELIVERY": delivery if delivery is not None else f"d-{next(_ids)}",
        **headers,
    }
    return client.post(
        f"/hooks/{workflow.webhook_token}/", data=body, content_type=content_type, **extra
    )


@pytest.fixture
def hook():
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email"})
    return tenant, workflow


def test_a_signed_post_enrolls_the_contact_named_by_email(client, trigger_queue, hook):
    tenant, workflow = hook
    contact = make_contact(tenant, email="ann@example.com")

    response = post(
        client, workflow, {"email": "ANN@example.com", "plan": "gold"}, delivery="evt-1"
    )
    trigger_queue.drain()

    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted",
        "workflow_id": workflow.pk,
        "contact_id": contact.pk,
        "delivery_id": "evt-1",
        "created_contact": False,
    }
    assert enrolled(workflow) == [contact.pk]
    trigger = trigger_of(workflow, contact)
    assert trigger["body"] == {"email": "ANN@example.com", "plan": "gold"}
    assert trigger["delivery_id"] == "evt-1"


def test_a_bare_hex_signature_is_accepted_too(client, trigger_queue, hook):
    tenant, workflow = hook
    make_contact(tenant, email="ann@example.com")
    body = b'{"email": "ann@example.com"}'
    stamp = str(int(time.time()))
    bare = sign(secret=workflow.webhook_secret, timestamp=stamp, body=body).removeprefix("sha256=")

    response = client.post(
        f"/hooks/{workflow.webhook_token}/",
        data=body,
        content_type="application/json",
        HTTP_X_STUDIO_TIMESTAMP=stamp,
        HTTP_X_STUDIO_SIGNATURE=bare,
        HTTP_X_STUDIO_DELIVERY="x",
    )

    assert response.status_code == 202


def test_a_phone_webhook_may_create_the_contact(client, trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "phone", "create": True})

    response = post(client, workflow, {"contact": {"phone": "+4930111", "first_name": "Neu"}})
    trigger_queue.drain()

    assert response.status_code == 202
    contact = Contact.objects.get(tenant=tenant, phone="+4930111")
    assert (contact.first_name, contact.source) == ("Neu", "webhook")
    assert response.json()["created_contact"] is True
    assert enrolled(workflow) == [contact.pk]


def bad_inputs():
    now = int(time.time())
    return {
        "wrong signature": ({"secret": "not-the-secret"}, 401, "bad signature"),
        "stale timestamp": ({"timestamp": now - 400}, 401, "stale timestamp"),
        "future timestamp": ({"timestamp": now + 400}, 401, "stale timestamp"),
        "non-numeric timestamp": ({"timestamp": "yesterday"}, 401, "unix seconds"),
        "5,000-digit timestamp": ({"timestamp": "9" * 5000}, 401, "unix seconds"),
        "superscript-digit timestamp": ({"timestamp": f"{now}²"}, 401, "unix seconds"),
        "negative timestamp": ({"timestamp": f"-{now}"}, 401, "unix seconds"),
        "missing signature": (
            {"HTTP_X_STUDIO_SIGNATURE": ""},
            401,
            "missing X-Studio-Timestamp or X-Studio-Signature",
        ),
        "oversized body": ({"raw": b"{" + b" " * 300_000 + b"}"}, 413, "larger than 262144 bytes"),
        "form body": (
            {"content_type": "application/x-www-form-urlencoded", "raw": b"email=a"},
            415,
            "must be application/json",
        ),
        "broken json": ({"raw": b'{"email": '}, 400, "invalid JSON: Expecting value"),
        "json list": ({"raw": b"[1, 2]"}, 400, "must be a JSON object"),
        "100k-deep json": ({"raw": b"[" * 100_000 + b"]" * 100_000}, 400, "levels deep"),
        "100k unclosed brackets": ({"raw": b"[" * 100_000}, 400, "body: "),
        "40-deep json object": (
            {"raw": b'{"email": "ann@example.com", "x": ' + b"[" * 40 + b"]" * 40 + b"}"},
            400,
            "nested more than 32 levels deep",
        ),
        "5,000-digit number": (
            {"raw": b'{"email": "ann@example.com", "n": ' + b"7" * 5000 + b"}"},
            400,
            "more than 20 digits",
        ),
        "NaN": ({"raw": b'{"email": "ann@example.com", "n": NaN}'}, 400, "NaN"),
        "duplicate key": (
            {"raw": b'{"email": "ann@example.com",\n "email": "bob@example.com"}'},
            400,
            "duplicate key 'email' (line 2)",
        ),
        "not utf-8": ({"raw": b'{"email": "\xff"}'}, 400, "not UTF-8"),
        "no delivery id": ({"delivery": ""}, 400, "X-Studio-Delivery"),
        "no email": ({"raw": b'{"name": "Ann"}'}, 400, "body has no 'email'"),
        "unknown email": (
            {"raw": b'{"email": "ghost@example.com"}'},
            422,
            "no contact with email 'ghost@example.com'",
        ),
    }


@pytest.mark.parametrize("case", list(bad_inputs()))
def test_bad_input_gets_a_clear_4xx_and_enrolls_nobody(client, trigger_queue, hook, case):
    tenant, workflow = hook
    make_contact(tenant, email="ann@example.com")
    options, status, message = bad_inputs()[case]

    response = post(client, workflow, {"email": "ann@example.com"}, **options)
    trigger_queue.drain()

    assert response.status_code == status
    body = response.json()
    assert message in body["error"]
    # The REST API's error shape too, with the same message.
    assert body["code"] == ERROR_CODES[status]
    assert body["message"] == body["error"]
    assert body["details"] == []
    assert enrolled(workflow) == []
    assert not WebhookDelivery.objects.exists()


ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "no_contact",
}


def test_a_url_without_its_trailing_slash_is_accepted_too(client, trigger_queue, hook):
    tenant, workflow = hook
    make_contact(tenant, email="ann@example.com")
    body = json.dumps({"email": "ann@example.com"}).encode()
    stamp = str(int(time.time()))
    response = client.post(
        f"/hooks/{workflow.webhook_token}",
        data=body,
        content_type="application/json",
        HTTP_X_STUDIO_TIMESTAMP=stamp,
        HTTP_X_STUDIO_SIGNATURE=sign(secret=workflow.webhook_secret, timestamp=stamp, body=body),
        HTTP_X_STUDIO_DELIVERY="no-slash-1",
    )
    assert response.status_code == 202, response.content
    trigger_queue.drain()
    assert len(enrolled(workflow)) == 1


def test_a_get_is_refused_with_a_json_405_naming_post(client, hook):
    _, workflow = hook
    response = client.get(f"/hooks/{workflow.webhook_token}/")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"
    assert "POST" in response.json()["message"]


def test_a_replayed_delivery_is_refused(client, trigger_queue, hook):
    tenant, workflow = hook
    make_contact(tenant, email="ann@example.com")

    first = post(client, workflow, {"email": "ann@example.com"}, delivery="evt-7")
    again = post(client, workflow, {"email": "ann@example.com"}, delivery="evt-7")

    assert first.status_code == 202
    assert again.status_code == 409
    message = "delivery 'evt-7' was already received"
    assert again.json() == {"code": "conflict", "message": message, "details": [], "error": message}


@pytest.mark.django_db(transaction=True)
def test_a_request_that_creates_no_contact_opens_no_transaction(client, trigger_queue, hook):
    # Autocommit: find the contact, INSERT the delivery (committed), enqueue; no BEGIN/COMMIT.
    tenant, workflow = hook
    make_contact(tenant, email="ann@example.com")
    post(client, workflow, {"email": "ann@example.com", "n": 0})  # warm: caches, the index
    trigger_queue.drain()
    trigger_queue.sent.clear()

    with CaptureQueriesContext(connection) as captured:
        body = {"email": "ann@example.com", "n": 1}
        response = post(client, workflow, body, delivery="evt-auto")
        again = post(client, workflow, {**body, "n": 2}, delivery="evt-auto")

    assert (response.status_code, again.status_code) == (202, 409)
    sql = [query["sql"] for query in captured.captured_queries]
    assert not [q for q in sql if q.startswith(("BEGIN", "SAVEPOINT", "COMMIT"))], sql
    assert len(trigger_queue.sent) == 1  # enqueued once, the INSERT being committed
    assert WebhookDelivery.objects.filter(delivery_id="evt-auto").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_replay_to_a_creating_workflow_keeps_no_contact_it_would_have_created(
    client, trigger_queue
):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email", "create": True})
    first = post(client, workflow, {"email": "first@example.com"}, delivery="evt-9")
    again = post(client, workflow, {"email": "second@example.com"}, delivery="evt-9")

    assert (first.status_code, again.status_code) == (202, 409)
    assert Contact.objects.filter(tenant=tenant, email="first@example.com").exists()
    assert not Contact.objects.filter(tenant=tenant, email="second@example.com").exists()


def test_a_captured_request_replayed_under_new_delivery_ids_is_refused(client, trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email"}, allow_reenrollment=True)
    make_contact(tenant, email="ann@example.com")
    body = json.dumps({"email": "ann@example.com"}).encode()
    timestamp = str(int(time.time()))

    answers = [
        post(client, workflow, None, raw=body, timestamp=timestamp, delivery=f"evt-{n}")
        for n in range(5)
    ]
    trigger_queue.drain()

    assert [a.status_code for a in answers] == [202, 409, 409, 409, 409]
    assert "replayed request" in answers[1].json()["error"]
    assert len(enrolled(workflow)) == 1
    assert WebhookDelivery.objects.count() == 1


def test_the_same_body_signed_at_another_second_is_a_new_delivery(client, trigger_queue):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email"}, allow_reenrollment=True)
    make_contact(tenant, email="ann@example.com")
    now = int(time.time())

    first = post(client, workflow, {"email": "ann@example.com"}, timestamp=now)
    second = post(client, workflow, {"email": "ann@example.com"}, timestamp=now - 1)

    assert (first.status_code, second.status_code) == (202, 202)


def test_signatures_are_remembered_for_twice_the_tolerance(hook, settings):
    settings.STUDIO_WEBHOOK_TOLERANCE_SECONDS = 3600
    _tenant, workflow = hook
    recent = WebhookDelivery.objects.create(
        workflow=workflow, delivery_id="r", signature="ab", outcome="enrolled"
    )
    WebhookDelivery.objects.filter(pk=recent.pk).update(
        received_at=timezone.now() - timedelta(seconds=5000)
    )

    assert deliveries_purge(older_than_seconds=60) == 0
    assert deliveries_purge(older_than_seconds=60) == 0
    WebhookDelivery.objects.filter(pk=recent.pk).update(
        received_at=timezone.now() - timedelta(seconds=7300)
    )
    assert deliveries_purge(older_than_seconds=60) == 1


def test_an_unknown_token_is_not_found(client):
    response = client.post("/hooks/nope/", data=b"{}", content_type="application/json")

    assert response.status_code == 404
    message = "unknown webhook token"
    assert response.json() == {
        "code": "not_found",
        "message": message,
        "details": [],
        "error": message,
    }


def test_a_paused_workflow_refuses_deliveries(client, trigger_queue, hook):
    tenant, workflow = hook
    make_contact(tenant, email="ann@example.com")
    workflow_pause(workflow=workflow)

    response = post(client, workflow, {"email": "ann@example.com"})

    assert response.status_code == 409
    assert "is not an active webhook workflow" in response.json()["error"]


def test_a_workflow_on_another_trigger_refuses_deliveries(client):
    workflow = listening(make_tenant(), "contact_created")

    response = post(client, workflow, {"email": "ann@example.com"})

    assert response.status_code == 409


def test_a_declared_oversized_length_is_refused_before_reading(client, hook, settings):
    settings.STUDIO_WEBHOOK_MAX_BYTES = 10
    _tenant, workflow = hook

    response = post(client, workflow, {"email": "someone-long@example.com"})

    assert response.status_code == 413


def test_only_post_is_allowed(client, hook):
    _tenant, workflow = hook

    assert client.get(f"/hooks/{workflow.webhook_token}/").status_code == 405


def test_old_delivery_ids_are_purged(hook):
    _tenant, workflow = hook
    old = WebhookDelivery.objects.create(workflow=workflow, delivery_id="old", outcome="enrolled")
    WebhookDelivery.objects.filter(pk=old.pk).update(received_at="2020-01-01T00:00Z")
    WebhookDelivery.objects.create(workflow=workflow, delivery_id="new")

    assert deliveries_purge() == 1
    assert list(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == ["new"]
    assert str(WebhookDelivery.objects.get()) == f"new → workflow {workflow.pk}"
