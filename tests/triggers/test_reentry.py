""" "Once per contact" counts every earlier enrollment of a workflow, whatever its version."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from engine.runtime.bulk_enroll import enrollments_bulk_create
from engine.runtime.enrollment import enrollment_create
from engine.triggers.matching import invalidate
from tests.cast import add_tag, make_contact, make_tenant, publish_raw
from tests.triggers.helpers import WAIT_STEP, listening
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db

PROMOTION = {"type": "tag_added", "config": {"tag": "promo"}}


def republish(workflow, *, allow_reenrollment: bool) -> None:
    definition = dict(workflow.published_version.definition)
    definition["settings"] = {"allow_reenrollment": allow_reenrollment}
    publish_raw(workflow, definition)
    invalidate()


def test_a_contact_who_completed_v1_is_not_enrolled_again_once_v2_turns_reentry_off(
    trigger_queue,
):
    tenant = make_tenant()
    workflow = listening(tenant, "tag_added", config={"tag": "promo"}, allow_reenrollment=True)
    contact = make_contact(tenant)
    add_tag(contact, "promo")
    trigger_queue.drain()
    Enrollment.objects.filter(workflow=workflow).update(status="completed")
    republish(workflow, allow_reenrollment=False)

    contact.tags.clear()
    add_tag(contact, "promo")
    trigger_queue.drain()

    assert Enrollment.objects.filter(workflow=workflow, contact=contact).count() == 1


def test_a_version_that_allows_reentry_may_follow_one_that_did_not():
    tenant = make_tenant()
    workflow = listening(tenant, "manual")
    contact = make_contact(tenant)
    first = enrollment_create(workflow=workflow, contact=contact)
    Enrollment.objects.filter(pk=first.pk).update(status="completed")
    assert enrollment_create(workflow=workflow, contact=contact) is None
    republish(workflow, allow_reenrollment=True)
    second = enrollment_create(workflow=workflow, contact=contact)
    assert (first.sequence, second.sequence) == (1, 2)


def test_bulk_enrollment_skips_contacts_enrolled_under_any_earlier_version():
    tenant = make_tenant()
    workflow = listening(tenant, "manual", allow_reenrollment=True)
    old, new = make_contact(tenant), make_contact(tenant)
    done = enrollment_create(workflow=workflow, contact=old)
    Enrollment.objects.filter(pk=done.pk).update(status="completed")
    republish(workflow, allow_reenrollment=False)

    count = enrollments_bulk_create(workflow=workflow, contact_ids=[old.pk, new.pk])

    assert count == 1
    rows = Enrollment.objects.filter(workflow=workflow)
    assert sorted(rows.values_list("contact_id", "sequence")) == [(old.pk, 1), (new.pk, 1)]


def test_bulk_re_enrollment_numbers_each_contacts_enrollments():
    tenant = make_tenant()
    workflow = listening(tenant, "manual", allow_reenrollment=True)
    contact = make_contact(tenant)
    done = enrollment_create(workflow=workflow, contact=contact)
    Enrollment.objects.filter(pk=done.pk).update(status="completed")
    assert enrollments_bulk_create(workflow=workflow, contact_ids=[contact.pk]) == 1
    latest = Enrollment.objects.filter(workflow=workflow).order_by("-sequence").first()
    assert latest.sequence == 2


def row(workflow, contact, **fields):
    return Enrollment.objects.create(
        tenant=workflow.tenant,
        workflow=workflow,
        version=workflow.published_version,
        contact=contact,
        **fields,
    )


def test_the_database_refuses_a_once_only_enrollment_after_any_earlier_one():
    tenant = make_tenant()
    workflow = listening(tenant, "manual", steps=[WAIT_STEP])
    contact = make_contact(tenant)
    row(workflow, contact, status="completed", reenrollable=True, sequence=1)
    # A later version without re-enrollment: whether it claims to be first or second.
    with pytest.raises(IntegrityError), transaction.atomic():
        row(workflow, contact, reenrollable=False, sequence=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        row(workflow, contact, reenrollable=False, sequence=2)
    row(workflow, contact, reenrollable=True, sequence=2)
