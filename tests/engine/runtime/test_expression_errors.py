"""A CEL expression failing at run time never breaks the run (issue 14, item 2)."""

from __future__ import annotations

import pytest

from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_published, make_tenant
from workflows.models import Enrollment, StepLog

pytestmark = pytest.mark.django_db


def test_an_exit_condition_that_divides_by_zero_does_not_hold_and_steps_run(inline_queue):
    tenant = make_tenant()
    workflow = make_published(
        tenant,
        {
            "name": "Exit check",
            "settings": {"exit_conditions": [{"expression": "1 / 0 == 1"}]},
            "steps": [
                {"id": "tag", "type": "add_tag", "config": {"tag": "seen"}},
                {"id": "done", "type": "exit", "config": {"reason": "finished"}},
            ],
        },
    )

    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    inline_queue.drain()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == (Enrollment.Status.EXITED, "finished")
    assert not StepLog.objects.filter(enrollment=enrollment, status="failed").exists()


def test_a_condition_step_records_the_failing_expression_and_takes_else(inline_queue):
    tenant = make_tenant()
    workflow = make_published(
        tenant,
        {
            "name": "Branch",
            "steps": [
                {
                    "id": "check",
                    "type": "condition",
                    "config": {
                        "if": [{"expression": "contact.tags[100] == 'x'"}],
                        "then": "exit_yes",
                        "else": "exit_no",
                    },
                }
            ],
        },
    )

    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    inline_queue.drain()

    enrollment.refresh_from_db()
    assert enrollment.exit_reason == "no"
    log = StepLog.objects.get(enrollment=enrollment, step_id="check")
    output = log.parsed_output or log.raw_output
    assert output["result"] is False
    assert output["expression_errors"] == [
        "[0].expression: \"contact.tags[100] == 'x'\" failed at run time "
        "(IndexError: index out of bounds: 100)"
    ]
