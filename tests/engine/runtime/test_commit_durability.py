"""Step transactions wait for the disk only when something outside the database happened
(engine/effects/durability.py)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from engine.effects.durability import (
    reached_outside,
    relax_commit_if_local,
    tracking_outside_calls,
)
from engine.runtime import executor, queue
from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_published, make_tenant
from workflows.models import Enrollment

RELAX = "SET LOCAL synchronous_commit TO off"


def relaxed_commits(captured) -> int:
    return sum(1 for q in captured.captured_queries if q["sql"] == RELAX)


def run_all(workflow, contact, inline_queue):
    enrollment_create(workflow=workflow, contact=contact)
    inline_queue.run_on_commit()
    [(enrollment_id, step_id, seq)] = [a for n, a in inline_queue.sent if n == queue.RUN_STEP]
    inline_queue.sent.clear()
    with CaptureQueriesContext(connection) as captured:
        executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)
    return Enrollment.objects.get(pk=enrollment_id), captured


def test_steps_that_only_write_this_database_commit_without_waiting(require_postgres, inline_queue):
    tenant = make_tenant()
    steps = [
        {"id": "t", "type": "add_tag", "config": {"tag": "vip"}},
        {"id": "u", "type": "update_contact", "config": {"fields": {"stage": "customer"}}},
    ]
    workflow = make_published(tenant, {"name": "Local", "steps": steps})
    enrollment, captured = run_all(workflow, make_contact(tenant), inline_queue)
    assert enrollment.status == "completed"
    # The two share one transaction (engine/runtime/executor.py), relaxed once.
    assert relaxed_commits(captured) == 1


def test_a_step_that_sends_a_message_commits_synchronously(require_postgres, inline_queue):
    tenant = make_tenant()
    steps = [
        {"id": "t", "type": "add_tag", "config": {"tag": "vip"}},
        {"id": "sms", "type": "send_sms", "config": {"message": "Hi"}},
    ]
    workflow = make_published(tenant, {"name": "Sends", "steps": steps})
    contact = make_contact(tenant, phone="+4930123456")
    enrollment, captured = run_all(workflow, contact, inline_queue)
    assert enrollment.status == "completed", enrollment.error
    sql = [q["sql"] for q in captured.captured_queries]
    # The tag step's transaction is relaxed; the SMS step's is not (its commit is the last).
    assert sql.count(RELAX) == 1
    sms_row = next(i for i, s in enumerate(sql) if "workflows_sideeffect" in s and ":sms:" in s)
    assert RELAX not in sql[sms_row:]


@pytest.mark.django_db
def test_an_unknown_kind_or_an_http_request_counts_as_outside():
    with transaction.atomic(), tracking_outside_calls() as outside:
        reached_outside()
        assert relax_commit_if_local(outside) is False
    with tracking_outside_calls() as outside:
        assert outside == [False]
    reached_outside()  # outside any step: nothing to mark, no error


def test_nothing_is_relaxed_outside_a_transaction_or_on_sqlite(db):
    with tracking_outside_calls() as outside:
        if connection.vendor == "postgresql":
            with transaction.atomic():
                assert relax_commit_if_local(outside) is True
        else:
            with transaction.atomic():
                assert relax_commit_if_local(outside) is False
