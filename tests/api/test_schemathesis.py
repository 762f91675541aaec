"""schemathesis against the served OpenAPI schema: no 5xx, every answer fits the schema.

Bounded: a few generated examples per operation, on one tenant's objects (path ids point at
them, so handlers run, not just the 404 path).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from api.services import api_token_create
from crm.models import TenantMembership
from tests.api.world import build_world
from tests.cast import make_staff

pytestmark = pytest.mark.django_db


# The schema as served at /api/openapi.json (reading it touches no database).
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    # As Django's test client does: a request must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def session(tenant):
    world = build_world(tenant)
    user = make_staff()
    TenantMembership.objects.create(tenant=tenant, user=user, role="owner")
    key = api_token_create(user=user, name="schemathesis").key
    ids = {
        "/api/workflows/{id}": world.workflow,
        "/api/workflows/{workflow_pk}": world.workflow,
        "/api/enrollments/{id}": world.enrollment,
        "/api/prompts/{id}": world.prompt,
        "/api/workflow-steps/{id}": world.step,
        "/api/enroll-jobs/{id}": world.job,
    }
    return {"key": key, "ids": ids, "step": world.step}


def aim(case, session) -> None:
    """Point path ids at real objects, act in the tenant, never wait on a run."""
    for prefix, value in session["ids"].items():
        name = prefix.rsplit("{", 1)[1].rstrip("}")
        if case.path.startswith(prefix) and case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    if case.path_parameters and "number" in case.path_parameters:
        case.path_parameters["number"] = 1
    if case.path.endswith("/steps/{id}"):
        case.path_parameters["id"] = session["step"]
    case.headers = {**(case.headers or {}), "X-Tenant": "acme"}
    case.headers["Authorization"] = f"Bearer {session['key']}"
    if case.query:
        case.query.pop("tenant", None)
        # ?wait=N blocks up to N seconds on a live enrollment; the builder scenario covers it.
        if "wait" in case.query:
            case.query["wait"] = 0


@schema.parametrize()
@hypothesis_settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    # Generated cases only: the explicit phase adds schemathesis' coverage cases (hundreds per
    # operation), which would not fit the suite's time.
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@override_settings(STUDIO_API_THROTTLE_RATE="")
def test_no_server_errors_and_every_answer_fits_the_schema(case, session):
    aim(case, session)
    response = case.call()
    case.validate_response(
        response,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
