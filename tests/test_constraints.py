"""The data model's guarantees, on whichever database DATABASE_URL names (CI runs both)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import Contact, EmailTemplate, Message, Tag, Tenant
from prompts.models import Prompt
from tests.cast import make_contact, make_published, make_tenant
from workflows.models import Enrollment, ScheduledAction, StepLog, Workflow, WorkflowStep

pytestmark = pytest.mark.django_db

FLOW = {"name": "Flow", "steps": [{"id": "done", "type": "exit"}]}


def enroll_row(workflow: Workflow, contact: Contact, **fields) -> Enrollment:
    return Enrollment.objects.create(
        tenant=workflow.tenant,
        workflow=workflow,
        version=workflow.published_version,
        contact=contact,
        **fields,
    )


def test_a_second_enrollment_of_the_same_contact_is_refused():
    tenant = make_tenant()
    workflow, contact = make_published(tenant, FLOW), make_contact(tenant)
    enroll_row(workflow, contact, status="completed")
    with pytest.raises(IntegrityError), transaction.atomic():
        enroll_row(workflow, contact)


def test_re_enrollment_allows_a_new_row_but_only_one_live_at_a_time():
    tenant = make_tenant()
    workflow, contact = make_published(tenant, FLOW), make_contact(tenant)
    enroll_row(workflow, contact, status="completed", reenrollable=True, sequence=1)
    enroll_row(workflow, contact, status="active", reenrollable=True, sequence=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        enroll_row(workflow, contact, status="waiting", reenrollable=True, sequence=3)
    assert Enrollment.objects.filter(workflow=workflow, contact=contact).count() == 2


def test_prompt_name_and_version_are_unique_per_tenant():
    tenant = make_tenant()
    Prompt.objects.create(tenant=tenant, name="welcome", version=1, system_prompt_text="Hi")
    Prompt.objects.create(tenant=tenant, name="welcome", version=2, system_prompt_text="Hi")
    Prompt.objects.create(tenant=make_tenant(), name="welcome", version=1, system_prompt_text="Hi")
    with pytest.raises(IntegrityError), transaction.atomic():
        Prompt.objects.create(tenant=tenant, name="welcome", version=1, system_prompt_text="x")


def test_step_ids_are_unique_in_a_workflow_and_asset_slugs_in_a_tenant():
    tenant = make_tenant()
    workflow = Workflow.objects.create(tenant=tenant, name="W")
    WorkflowStep.objects.create(workflow=workflow, step_id="a", type="exit")
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowStep.objects.create(workflow=workflow, step_id="a", type="wait")
    EmailTemplate.objects.create(
        tenant=tenant, slug="welcome", name="W", subject="s", body_text="b"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailTemplate.objects.create(
            tenant=tenant, slug="welcome", name="W", subject="s", body_text="b"
        )


def test_deleting_a_workflow_cascades_to_its_steps_versions_enrollments_and_logs():
    tenant = make_tenant()
    workflow, contact = make_published(tenant, FLOW), make_contact(tenant)
    WorkflowStep.objects.create(workflow=workflow, step_id="a", type="exit")
    enrollment = enroll_row(workflow, contact)
    StepLog.objects.create(
        tenant=tenant,
        workflow=workflow,
        enrollment=enrollment,
        step_id="a",
        step_type="exit",
        started_at=timezone.now(),
    )
    ScheduledAction.objects.create(
        tenant=tenant, enrollment=enrollment, step_id="a", due_at=timezone.now()
    )
    workflow.delete()
    assert not WorkflowStep.objects.exists()
    assert not Enrollment.objects.exists()
    assert not StepLog.objects.exists()
    assert not ScheduledAction.objects.exists()
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_deleting_a_tenant_removes_everything_it_owns():
    tenant = make_tenant()
    contact = make_contact(tenant, tags=["vip"])
    Message.objects.create(tenant=tenant, contact=contact, channel="sms", direction="inbound")
    make_published(tenant, FLOW)
    tenant.delete()
    assert not Contact.objects.exists()
    assert not Tag.objects.exists()
    assert not Message.objects.exists()
    assert not Workflow.objects.exists()
    assert not Tenant.objects.exists()


def test_a_deleted_prompt_leaves_its_logs_and_steps_behind():
    tenant = make_tenant()
    prompt = Prompt.objects.create(tenant=tenant, name="p", system_prompt_text="x")
    workflow = Workflow.objects.create(tenant=tenant, name="W")
    step = WorkflowStep.objects.create(
        workflow=workflow, step_id="a", type="ai_prompt", prompt=prompt
    )
    log = StepLog.objects.create(
        tenant=tenant,
        prompt=prompt,
        step_id="try",
        step_type="ai_prompt",
        started_at=timezone.now(),
    )
    prompt.delete()
    step.refresh_from_db()
    log.refresh_from_db()
    assert step.prompt_id is None
    assert log.prompt_id is None
