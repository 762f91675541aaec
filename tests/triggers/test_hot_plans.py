"""Every statement of a webhook journey keeps an index plan, with or without planner statistics.

PostgreSQL here (and in CI) runs with autovacuum off, and a deployment's new or fast-growing
tables go unanalyzed between autovacuum runs: the planner then guesses row counts from pages.
Two statements of the journey were planned, that way, into reads that grow with the data: the
contact snapshot hash-joined a scan of every tenant's tags, and the contact's next enrollment
``sequence`` AND-ed the workflow's index with the contact's, reading every enrollment of the
workflow for each new one (4.7 ms per journey at 36,000 enrollments; bench/README.md, "Hot
queries"). Here a real journey's statements are captured and EXPLAINed on tables big enough
for a scan to be a visible choice: no growing table may be scanned whole, no index may be
AND-ed, none read by workflow or by tenant alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.db import connection

from crm.models import Contact, ContactTag, Tag
from engine.models import WebhookDelivery
from engine.runtime.flow import forget_flows
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import listening
from tests.triggers.test_webhooks import post
from workflows.models import Enrollment, StepLog

# Tables that grow with a tenant's contacts, tags and traffic.
GROWING = {model._meta.db_table for model in (Contact, Tag, ContactTag, Enrollment, StepLog)} | {
    WebhookDelivery._meta.db_table
}
# Indexes that lead with the workflow alone: every enrollment or log of it.
# An index condition on the tenant alone: every row of the tenant read, the rest filtered.
TENANT_ONLY = re.compile(r"\(*tenant_id = [^()]*(\([^()]*\))?[^()]*\)*")
# Enough of them that, guessing from pages, the planner would AND two indexes.
ENROLLMENTS = 20_000
WORKFLOW_WIDE = {"enrollment_workflow_status", "steplog_workflow_status"}


@pytest.fixture
def crowded(require_postgres):
    """A webhook workflow (two add_tag steps) with 20,000 earlier enrollments, 2,000 deliveries
    and 1,500 contacts, beside another tenant's 600 tags and their links."""
    tenant, other = make_tenant(), make_tenant()
    steps = [
        {"id": "a", "type": "add_tag", "config": {"tag": "vip"}},
        {"id": "b", "type": "add_tag", "config": {"tag": "gold"}},
    ]
    workflow = listening(
        tenant, "webhook", config={"match_by": "email"}, allow_reenrollment=True, steps=steps
    )
    contacts = Contact.objects.bulk_create(
        Contact(tenant=tenant, first_name=f"C{i}", email=f"c{i}@crowd.example") for i in range(1500)
    )
    tags = Tag.objects.bulk_create(Tag(tenant=other, name=f"t{i}") for i in range(600))
    theirs = Contact.objects.bulk_create(
        Contact(tenant=other, first_name=f"O{i}", email=f"o{i}@other.example") for i in range(200)
    )
    ContactTag.objects.bulk_create(
        ContactTag(contact=contact, tag=tags[(i * 3 + k) % 600])
        for i, contact in enumerate(theirs)
        for k in range(3)
    )
    table = Enrollment._meta.db_table
    with connection.cursor() as cursor:  # in SQL: 20,000 model instances take seconds
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, workflow_id, version_id, contact_id, "  # noqa: S608
            "status, current_step, context, visits, step_count, reenrollable, sequence, held, "
            "exit_reason, error, enrolled_at, updated_at) "
            "SELECT %s, %s, %s, (%s::bigint[])[1 + g %% 1500], 'completed', '', '{}', '{}', 0, "
            "true, 1 + g / 1500, false, '', '', now(), now() FROM generate_series(0, %s) AS g",
            [
                tenant.pk,
                workflow.pk,
                workflow.published_version_id,
                [contact.pk for contact in contacts],
                ENROLLMENTS - 1,
            ],
        )
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(workflow=workflow, delivery_id=f"old-{i}", outcome="enrolled", trigger={})
        for i in range(2000)
    )
    contact = make_contact(tenant, email="ann@example.com")
    forget_flows()
    return workflow, contact


def journey_statements(client, trigger_queue, workflow, *, delivery: str) -> list[tuple[str, Any]]:
    """The SQL (with parameters) of one signed delivery and its enrolling task."""
    statements: list[tuple[str, Any]] = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        response = post(
            client, workflow, {"email": "Ann@Example.com", "n": delivery}, delivery=delivery
        )
        assert response.status_code == 202, response.content
        trigger_queue.drain()
    return [
        (sql, params)
        for sql, params in statements
        if sql.lstrip().split(None, 1)[0].upper() in {"SELECT", "WITH", "INSERT", "UPDATE"}
    ]


def plan_nodes(sql: str, params: Any) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, todo = [], [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def problems(statements: list[tuple[str, Any]]) -> list[str]:
    found = []
    for sql, params in statements:
        for node in plan_nodes(sql, params):
            kind, table = node["Node Type"], node.get("Relation Name")
            index = node.get("Index Name")
            if kind == "Seq Scan" and table in GROWING:
                found.append(f"a scan of all of {table} in: {sql[:120]}")
            if kind == "BitmapAnd":
                found.append(f"indexes AND-ed in: {sql[:120]}")
            if index in WORKFLOW_WIDE:
                found.append(f"{index} (every row of the workflow) in: {sql[:120]}")
            if TENANT_ONLY.fullmatch(node.get("Index Cond", "")):
                found.append(f"{index} read for a whole tenant in: {sql[:120]}")
    return found


def test_a_journeys_statements_use_their_indexes_with_and_without_statistics(
    client, trigger_queue, crowded
):
    workflow, contact = crowded
    guessed = journey_statements(client, trigger_queue, workflow, delivery="plan-1")
    guessed_problems = problems(guessed)  # before ANALYZE: the planner guesses from pages
    with connection.cursor() as cursor:
        for table in sorted(GROWING):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    counted = journey_statements(client, trigger_queue, workflow, delivery="plan-2")

    assert Enrollment.objects.filter(contact=contact, status="completed").count() == 2
    assert set(contact.tags.values_list("name", flat=True)) == {"vip", "gold"}
    assert len(guessed) >= 5  # the workflow, the delivery, the claim, the snapshot, tags
    assert guessed_problems == []
    assert problems(counted) == []
