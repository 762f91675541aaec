"""``insert_rows``: the step logs' INSERT, with a statement built once per model."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from engine.runtime.enrollment import enrollment_create
from engine.runtime.rows import insert_rows
from tests.cast import make_contact, make_published, make_tenant
from workflows.models import StepLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrollment():
    tenant = make_tenant()
    steps = [{"id": "a", "type": "add_tag", "config": {"tag": "x"}}]
    workflow = make_published(tenant, {"name": "Rows", "steps": steps})
    return enrollment_create(workflow=workflow, contact=make_contact(tenant))


def row(enrollment, **fields):
    return {
        "tenant_id": enrollment.tenant_id,
        "workflow_id": enrollment.workflow_id,
        "version_id": enrollment.version_id,
        "enrollment_id": enrollment.pk,
        "step_id": "a",
        "step_type": "add_tag",
        "status": "succeeded",
        "started_at": timezone.now(),
        **fields,
    }


def test_values_are_adapted_as_the_orm_adapts_them_and_defaults_fill_the_rest(enrollment):
    output = {"nested": {"list": [1, "two", None]}, "unicode": "näh 🙂"}
    insert_rows(
        StepLog,
        [
            row(enrollment, parsed_output=output, cost=Decimal("0.000123"), input_tokens=7),
            row(enrollment, step_id="b", status="failed", error_message="it's 'quoted' %s"),
        ],
    )

    first, second = StepLog.objects.filter(enrollment=enrollment).order_by("id")
    assert first.parsed_output == output
    assert first.cost == Decimal("0.000123")
    assert (first.input_tokens, first.visit, first.attempt) == (7, 1, 1)  # defaults
    assert first.raw_output is None
    assert first.error_message == ""
    assert (second.step_id, second.status) == ("b", "failed")
    assert second.error_message == "it's 'quoted' %s"


def test_an_unknown_column_is_refused_before_anything_is_written(enrollment):
    with pytest.raises(KeyError, match="stepp_id"):
        insert_rows(StepLog, [row(enrollment), row(enrollment, stepp_id="typo")])
    assert not StepLog.objects.filter(enrollment=enrollment).exists()


def test_no_rows_writes_nothing(enrollment):
    assert insert_rows(StepLog, []) == 0
    assert not StepLog.objects.filter(enrollment=enrollment).exists()
