"""Hot queries compiled once per process (engine/effects/prepared.py)."""

from __future__ import annotations

import pytest
from django.db import connection

from crm.models import Contact
from engine.effects import prepared
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import listening
from tests.triggers.test_webhooks import post

pytestmark = pytest.mark.django_db


def test_the_webhooks_lookups_and_the_contact_load_are_prepared(
    require_postgres, client, trigger_queue
):
    # A parameter order that does not match the probes would silently fall back to the ORM
    # (and warn once per process): each hot query must really be prepared.
    # Without contact creation the lookup runs inside the delivery's INSERT ("contact id by");
    # with it, on its own in the transaction ("contact by").
    for create in (False, True):
        for match_by, value in (("email", "ann@example.com"), ("phone", "+4930123456")):
            tenant = make_tenant()
            config = {"match_by": match_by, "create": create}
            workflow = listening(tenant, "webhook", config=config)
            contact = make_contact(tenant, email="ann@example.com", phone="+4930123456")
            assert post(client, workflow, {match_by: value}).status_code == 202
            trigger_queue.drain()
            assert workflow.enrollments.get().contact_id == contact.pk
    # A workflow changed between request and task: the task reads it (by id).
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email"})
    make_contact(tenant, email="ann@example.com")
    assert post(client, workflow, {"email": "ann@example.com"}).status_code == 202
    workflow.__class__.objects.filter(pk=workflow.pk).update(status="paused")
    trigger_queue.drain()

    keys = {
        ("webhook: workflow by token", True),  # with the row version (PostgreSQL)
        *(("webhook: contact id by", match_by, "crm.Contact") for match_by in ("email", "phone")),
        *(("webhook: contact by", match_by, "crm.Contact") for match_by in ("email", "phone")),
        ("contact with tags", "crm.Contact"),
        "enroll: workflow by id",
    }
    assert {key for key in keys if prepared._SQL.get(key) is not None} == keys


def test_a_shape_that_reorders_its_values_falls_back_to_the_orm(caplog):
    tenant = make_tenant()
    ann = make_contact(tenant, email="ann@example.com")

    def build(tenant_id, email):  # one filter() call sorts its keywords: email comes first
        return Contact.objects.filter(tenant_id=tenant_id, email=email)

    found = prepared.first_row(
        key="test: reordered", build=build, probes=[-1, "probe"], values=[tenant.pk, ann.email]
    )
    assert found == ann
    if connection.vendor == "postgresql":
        assert prepared._SQL["test: reordered"] is None
        assert "not its probes" in caplog.text


def test_no_row_is_none(require_postgres):
    tenant = make_tenant()
    found = prepared.first_row(
        key="test: by email",
        build=lambda tenant_id, email: Contact.objects.filter(tenant_id=tenant_id).filter(
            email=email
        ),
        probes=[-1, "probe"],
        values=[tenant.pk, "nobody@example.com"],
    )
    assert found is None


def test_the_enrollment_lock_is_prepared_with_its_for_update(require_postgres):
    from engine.runtime.enrollment import enrollment_create
    from engine.runtime.executor import lock_enrollment
    from tests.cast import make_published

    tenant = make_tenant()
    steps = [{"id": "a", "type": "wait", "config": {"duration": "1h"}}]
    workflow = make_published(tenant, {"name": "Lock", "steps": steps})
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))

    locked = lock_enrollment(enrollment.pk)
    assert (locked.pk, locked.status) == (enrollment.pk, "active")
    assert lock_enrollment(enrollment.pk + 10_000) is None
    sql, _model = prepared._SQL["executor: lock enrollment"]
    assert sql.rstrip().endswith("FOR UPDATE")
