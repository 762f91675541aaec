"""Tokens, tenant selection, roles and the one error shape."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from api.errors import csrf_failure_view
from api.models import ApiToken
from api.services import api_token_create, api_token_revoke, key_hash
from crm.models import TenantMembership
from tests.api.conftest import SIMPLE, bearer, error_of
from tests.cast import make_staff, make_tenant
from workflows import selectors
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def test_a_request_without_credentials_is_401_in_the_error_shape(tenant):
    response = APIClient().get("/api/workflows")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_token_is_stored_only_as_its_hash(tenant):
    made = api_token_create(user=make_staff(tenant), name="builder")
    row = ApiToken.objects.get(pk=made.token.pk)
    assert made.key not in (row.key_hash, row.prefix)
    assert row.key_hash == key_hash(made.key)
    assert made.key.startswith(row.prefix)


def test_a_valid_token_authenticates_and_records_last_use(tenant):
    user = make_staff(tenant)
    made = api_token_create(user=user, name="builder")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {made.key}")
    assert client.get("/api/workflows").status_code == 200
    made.token.refresh_from_db()
    assert made.token.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer ast_not-a-real-key", "Bearer", "Bearer two parts", "Bearer nope"],
)
def test_bad_bearer_headers_are_401(tenant, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/workflows")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_revoked_and_expired_tokens_are_refused(tenant):
    user = make_staff(tenant)
    revoked = api_token_create(user=user, name="old")
    api_token_revoke(token=revoked.token)
    expired = api_token_create(user=user, name="short")
    ApiToken.objects.filter(pk=expired.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    for key in (revoked.key, expired.key):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert client.get("/api/workflows").status_code == 401


def test_an_inactive_users_token_is_refused(tenant):
    user = make_staff(tenant)
    client = bearer(user)
    user.is_active = False
    user.save()
    assert client.get("/api/workflows").status_code == 401


def test_token_days_must_be_positive_and_name_given(tenant):
    user = make_staff(tenant)
    with pytest.raises(ValueError, match="positive"):
        api_token_create(user=user, name="x", days=0)
    with pytest.raises(ValueError, match="name"):
        api_token_create(user=user, name="  ")
    made = api_token_create(user=user, name="x", days=30)
    assert made.token.expires_at > timezone.now() + timedelta(days=29)


def test_the_command_prints_a_working_key_once(tenant):
    user = make_staff(tenant, username="ann")
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "ann", "--name", "cli", "--days", "7", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert ApiToken.objects.get(user=user).key_hash == key_hash(key)
    assert "expires" in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/workflows").status_code == 200


def test_the_command_names_a_missing_user_and_bad_days(tenant):
    make_staff(tenant, username="bob")
    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("create_api_token", "nobody", "--name", "x")
    with pytest.raises(CommandError, match="positive"):
        call_command("create_api_token", "bob", "--name", "x", "--days", "-1")


def test_session_auth_works_for_logged_in_staff(tenant):
    user = make_staff(tenant)
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/workflows").status_code == 200


def test_a_member_of_several_tenants_must_name_one(tenant, other_tenant):
    user = make_staff(tenant)
    TenantMembership.objects.create(tenant=other_tenant, user=user, role="viewer")
    client = bearer(user)
    response = client.get("/api/workflows")
    assert response.status_code == 400
    assert error_of(response)["code"] == "tenant_required"
    assert client.get("/api/workflows", HTTP_X_TENANT="globex").status_code == 200
    assert client.get(f"/api/workflows?tenant={tenant.pk}").status_code == 200


def test_a_tenant_the_caller_is_not_in_is_404(tenant, other_tenant):
    client = bearer(make_staff(tenant))
    response = client.get("/api/workflows", HTTP_X_TENANT="globex")
    assert response.status_code == 404
    assert error_of(response)["code"] == "tenant_not_found"
    assert client.get("/api/workflows", HTTP_X_TENANT="no-such").status_code == 404


def test_a_user_in_no_tenant_is_403(db):
    response = bearer(make_staff()).get("/api/workflows")
    assert response.status_code == 403
    assert error_of(response)["code"] == "no_tenant"


def test_a_superuser_acts_as_owner_in_the_tenant_named(tenant, other_tenant):
    admin = make_staff(is_superuser=True)
    client = bearer(admin)
    assert client.get("/api/workflows").status_code == 400
    response = client.post(
        "/api/workflows", {**SIMPLE, "name": "X"},
        format="json", HTTP_X_TENANT="globex",
    )  # fmt: skip
    assert response.status_code == 201, response.json()


def test_a_single_tenant_superuser_needs_no_selection(db):
    make_tenant("solo")
    assert bearer(make_staff(is_superuser=True)).get("/api/workflows").status_code == 200


def test_unknown_api_paths_are_404_in_the_error_shape(owner):
    response = owner.get("/api/nothing/here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_api_paths_are_404_json_for_every_method_under_csrf_checks(tenant, method):
    # As a browser or curl meets it: CSRF is enforced (the test client skips it by default),
    # and the step's id in the path is the step_id, not the database id the route takes.
    client = APIClient(enforce_csrf_checks=True)
    key = api_token_create(user=make_staff(tenant), name="curl").key
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = getattr(client, method)("/api/workflows/5/steps/wait-1", {}, format="json")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_django_level_refusals_on_machine_paths_are_json(tenant):
    # A host outside ALLOWED_HOSTS is refused before any view (handler400).
    refused = APIClient().get("/api/workflows", HTTP_HOST="evil.example")
    assert refused.status_code == 400
    assert error_of(refused)["code"] == "bad_request"
    # An unknown /hooks/ path (handler404) and a CSRF failure (CSRF_FAILURE_VIEW).
    missing = APIClient().get("/hooks/")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    factory = RequestFactory()
    failed = csrf_failure_view(factory.post("/api/anything"), reason="CSRF cookie not set.")
    assert failed.status_code == 403
    assert json.loads(failed.content)["code"] == "csrf_failed"
    # Pages for people keep Django's HTML.
    page = csrf_failure_view(factory.post("/admin/login/"), reason="CSRF cookie not set.")
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")
    assert APIClient().get("/no/such/page")["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_405_in_the_error_shape(owner):
    response = owner.put("/api/workflows", {}, format="json")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_malformed_json_is_400_in_the_error_shape(owner):
    response = owner.post("/api/workflows", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_a_server_error_is_500_in_the_error_shape_without_a_traceback(owner, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "workflows_for", boom)
    response = owner.get("/api/workflows")
    assert response.status_code == 500
    body = error_of(response)
    assert body["code"] == "server_error"
    assert "secret internals" not in response.content.decode()
    assert "incident" in body["message"]


@override_settings(STUDIO_API_THROTTLE_RATE="3/min")
def test_each_token_is_throttled_on_its_own(tenant):
    user = make_staff(tenant)
    first, second = bearer(user), bearer(user)
    for _ in range(3):
        assert first.get("/api/workflows").status_code == 200
    response = first.get("/api/workflows")
    assert response.status_code == 429
    assert error_of(response)["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
    assert second.get("/api/workflows").status_code == 200


@override_settings(STUDIO_API_THROTTLE_RATE="")
def test_an_empty_rate_turns_throttling_off(owner):
    for _ in range(5):
        assert owner.get("/api/workflows").status_code == 200


def test_lists_are_paginated(owner, tenant):
    Workflow.objects.bulk_create(Workflow(tenant=tenant, name=f"W{i:02}") for i in range(7))
    body = owner.get("/api/workflows?page_size=3&page=2").json()
    assert body["count"] == 7
    assert [w["name"] for w in body["results"]] == ["W03", "W04", "W05"]
    assert body["next"]
    assert body["previous"]
    assert owner.get("/api/workflows?page=9").status_code == 404


def test_the_openapi_schema_and_docs_are_served_without_a_cdn(db):
    client = APIClient()
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/workflows/{id}/publish" in paths
    assert "bearerAuth" in schema.json()["components"]["securitySchemes"]
    assert client.get("/api/openapi.yaml").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower()
    assert "jsdelivr" not in page.lower()
