"""Trigger filters written in CEL: a failing one only fails its own workflow; the contact
they read is loaded for them (issue 14, item 2)."""

from __future__ import annotations

import logging

import pytest

from crm.models import Tag
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import enrolled, listening

pytestmark = pytest.mark.django_db


def test_a_filter_that_divides_by_zero_does_not_stop_another_workflow(trigger_queue, caplog):
    tenant = make_tenant()
    broken = listening(tenant, "tag_added", filters=[{"expression": "trigger.tag.size() / 0 == 1"}])
    healthy = listening(tenant, "tag_added")
    contact = make_contact(tenant)

    with caplog.at_level(logging.WARNING):
        contact.tags.add(Tag.objects.create(tenant=tenant, name="vip"))
        trigger_queue.drain()

    assert enrolled(broken) == []
    assert enrolled(healthy) == [contact.pk]
    assert f"trigger filter of workflow {broken.pk}" in caplog.text
    assert "'trigger.tag.size() / 0 == 1' failed at run time (ZeroDivisionError" in caplog.text


def test_a_filter_made_only_of_cel_sees_the_contact(trigger_queue):
    tenant = make_tenant()
    vips = listening(tenant, "contact_updated", filters=[{"expression": "'vip' in contact.tags"}])
    vip, plain = make_contact(tenant, tags=["vip"]), make_contact(tenant)

    for contact in (vip, plain):
        contact.first_name = "Changed"
        contact.save()
    trigger_queue.drain()

    assert enrolled(vips) == [vip.pk]
