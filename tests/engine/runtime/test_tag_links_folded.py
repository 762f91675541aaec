"""The tag links a step transaction still defers at its end ride in its closing statement.

``add_tag`` predicts ``added`` from the contact's snapshot; the enrollment's UPDATE, the step
logs' INSERT and the links are one statement (``LiveCrm.folded_links``,
``rows.update_beside``). Where the database contradicts the prediction (someone changed the
contact's tags after the snapshot was read), the outputs are settled and the context and the
logs written again: what a reader sees is what the database did (PostgreSQL only).
"""

from __future__ import annotations

import pytest

from crm.models import ContactTag, Tag
from engine.effects.contacts import load_snapshot
from engine.runtime import executor
from tests.cast import make_contact, make_tenant
from tests.engine.runtime.test_chaining import tag_names
from tests.engine.runtime.test_tag_links_batched import add_tag, run
from workflows.models import Enrollment, StepLog

pytestmark = pytest.mark.django_db

LINKS = f'INSERT INTO "{ContactTag._meta.db_table}"'
ADVANCE = f'UPDATE "{Enrollment._meta.db_table}"'
LOG_FIX = f'UPDATE "{StepLog._meta.db_table}"'


def run_first_task(tenant, inline_queue, steps: list[dict], contact, ending="completed"):
    """``test_tag_links_batched.run``, with the enrollment and the statements' texts."""
    captured, announced, outputs = run(tenant, inline_queue, steps, contact, ending=ending)
    enrollment = Enrollment.objects.get(contact=contact)
    return enrollment, [q["sql"] for q in captured.captured_queries], announced, outputs


@pytest.fixture
def tenant():
    return make_tenant()


def test_the_links_are_written_by_the_statement_that_advances_the_enrollment(
    require_postgres, tenant, inline_queue
):
    for name in ("gold", "vip"):
        Tag.objects.create(tenant=tenant, name=name)
    contact = make_contact(tenant, tags=["vip"])
    steps = [add_tag("a", "gold"), add_tag("b", "vip")]

    enrollment, statements, announced, outputs = run_first_task(
        tenant, inline_queue, steps, contact
    )

    linking = [sql for sql in statements if LINKS in sql]
    assert len(linking) == 1
    assert ADVANCE in linking[0]  # no statement of their own
    assert not [sql for sql in statements if LOG_FIX in sql]  # the prediction held
    assert (outputs["a"]["added"], outputs["b"]["added"]) == (True, False)
    assert enrollment.context["steps"]["a"] == {"tag": "gold", "added": True}
    assert enrollment.context["steps"]["b"] == {"tag": "vip", "added": False}
    assert announced == ["gold"]
    assert tag_names(contact) == ["gold", "vip"]


def test_a_snapshot_the_database_contradicts_is_settled_in_the_logs_and_the_context(
    require_postgres, tenant, inline_queue, monkeypatch
):
    # The snapshot was read before someone else tagged the contact "vip" and untagged "old".
    for name in ("vip", "old", "gold"):
        Tag.objects.create(tenant=tenant, name=name)
    contact = make_contact(tenant, tags=["vip"])

    def read_before_the_change(contact_id):
        return {**load_snapshot(contact_id), "tags": ["old"]}

    monkeypatch.setattr(executor, "load_snapshot", read_before_the_change)
    steps = [add_tag("a", "vip"), add_tag("b", "old"), add_tag("c", "gold")]

    enrollment, statements, announced, outputs = run_first_task(
        tenant, inline_queue, steps, contact
    )

    expected = {"a": False, "b": True, "c": True}  # what the database did, not the guess
    assert {step: outputs[step]["added"] for step in "abc"} == expected
    assert {step: enrollment.context["steps"][step]["added"] for step in "abc"} == expected
    assert announced == ["old", "gold"]
    assert tag_names(contact) == ["gold", "old", "vip"]
    assert len([sql for sql in statements if LOG_FIX in sql]) == 2  # a and b, not c
    assert StepLog.objects.filter(enrollment=enrollment).count() == 3


def test_a_tag_the_tenant_lacks_is_created_after_the_statement_and_linked_once(
    require_postgres, tenant, inline_queue
):
    contact = make_contact(tenant)
    steps = [add_tag("a", "brand-new"), add_tag("b", "brand-new")]

    enrollment, _statements, announced, outputs = run_first_task(
        tenant, inline_queue, steps, contact
    )

    assert (outputs["a"]["added"], outputs["b"]["added"]) == (True, False)
    assert enrollment.context["steps"]["b"]["added"] is False
    assert announced == ["brand-new"]
    assert Tag.objects.filter(tenant=tenant, name="brand-new").count() == 1
    assert tag_names(contact) == ["brand-new"]


@pytest.mark.parametrize(
    ("reason", "own_statement"), [("done", False), (None, False), ("was-{{ steps.a.added }}", True)]
)
def test_an_exit_after_the_tags_leaves_them_to_the_closing_statement_unless_it_reads_them(
    require_postgres, tenant, inline_queue, reason, own_statement
):
    Tag.objects.create(tenant=tenant, name="gold")
    contact = make_contact(tenant, tags=["vip"])
    leave = {"id": "bye", "type": "exit", "config": {"reason": reason} if reason else {}}
    steps = [add_tag("a", "vip"), add_tag("b", "gold"), leave]

    enrollment, statements, announced, outputs = run_first_task(
        tenant, inline_queue, steps, contact, ending="exited"
    )

    linking = [sql for sql in statements if LINKS in sql]
    assert len(linking) == 1
    assert (ADVANCE not in linking[0]) is own_statement
    assert (outputs["a"]["added"], outputs["b"]["added"]) == (False, True)
    expected = "was-False" if own_statement else (reason or "exit")
    assert outputs["bye"]["reason"] == expected  # a template reads the settled output
    assert enrollment.exit_reason == expected
    assert announced == ["gold"]
