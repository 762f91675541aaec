"""A run of ``add_tag`` steps in one step transaction links its tags with one statement.

The steps record their links; the executor writes them (``LiveCrm.flush_links``) before any
step that could read them and before it logs the run, settling each output's ``added``. What
a reader of the database, the logs or the ``tag_added`` announcements sees is what one
statement per step gave (PostgreSQL; elsewhere each step writes its own).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import ContactTag, Tag
from engine.runtime import executor
from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_published, make_tenant
from tests.engine.runtime.test_chaining import first_task, listening_to_post_save, tag_names
from workflows.models import Enrollment, StepLog

pytestmark = pytest.mark.django_db


def add_tag(step_id: str, tag: str) -> dict:
    return {"id": step_id, "type": "add_tag", "config": {"tag": tag}}


def run(tenant, inline_queue, steps: list[dict], contact, *, ending="completed", **settings):
    """Enroll ``contact`` and run its first task, which ends the enrollment ``ending``;
    returns (captured statements, the tag links announced as created, each step's logged
    output by step id)."""
    workflow = make_published(tenant, {"name": "Tags", "settings": settings, "steps": steps})
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    enrollment_id, step_id, seq = first_task(inline_queue)
    with CaptureQueriesContext(connection) as captured, listening_to_post_save(ContactTag) as saved:
        executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)
        inline_queue.run_on_commit()
    enrollment.refresh_from_db()
    assert enrollment.status == ending, enrollment.error
    logs = StepLog.objects.filter(enrollment=enrollment).order_by("started_at", "id")
    outputs = {log.step_id: log.parsed_output for log in logs}
    return captured, [link.tag.name for link in saved], outputs


def linking(captured) -> list[str]:
    table = ContactTag._meta.db_table
    return [q["sql"] for q in captured.captured_queries if f'INSERT INTO "{table}"' in q["sql"]]


@pytest.fixture
def tenant():
    return make_tenant()


def test_a_run_of_tags_is_linked_by_one_statement_and_each_step_says_what_it_did(
    require_postgres, tenant, inline_queue
):
    for name in ("t0", "t1", "t2", "t3", "t4"):
        Tag.objects.create(tenant=tenant, name=name)
    contact = make_contact(tenant, tags=["t1"])
    steps = [add_tag(f"s{i}", f"t{i}") for i in range(5)]

    captured, announced, outputs = run(tenant, inline_queue, steps, contact)

    assert len(linking(captured)) == 1
    assert tag_names(contact) == ["t0", "t1", "t2", "t3", "t4"]
    assert [outputs[f"s{i}"]["added"] for i in range(5)] == [True, False, True, True, True]
    assert announced == ["t0", "t2", "t3", "t4"]  # the steps' order; t1 was there already


def test_a_new_tag_in_the_run_is_created_and_a_repeated_one_added_once(
    require_postgres, tenant, inline_queue
):
    Tag.objects.create(tenant=tenant, name="known")
    other = make_tenant()
    Tag.objects.create(tenant=other, name="fresh")  # another tenant's tag of the same name
    contact = make_contact(tenant)
    steps = [add_tag("a", "known"), add_tag("b", "fresh"), add_tag("c", "known")]
    steps.append(add_tag("d", "fresh"))

    _captured, announced, outputs = run(tenant, inline_queue, steps, contact)

    assert [outputs[s]["added"] for s in "abcd"] == [True, True, False, False]
    assert announced == ["known", "fresh"]
    assert tag_names(contact) == ["fresh", "known"]
    linked = ContactTag.objects.get(contact=contact, tag__name="fresh")
    assert linked.tag.tenant_id == tenant.pk
    assert Tag.objects.filter(tenant=tenant, name="fresh").count() == 1


def test_a_step_that_reads_a_deferred_output_sees_it_settled(
    require_postgres, tenant, inline_queue
):
    contact = make_contact(tenant, tags=["vip"])
    check = {
        "id": "check",
        "type": "condition",
        "config": {
            "if": [{"field": "{{ steps.a.added }}", "operator": "equals", "value": "false"}],
            "then": "had",
            "else": "new",
        },
    }
    steps = [add_tag("a", "vip"), add_tag("b", "gold"), check]
    steps += [add_tag("had", "had-vip"), {"id": "end", "type": "exit"}, add_tag("new", "new-vip")]

    _captured, announced, outputs = run(tenant, inline_queue, steps, contact)

    assert (outputs["a"]["added"], outputs["b"]["added"]) == (False, True)
    assert "had" in outputs
    assert "new" not in outputs
    assert announced == ["gold", "had-vip"]
    assert tag_names(contact) == ["gold", "had-vip", "vip"]


def test_a_templated_tag_has_the_run_before_it_written_first(
    require_postgres, tenant, inline_queue
):
    # "{{ … }}" may read anything, a deferred step's output included: the links are written
    # and settled before it renders.
    contact = make_contact(tenant, tags=["a"])
    steps = [add_tag("x", "a"), add_tag("y", "b"), add_tag("z", "was-{{ steps.x.added }}")]

    captured, announced, outputs = run(tenant, inline_queue, steps, contact)

    assert outputs["z"]["tag"] == "was-False"
    assert announced == ["b", "was-False"]
    assert len(linking(captured)) >= 2  # the run before it, then its own


def test_with_exit_conditions_each_tag_step_writes_its_own_link(
    require_postgres, tenant, inline_queue
):
    # Exit conditions and goals are checked between steps and may read any step's output.
    for name in ("one", "two", "three"):
        Tag.objects.create(tenant=tenant, name=name)
    contact = make_contact(tenant)
    steps = [add_tag("a", "one"), add_tag("b", "two"), add_tag("c", "three")]
    leave = [{"field": "{{ steps.a.added }}", "operator": "equals", "value": "maybe"}]

    captured, announced, outputs = run(tenant, inline_queue, steps, contact, exit_conditions=leave)

    assert announced == ["one", "two", "three"]
    assert [outputs[s]["added"] for s in "abc"] == [True, True, True]
    assert len(linking(captured)) == 3


def test_a_failing_step_after_a_run_of_tags_keeps_their_links(
    require_postgres, tenant, inline_queue
):
    # The failed step ends the enrollment; the tags before it were done and stay done.
    contact = make_contact(tenant)
    bad = {"id": "bad", "type": "update_contact", "config": {"fields": {"nope": 1}}}
    steps = [add_tag("a", "one"), add_tag("b", "two"), bad]
    workflow = make_published(tenant, {"name": "Fails", "steps": steps})
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    enrollment_id, step_id, seq = first_task(inline_queue)

    executor.step_run(enrollment_id=enrollment_id, step_id=step_id, seq=seq)

    assert Enrollment.objects.get(pk=enrollment.pk).status == "failed"
    assert tag_names(contact) == ["one", "two"]
    logs = StepLog.objects.filter(enrollment=enrollment)
    assert {
        log.step_id: log.parsed_output.get("added") for log in logs if log.step_id != "bad"
    } == {
        "a": True,
        "b": True,
    }


def test_a_run_of_tags_keeps_one_generic_plan_and_repeated_names_link_once(
    require_postgres, tenant
):
    """The names travel as a VALUES list of fixed length, so PostgreSQL keeps a generic plan
    for the prepared statement instead of planning it on every run (as it did for an
    ``unnest(array)`` it could not size)."""
    from engine.effects.crm_ops import link_tags_named, links_named_statement

    names = ["a", "b", "c"]
    for name in names:
        Tag.objects.create(tenant=tenant, name=name)
    contacts = [make_contact(tenant) for _ in range(16)]
    first = link_tags_named(tenant.pk, contacts[0].pk, ["a", "b", "a", "c", "nope"])
    for contact in contacts[1:]:
        link_tags_named(tenant.pk, contact.pk, names)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = %s",
            [links_named_statement(3).replace("%s", "$%d") % tuple(range(1, 7))],
        )
        plans = cursor.fetchall()

    assert sorted(first) == ["a", "b", "c"]  # "a" once; a missing tag is absent
    assert all(link is not None for _tag, link in first.values())
    assert ContactTag.objects.filter(contact=contacts[0]).count() == 3
    assert len(plans) == 1
    generic, custom = plans[0]
    # psycopg prepares it on its 5th run; PostgreSQL tries 5 custom plans, then keeps one
    assert generic >= 3
    assert custom <= 5
