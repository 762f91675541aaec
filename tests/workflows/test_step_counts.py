"""Per-step counts (the graph's and the API's stats): a waiting enrollment is counted at the
step it waits in, not at the step it will run next, and a running wait is not yet done."""

from __future__ import annotations

import pytest

from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_published, make_tenant
from workflows.models import Enrollment
from workflows.selectors import workflow_stats

pytestmark = pytest.mark.django_db

FLOW = {
    "name": "Nurture",
    "steps": [
        {"id": "tag", "type": "add_tag", "config": {"tag": "lead"}},
        {"id": "wait_hour", "type": "wait", "config": {"duration": "2h"}},
        {"id": "has_email", "type": "condition",
         "config": {"if": [{"field": "contact.email", "operator": "is_not_empty"}],
                    "then": "end", "else": "end"}},
    ],
}  # fmt: skip


def test_contacts_in_a_wait_are_counted_at_the_wait(inline_queue):
    tenant = make_tenant()
    workflow = make_published(tenant, FLOW)
    for _ in range(3):
        enrollment_create(workflow=workflow, contact=make_contact(tenant))
    inline_queue.drain()
    assert set(Enrollment.objects.filter(workflow=workflow).values_list("status", flat=True)) == {
        "waiting"
    }

    steps = workflow_stats(workflow=workflow)["steps"]
    assert steps["wait_hour"] == {"waiting_at": 3, "done": 0, "failed": 0}
    none = {"waiting_at": 0, "done": 0, "failed": 0}
    assert steps.get("has_email", none) == none
    assert steps["tag"] == {"waiting_at": 0, "done": 3, "failed": 0}
