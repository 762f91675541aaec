"""Lists cost the same number of queries for 2 rows as for 20 (no query per row)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_published

pytestmark = pytest.mark.django_db

FLOW = {
    "name": "Flow",
    "trigger": {"type": "manual"},
    "steps": [{"id": "pause", "type": "wait", "config": {"duration": "1d"}}],
}


def queries(client, path: str) -> int:
    client.get(path)  # the token's first use records last_used_at; count a warm request
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


@pytest.mark.parametrize("path", ["/api/workflows", "/api/workflows/list?includeStats=true"])
def test_workflow_lists_do_not_query_per_row(owner, tenant, path):
    for i in range(2):
        make_published(tenant, {**FLOW, "name": f"Flow {i}"})
    few = queries(owner, path)
    for i in range(2, 20):
        make_published(tenant, {**FLOW, "name": f"Flow {i}"})
    assert queries(owner, path) == few


def test_enrollment_lists_do_not_query_per_row(owner, tenant):
    workflow = make_published(tenant, FLOW)
    for _ in range(2):
        enrollment_create(workflow=workflow, contact=make_contact(tenant))
    path = f"/api/workflows/{workflow.pk}/enrollments"
    few = queries(owner, path)
    for _ in range(18):
        enrollment_create(workflow=workflow, contact=make_contact(tenant))
    assert queries(owner, path) == few
