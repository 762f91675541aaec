from __future__ import annotations

from pathlib import Path

import pytest

from crm.models import EmailTemplate, VoicemailDrop
from engine.definition import DefinitionError
from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_tenant
from workflows.models import Workflow
from workflows.selectors import version_diff, workflow_export, workflow_stats
from workflows.services import (
    PublishRefused,
    WorkflowStateError,
    draft_definition,
    workflow_archive,
    workflow_import,
    workflow_import_and_publish,
    workflow_pause,
    workflow_publish,
    workflow_restore,
    workflow_resume,
    workflow_rollback,
)

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SIMPLE = """
name: Welcome
trigger: {type: manual}
steps:
  - id: hello
    type: wait
    config: {duration: 1d}
  - id: bye
    type: exit
    config: {reason: done}
"""


@pytest.fixture
def tenant():
    tenant = make_tenant("acme")
    for slug in ("welcome", "reminder"):
        EmailTemplate.objects.create(
            tenant=tenant, slug=slug, name=slug, subject="Hi", body_text="Hello"
        )
    VoicemailDrop.objects.create(tenant=tenant, slug="intro", name="Intro", transcript="Hi")
    return tenant


def test_import_creates_a_draft_with_step_rows_and_updates_it_by_name(tenant):
    first = workflow_import(tenant=tenant, text=SIMPLE)
    assert first.created is True
    assert first.result.ok
    workflow = first.workflow
    assert workflow.status == Workflow.Status.DRAFT
    assert list(workflow.steps.values_list("step_id", "type", "order")) == [
        ("hello", "wait", 0),
        ("bye", "exit", 1),
    ]
    again = workflow_import(tenant=tenant, text=SIMPLE.replace("1d", "2d"))
    assert again.created is False
    assert again.workflow.pk == workflow.pk
    assert workflow.steps.get(step_id="hello").config == {"duration": "2d"}


def test_publishing_twice_gives_versions_1_and_2_and_enrollments_keep_theirs(tenant):
    workflow = workflow_import(tenant=tenant, text=SIMPLE).workflow
    v1 = workflow_publish(workflow=workflow)
    workflow.refresh_from_db()
    assert (v1.number, workflow.status) == (1, Workflow.Status.ACTIVE)
    enrollment = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    workflow_import(tenant=tenant, text=SIMPLE.replace("1d", "3d"))
    v2 = workflow_publish(workflow=workflow)
    assert v2.number == 2
    enrollment.refresh_from_db()
    assert enrollment.version_id == v1.pk
    assert v1.definition["steps"][0]["config"] == {"duration": "1d"}
    workflow.refresh_from_db()
    later = enrollment_create(workflow=workflow, contact=make_contact(tenant))
    assert later.version_id == v2.pk


def test_a_draft_with_errors_cannot_be_published_and_says_why(tenant):
    broken = SIMPLE.replace(
        "type: exit\n    config: {reason: done}", "type: exit\n    next: nowhere"
    )
    workflow = workflow_import(tenant=tenant, text=broken).workflow
    with pytest.raises(PublishRefused) as refused:
        workflow_publish(workflow=workflow)
    assert "steps[1].next: unknown step 'nowhere'" in str(refused.value)
    assert workflow.versions.count() == 0


def test_pause_resume_archive_and_restore_follow_the_allowed_moves(tenant):
    workflow = workflow_import(tenant=tenant, text=SIMPLE).workflow
    with pytest.raises(WorkflowStateError, match="is draft; cannot make it paused"):
        workflow_pause(workflow=workflow)
    workflow_publish(workflow=workflow)
    workflow.refresh_from_db()
    assert workflow_pause(workflow=workflow).status == "paused"
    assert workflow_resume(workflow=workflow).status == "active"
    assert workflow_archive(workflow=workflow).status == "archived"
    with pytest.raises(WorkflowStateError, match="archived; restore it first"):
        workflow_publish(workflow=workflow)
    assert workflow_restore(workflow=workflow).status == "paused"


def test_versions_diff_and_roll_back(tenant):
    workflow = workflow_import(tenant=tenant, text=SIMPLE).workflow
    workflow_publish(workflow=workflow)
    workflow_import(
        tenant=tenant,
        text=SIMPLE.replace("1d", "2d")
        + "  - id: extra\n    type: exit\n    config: {reason: extra}\n",
    )
    workflow_publish(workflow=workflow)
    diff = version_diff(workflow=workflow, old=1, new=2)
    assert diff["added"] == ["extra"]
    assert diff["changed"] == ["hello"]
    assert diff["removed"] == []
    assert "-      duration: 1d" in diff["text"]
    workflow_rollback(workflow=workflow, number=1)
    assert [s.step_id for s in workflow.steps.all()] == ["hello", "bye"]
    assert workflow_export(workflow=workflow) == workflow_export(workflow=workflow, version=1)


@pytest.mark.parametrize("path", sorted(EXAMPLES.iterdir()), ids=lambda p: p.name)
def test_every_example_imports_publishes_and_exports_back_identical(tenant, path):
    from prompts.models import Prompt

    Prompt.objects.create(tenant=tenant, name="generate_workout_plan", system_prompt_text="x")
    imported = workflow_import(tenant=tenant, text=path.read_text())
    assert imported.result.errors == []
    workflow_publish(workflow=imported.workflow)
    for fmt in ("yaml", "json"):
        exported = workflow_export(workflow=imported.workflow, fmt=fmt)
        again = workflow_import(tenant=tenant, text=exported)
        assert draft_definition(workflow=again.workflow) == draft_definition(
            workflow=imported.workflow
        )


def test_unreadable_documents_are_refused_with_the_problem(tenant):
    with pytest.raises(DefinitionError, match="line"):
        workflow_import(tenant=tenant, text="name: [unclosed")
    assert not Workflow.objects.exists()


def test_stats_count_enrollments_by_status(tenant):
    workflow = workflow_import(tenant=tenant, text=SIMPLE).workflow
    workflow_publish(workflow=workflow)
    workflow.refresh_from_db()
    for _ in range(3):
        enrollment_create(workflow=workflow, contact=make_contact(tenant))
    stats = workflow_stats(workflow=workflow)
    assert stats["enrolled"] == 3
    assert stats["active"] == 3
    assert stats["success_rate"] is None


def test_publishing_or_reimporting_an_unchanged_draft_keeps_the_live_version(tenant):
    workflow = workflow_import(tenant=tenant, text=SIMPLE).workflow
    v1 = workflow_publish(workflow=workflow)
    assert workflow_publish(workflow=workflow).pk == v1.pk
    again = workflow_import_and_publish(tenant=tenant, text=SIMPLE, publish=True)
    assert again.version.pk == v1.pk
    assert workflow.versions.count() == 1
    workflow_import(tenant=tenant, text=SIMPLE.replace("1d", "3d"))
    assert workflow_publish(workflow=workflow).number == 2
