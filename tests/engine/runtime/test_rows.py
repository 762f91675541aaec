"""``engine.runtime.rows``: INSERTs and UPDATEs of hot rows, their statements built once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Contact
from engine.models import WebhookDelivery
from engine.runtime.enrollment import enrollment_create, last_sequence
from engine.runtime.rows import _prep, insert_instance, insert_rows, update_fields
from tests.cast import make_contact, make_published, make_tenant
from workflows.models import Enrollment, StepLog

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


def test_insert_instance_stamps_auto_times_sets_the_key_and_adapts_json(enrollment):
    before = timezone.now()
    delivery = WebhookDelivery(
        workflow_id=enrollment.workflow_id,
        delivery_id="d-1",
        contact_id="7",
        trigger={"body": {"when": "näh", "n": [1, None]}},
        sent_at=before,
    )
    with CaptureQueriesContext(connection) as captured:
        key = insert_instance(delivery)

    assert len(captured) == 1
    assert "RETURNING" in captured[0]["sql"]
    assert delivery.pk == key
    assert not delivery._state.adding
    stored = WebhookDelivery.objects.get(pk=key)
    assert stored.trigger == {"body": {"when": "näh", "n": [1, None]}}
    assert stored.received_at >= before  # auto_now_add, stamped by the field's pre_save
    assert (stored.outcome, stored.signature) == ("", None)


def test_insert_instance_raises_the_databases_integrity_error_and_keeps_no_key(enrollment):
    delivery = {
        "workflow_id": enrollment.workflow_id,
        "delivery_id": "same",
        "sent_at": timezone.now(),
    }
    insert_instance(WebhookDelivery(**delivery))
    again = WebhookDelivery(**delivery)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_instance(again)
    assert again.pk is None
    assert WebhookDelivery.objects.filter(delivery_id="same").count() == 1


def test_update_fields_writes_only_the_named_fields_and_stamps_auto_now(enrollment):
    stale = Enrollment.objects.get(pk=enrollment.pk)
    Enrollment.objects.filter(pk=enrollment.pk).update(error="written elsewhere")
    stale.current_step, stale.context = "b", {"steps": {"a": {"ok": True}}}
    before = timezone.now()

    assert update_fields(stale, ("current_step", "context", "updated_at")) == 1

    stored = Enrollment.objects.get(pk=enrollment.pk)
    assert (stored.current_step, stored.context) == ("b", {"steps": {"a": {"ok": True}}})
    assert stored.error == "written elsewhere"  # not named: left alone
    assert stored.updated_at >= before


def test_update_fields_only_if_writes_only_while_the_guard_holds(enrollment):
    delivery = WebhookDelivery(
        workflow_id=enrollment.workflow_id, delivery_id="g", sent_at=timezone.now()
    )
    insert_instance(delivery)
    claim = WebhookDelivery(pk=delivery.pk, outcome="enrolled", handled_at=timezone.now())

    assert update_fields(claim, ("outcome", "handled_at"), only_if={"outcome": ""}) == 1
    claim.outcome = "filtered"
    assert update_fields(claim, ("outcome",), only_if={"outcome": ""}) == 0
    assert WebhookDelivery.objects.get(pk=delivery.pk).outcome == "enrolled"


def test_values_skipped_by_prep_are_exactly_what_the_field_would_write():
    db = connection
    cases = [
        (StepLog._meta.get_field("step_id"), "a'b %s"),
        (StepLog._meta.get_field("visit"), 3),
        (StepLog._meta.get_field("enrollment"), 12),
        (StepLog._meta.get_field("possible_duplicate"), True),
        (StepLog._meta.get_field("input_tokens"), None),
    ]
    for field, value in cases:
        assert _prep(field, value, db) == field.get_db_prep_save(value, db), field.name
    # Anything else goes through the field: a str for an integer column, a subclass's value.
    assert _prep(StepLog._meta.get_field("visit"), "3", db) == 3
    phone = Contact._meta.get_field("phone")  # a CharField subclass with its own preparation
    assert isinstance(phone, models.CharField)
    assert _prep(phone, "+4930123456", db) == phone.get_db_prep_save("+4930123456", db)


def test_last_sequence_counts_every_earlier_enrollment_of_the_contact(enrollment):
    assert last_sequence(enrollment.workflow_id, enrollment.contact_id) == 1
    assert last_sequence(enrollment.workflow_id, enrollment.contact_id + 1000) == 0


# Without RETURNING is SQLite before 3.35 only (PostgreSQL always returns; psycopg has no
# lastrowid): the fallback is exercised on the SQLite the suite runs on without services.
@pytest.mark.parametrize("returning", [True, False] if connection.vendor == "sqlite" else [True])
def test_a_computed_column_is_written_and_set_with_or_without_returning(
    enrollment, monkeypatch, returning
):
    from engine.runtime.enrollment import _next_sequence_sql

    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", returning)
    Enrollment.objects.filter(pk=enrollment.pk).update(status="completed")
    again = Enrollment(
        tenant_id=enrollment.tenant_id,
        workflow_id=enrollment.workflow_id,
        version_id=enrollment.version_id,
        contact_id=enrollment.contact_id,
        reenrollable=True,
    )
    insert_instance(
        again, computed={"sequence": _next_sequence_sql(again.workflow_id, again.contact_id)}
    )

    assert again.sequence == 2
    assert Enrollment.objects.get(pk=again.pk).sequence == 2


def test_an_insert_with_a_claim_is_one_statement_and_inserts_only_while_work_is_owed(
    enrollment,
):
    from engine.triggers.webhooks import delivery_claim

    delivery = WebhookDelivery(
        workflow_id=enrollment.workflow_id, delivery_id="c", sent_at=timezone.now()
    )
    insert_instance(delivery)
    Enrollment.objects.filter(pk=enrollment.pk).update(status="completed")

    def another(sequence: int) -> Enrollment:
        return Enrollment(
            tenant_id=enrollment.tenant_id,
            workflow_id=enrollment.workflow_id,
            version_id=enrollment.version_id,
            contact_id=enrollment.contact_id,
            reenrollable=True,
            sequence=sequence,
        )

    first = another(2)
    with CaptureQueriesContext(connection) as captured:
        assert insert_instance(first, claim=delivery_claim(delivery.pk)) == first.pk
    if connection.vendor == "postgresql":  # the claim's UPDATE inside the INSERT's WITH
        assert [q["sql"][:27] for q in captured.captured_queries] == ['WITH claimed AS (UPDATE "en']
    assert first.pk is not None
    assert WebhookDelivery.objects.get(pk=delivery.pk).outcome == "enrolled"

    Enrollment.objects.filter(pk=first.pk).update(status="completed")
    late = another(3)
    assert insert_instance(late, claim=delivery_claim(delivery.pk)) is None  # done already
    assert late.pk is None
    mine = Enrollment.objects.filter(
        workflow_id=enrollment.workflow_id, contact_id=enrollment.contact_id
    )
    assert sorted(mine.values_list("sequence", flat=True)) == [1, 2]


def test_update_fields_writes_rows_inserting_with_it_in_one_statement_on_postgres(enrollment):
    enrollment.current_step = "b"
    logs = [row(enrollment, step_id="a"), row(enrollment, step_id="b", parsed_output={"n": 1})]

    with CaptureQueriesContext(connection) as captured:
        written = update_fields(enrollment, ("current_step",), inserting=(StepLog, logs))

    assert written == 1
    assert Enrollment.objects.get(pk=enrollment.pk).current_step == "b"
    stored = StepLog.objects.filter(enrollment=enrollment).order_by("id")
    assert [(log.step_id, log.parsed_output) for log in stored] == [("a", None), ("b", {"n": 1})]
    statements = [q["sql"] for q in captured.captured_queries]
    if connection.vendor == "postgresql":
        assert len(statements) == 1
        assert statements[0].startswith('WITH inserted AS (INSERT INTO "workflows_steplog"')
    else:  # the rows first (Django logs an executemany as "2 times: INSERT …"), then the UPDATE
        assert len(statements) == 2
        assert 'INSERT INTO "workflows_steplog"' in statements[0]
        assert statements[1].startswith('UPDATE "workflows_enrollment"')
    with pytest.raises(KeyError, match="no column"):
        update_fields(enrollment, ("current_step",), inserting=(StepLog, [{"nope": 1}]))


def _stored(enrollment, step_id):
    log = StepLog.objects.get(enrollment=enrollment, step_id=step_id)
    return {
        field.attname: getattr(log, field.attname)
        for field in StepLog._meta.concrete_fields
        if field.attname not in ("id", "step_id")
    }


def test_rows_written_with_an_update_are_stored_as_bound_values_would_store_them(enrollment):
    # On PostgreSQL the rows travel as one JSON parameter (jsonb_populate_recordset); what is
    # stored must be exactly what binding each value stores (insert_rows), type by type.
    started = timezone.now().replace(microsecond=123456)
    fields = {
        "parsed_output": {"nested": {"list": [1, "two", None, 2.5]}, "quote": 'it\'s "x" %s'},
        "raw_output": "a JSON string",
        "input_context": None,  # SQL NULL, as JSONField saves None
        "cost": Decimal("0.000123"),
        "input_tokens": 7,
        "output_tokens": None,
        "error_message": "näh 🙂 \\ back\nslash",
        "started_at": started,
        "finished_at": started + timezone.timedelta(milliseconds=5),
        "possible_duplicate": True,
        "visit": 3,
    }
    insert_rows(StepLog, [row(enrollment, step_id="bound", **fields)])
    with CaptureQueriesContext(connection) as captured:
        update_fields(
            enrollment, ("current_step",), inserting=(StepLog, [row(enrollment, **fields)])
        )

    assert _stored(enrollment, "a") == _stored(enrollment, "bound")
    assert StepLog.objects.filter(input_context__isnull=True, step_id="a").count() == 1
    if connection.vendor == "postgresql":
        (statement,) = [q["sql"] for q in captured.captured_queries]
        assert "jsonb_populate_recordset" in statement


def test_a_value_json_cannot_carry_is_bound_as_before(enrollment):
    # JSON null (not SQL NULL) in a JSON column is an expression: the rows are bound instead.
    json_null = models.Value(None, models.JSONField())
    logs = [row(enrollment, raw_output=json_null), row(enrollment, step_id="b")]
    with CaptureQueriesContext(connection) as captured:
        update_fields(enrollment, ("current_step",), inserting=(StepLog, logs))

    assert StepLog.objects.get(enrollment=enrollment, step_id="a").raw_output is None
    assert StepLog.objects.filter(enrollment=enrollment, raw_output__isnull=True).count() == 1
    if connection.vendor == "postgresql":
        assert "jsonb_populate_recordset" not in captured.captured_queries[0]["sql"]


def test_a_bad_value_in_json_rows_fails_as_a_bound_one_fails(enrollment):
    bad_rows = [{"step_type": None}]  # NOT NULL
    if connection.vendor == "postgresql":  # SQLite does not enforce a CharField's length
        bad_rows.append({"step_id": "x" * 101})
    for bad in bad_rows:
        with pytest.raises(Exception) as bound, transaction.atomic():
            insert_rows(StepLog, [row(enrollment, **bad)])
        logs = [row(enrollment, **bad)]
        with pytest.raises(Exception) as as_json, transaction.atomic():
            update_fields(enrollment, ("current_step",), inserting=(StepLog, logs))

        assert type(as_json.value) is type(bound.value)
        assert type(as_json.value).__name__ in ("IntegrityError", "DataError")
        assert not StepLog.objects.filter(enrollment=enrollment).exists()
