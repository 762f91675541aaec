"""50 concurrent identical triggers for one (workflow, contact) give exactly one enrollment."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from engine.triggers.bus import make_event
from engine.triggers.dispatch import events_dispatch
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import listening
from workflows.models import Enrollment


@pytest.mark.postgres
def test_fifty_concurrent_identical_triggers_enroll_once(
    require_postgres, transactional_db, trigger_queue
):
    tenant = make_tenant()
    workflow = listening(tenant, "tag_added")
    contact = make_contact(tenant)
    event = make_event(
        kinds=["tag_added"], tenant_id=tenant.pk, contact_id=contact.pk, data={"tag": "vip"}
    )
    start = threading.Barrier(50)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            results.append(events_dispatch(events=[event]))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Enrollment.objects.filter(workflow=workflow, contact=contact).count() == 1
    assert sorted(len(r) for r in results) == [0] * 49 + [1]
