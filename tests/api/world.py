"""One tenant's worth of API objects (for the cross-tenant and role tests) and a snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from crm.models import Contact, Tenant
from engine.runtime.enrollment import enrollment_create
from prompts.models import Prompt
from prompts.services import prompt_create
from tests.cast import add_tag, make_contact, make_published
from workflows.models import (
    EnrollJob,
    Enrollment,
    StepLog,
    Workflow,
    WorkflowStep,
    WorkflowVersion,
)
from workflows.services import draft_save
from workflows.services import load_definition as load

DEFINITION = {
    "name": "Nurture",
    "trigger": {"type": "manual"},
    "steps": [
        {"id": "pause_a_day", "type": "wait", "config": {"duration": "1d"}},
        {"id": "hello", "type": "send_sms", "config": {"message": "Hi"}},
    ],
}


@dataclass
class World:
    tenant: Tenant
    workflow: int
    step: int
    contact: int
    enrollment: int
    prompt: int
    draft_prompt: int
    job: int


def build_world(tenant: Tenant, name: str = "Nurture") -> World:
    """A published workflow (draft steps too), a waiting enrollment with a log, two prompts
    (active, draft) and an enroll job, all in ``tenant``."""
    workflow = make_published(tenant, {**DEFINITION, "name": name})
    draft_save(workflow=workflow, definition=load({**DEFINITION, "name": name}))
    contact = make_contact(tenant)
    add_tag(contact, f"{tenant.slug}-only")
    enrollment = enrollment_create(workflow=workflow, contact=contact)
    StepLog.objects.create(
        tenant=tenant, workflow=workflow, enrollment=enrollment, step_id="pause_a_day",
        step_type="wait", status="waiting", started_at=timezone.now(),
    )  # fmt: skip
    prompt = prompt_create(tenant=tenant, name=f"{name} writer", system_prompt_text="Write.")
    draft = prompt_create(
        tenant=tenant, name=f"{name} draft", system_prompt_text="Draft.", status="draft"
    )
    job = EnrollJob.objects.create(tenant=tenant, workflow=workflow, selection={"filters": []})
    return World(
        tenant=tenant,
        workflow=workflow.pk,
        step=workflow.steps.order_by("order").first().pk,
        contact=contact.pk,
        enrollment=enrollment.pk,
        prompt=prompt.pk,
        draft_prompt=draft.pk,
        job=job.pk,
    )


def snapshot(tenant: Tenant) -> dict[str, Any]:
    """Every row of ``tenant`` an API call could touch, with the fields a write would change."""
    return {
        "workflows": list(
            Workflow.objects.filter(tenant=tenant)
            .order_by("id")
            .values_list("id", "name", "description", "status", "updated_at")
        ),
        "steps": list(
            WorkflowStep.objects.filter(workflow__tenant=tenant)
            .order_by("id")
            .values_list("id", "step_id", "order", "name", "config", "prompt_id")
        ),
        "versions": list(
            WorkflowVersion.objects.filter(workflow__tenant=tenant).order_by("id").values_list("id")
        ),
        "enrollments": list(
            Enrollment.objects.filter(contact__tenant=tenant)
            .order_by("id")
            .values_list("id", "workflow_id", "status", "current_step", "exit_reason")
        ),
        "prompts": list(
            Prompt.objects.filter(tenant=tenant).order_by("id").values_list("id", "status")
        ),
        "contacts": list(
            Contact.objects.filter(tenant=tenant).order_by("id").values_list("id", "updated_at")
        ),
        "logs": StepLog.objects.filter(tenant=tenant).count(),
        "jobs": list(EnrollJob.objects.filter(tenant=tenant).values_list("id", "status")),
    }
