"""A re-enrollment that races another's commit counts its ``sequence`` again.

Its INSERT computes the next number, then waits on the one-live-enrollment index for the
other's live row; when that one commits (finished), the INSERT goes on with the number it
counted before: the same. ``enrollment_sequence_unique`` (or ``enrollment_once_is_first``
for a number 1) refuses it, and ``enrollment_create`` counts again instead of dropping the
enrollment. Two real PostgreSQL sessions: the test's own, and a thread's.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection, connections, transaction

from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_published, make_tenant
from tests.conftest import missing_service
from workflows.models import Enrollment

pytestmark = pytest.mark.django_db(transaction=True)


def reenrolling(tenant):
    steps = [{"id": "w", "type": "wait", "config": {"duration": "1h"}}]
    return make_published(
        tenant, {"name": "Again", "settings": {"allow_reenrollment": True}, "steps": steps}
    )


def some_session_waits_for_a_lock(timeout: float = 10.0) -> bool:
    """True once a session of the test database waits for a lock, asked from a connection
    of its own (the test's own is inside the transaction being raced)."""
    params = {**connection.get_connection_params(), "autocommit": True}
    deadline = time.monotonic() + timeout
    with psycopg.connect(**params) as watcher:
        while time.monotonic() < deadline:
            found = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if found.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


@pytest.mark.parametrize("earlier", [0, 2])
def test_a_reenrollment_racing_another_commit_takes_the_next_number(earlier):
    if connection.vendor != "postgresql":
        missing_service("PostgreSQL is not configured (set DATABASE_URL=postgres://…)")
    tenant = make_tenant()
    workflow = reenrolling(tenant)
    contact = make_contact(tenant)
    for _ in range(earlier):  # finished enrollments before the race: numbers 1..earlier
        done = enrollment_create(workflow=workflow, contact=contact)
        Enrollment.objects.filter(pk=done.pk).update(status="completed")
    second: dict = {}

    def enroll_second():  # its own session (a thread's connection)
        try:
            second["enrollment"] = enrollment_create(workflow=workflow, contact=contact)
        finally:
            connections["default"].close()

    with transaction.atomic():
        # The test's session: the contact's next enrollment, live, not committed yet.
        first = enrollment_create(workflow=workflow, contact=contact)
        assert first is not None
        racer = threading.Thread(target=enroll_second)
        racer.start()
        # The racer's INSERT counts the same number and waits for the live row.
        assert some_session_waits_for_a_lock(), "the second INSERT never waited"
        Enrollment.objects.filter(pk=first.pk).update(status="completed")
    # Committed: the racer goes on, with the number it counted before this commit.
    racer.join(20)

    assert not racer.is_alive()
    assert second.get("enrollment") is not None  # not dropped as "already in it"
    numbers = sorted(
        Enrollment.objects.filter(workflow=workflow, contact=contact).values_list(
            "sequence", flat=True
        )
    )
    assert numbers == list(range(1, earlier + 3))


@pytest.mark.django_db(transaction=False)
def test_the_migration_renumbers_numbers_shared_before_the_constraint(require_postgres):
    """Migration 0013 renumbers each contact's enrollments in a workflow that shared a
    number, in the order they were made; the others are left alone."""
    import importlib

    from django.apps import apps

    assert connection.in_atomic_block  # the test's transaction: the DDL below rolls back
    migration = importlib.import_module("workflows.migrations.0013_enrollment_sequence_unique")
    tenant = make_tenant()
    workflow = reenrolling(tenant)
    raced, calm = make_contact(tenant), make_contact(tenant)
    with connection.cursor() as cursor:  # as before the constraint (rolled back with the test)
        cursor.execute(
            f"ALTER TABLE {Enrollment._meta.db_table} DROP CONSTRAINT enrollment_sequence_unique"
        )
    made = []
    for contact, number in [(raced, 1), (raced, 2), (raced, 2), (raced, 3), (calm, 1), (calm, 2)]:
        row = enrollment_create(workflow=workflow, contact=contact)
        Enrollment.objects.filter(pk=row.pk).update(status="completed", sequence=number)
        made.append(row.pk)

    migration.renumber_shared_sequences(apps, None)

    numbers = dict(Enrollment.objects.filter(pk__in=made).values_list("pk", "sequence"))
    assert [numbers[pk] for pk in made] == [1, 2, 3, 4, 1, 2]


@pytest.mark.django_db(transaction=False)
def test_bulk_enrollment_counts_again_for_a_contact_a_trigger_enrolled_meanwhile(
    require_postgres, monkeypatch
):
    """A bulk chunk counts every contact's next number, then inserts. A contact a trigger
    enrolled (and finished) in between is refused by its number and counted again, instead
    of being skipped; a contact with a live enrollment is still skipped."""
    from engine.runtime import bulk_enroll

    tenant = make_tenant()
    workflow = reenrolling(tenant)
    raced, live, fresh = make_contact(tenant), make_contact(tenant), make_contact(tenant)
    enrollment_create(workflow=workflow, contact=live)  # waiting: live
    counted = bulk_enroll._next_sequences
    passes = []

    def counted_before_the_trigger(workflow, contact_ids):
        passes.append(sorted(contact_ids))
        numbers = counted(workflow, contact_ids)
        if raced.pk in contact_ids and not getattr(counted_before_the_trigger, "done", False):
            counted_before_the_trigger.done = True
            # The trigger's enrollment commits after this count: number 1, finished.
            made = enrollment_create(workflow=workflow, contact=raced)
            Enrollment.objects.filter(pk=made.pk).update(status="completed")
        return numbers

    monkeypatch.setattr(bulk_enroll, "_next_sequences", counted_before_the_trigger)

    enrolled = bulk_enroll.enrollments_bulk_create(
        workflow=workflow, contact_ids=[raced.pk, live.pk, fresh.pk]
    )

    assert enrolled == 2  # raced (as its second) and fresh; live was in it already
    # The second pass counts only the contact that lost the race, not the live one.
    assert passes == [sorted([raced.pk, live.pk, fresh.pk]), [raced.pk]]
    numbers = {
        contact.pk: sorted(
            Enrollment.objects.filter(workflow=workflow, contact=contact).values_list(
                "sequence", flat=True
            )
        )
        for contact in (raced, live, fresh)
    }
    assert numbers == {raced.pk: [1, 2], live.pk: [1], fresh.pk: [1]}
