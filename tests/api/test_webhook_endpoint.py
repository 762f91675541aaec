"""A workflow's inbound webhook as its users find it: URL and signing secret in the API and the
studio (admins and owners only), and a rotation that retires the old secret at once."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.cast import make_contact, make_published
from tests.studio.cast import studio_staff
from tests.triggers.test_webhooks import post

pytestmark = pytest.mark.django_db

HOOKED = {
    "name": "Hooked",
    "trigger": {"type": "webhook", "config": {"match_by": "email"}},
    "steps": [{"id": "tag", "type": "add_tag", "config": {"tag": "hooked"}}],
}


@pytest.fixture
def hooked(tenant):
    return make_published(tenant, HOOKED)


def test_an_admin_reads_the_url_the_secret_and_how_to_sign(client_as, hooked):
    response = client_as("admin").get(f"/api/workflows/{hooked.pk}/webhook")
    assert response.status_code == 200
    body = response.json()
    assert body["url"] == f"http://testserver/hooks/{hooked.webhook_token}/"
    assert body["path"] == f"/hooks/{hooked.webhook_token}/"
    assert body["secret"] == hooked.webhook_secret
    assert body["accepting"] is True
    assert set(body["headers"]) == {
        "Content-Type",
        "X-Studio-Timestamp",
        "X-Studio-Signature",
        "X-Studio-Delivery",
    }
    assert "HMAC-SHA256" in body["signing"]


def test_a_workflow_without_a_webhook_trigger_says_it_is_not_accepting(client_as, tenant):
    manual = make_published(tenant, {"name": "Manual", "trigger": {"type": "manual"}, "steps": []})
    body = client_as("owner").get(f"/api/workflows/{manual.pk}/webhook").json()
    assert body["accepting"] is False


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewers_and_editors_do_not_get_the_secret(client_as, hooked, role):
    response = client_as(role).get(f"/api/workflows/{hooked.pk}/webhook")
    assert response.status_code == 403
    assert hooked.webhook_secret not in response.content.decode()
    rotate = client_as(role).post(f"/api/workflows/{hooked.pk}/webhook/rotate-secret")
    assert rotate.status_code == 403


def test_another_tenants_owner_gets_a_404(outsider, hooked):
    assert outsider.get(f"/api/workflows/{hooked.pk}/webhook").status_code == 404
    assert outsider.post(f"/api/workflows/{hooked.pk}/webhook/rotate-secret").status_code == 404


def test_rotating_refuses_the_old_secret_at_once_and_accepts_the_new(client_as, tenant, hooked):
    make_contact(tenant, email="ann@example.com")
    web = Client()
    old = hooked.webhook_secret
    # The web process remembers the workflow after a first delivery: rotation must reach it.
    assert post(web, hooked, {"email": "ann@example.com"}, secret=old).status_code == 202
    rotated = client_as("owner").post(f"/api/workflows/{hooked.pk}/webhook/rotate-secret")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old
    assert rotated.json()["url"].endswith(f"/hooks/{hooked.webhook_token}/")  # the URL stays
    refused = post(web, hooked, {"email": "ann@example.com"}, secret=old)
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert post(web, hooked, {"email": "ann@example.com"}, secret=new).status_code == 202


@pytest.mark.parametrize(("role", "shown"), [("owner", True), ("admin", True), ("editor", False)])
def test_the_studio_shows_the_secret_to_admins_and_owners_only(tenant, hooked, role, shown):
    web = Client()
    web.force_login(studio_staff(tenant, role=role))
    page = web.get(f"/admin/workflows/workflow/{hooked.pk}/change/").content.decode()
    assert f"POST /hooks/{hooked.webhook_token}/" in page
    assert (hooked.webhook_secret in page) is shown
