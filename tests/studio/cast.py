"""A tenant with one row of every model the studio shows, each carrying a recognisable mark."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Permission
from django.utils import timezone

from crm.models import Booking, Call, EmailTemplate, Message, Task, Tenant, VoicemailDrop
from engine.definition import load_definition
from prompts.models import Prompt
from tests.cast import make_contact, make_published, make_staff, make_tenant
from workflows.models import EnrollJob, Enrollment, ScheduledAction, StepLog
from workflows.services import draft_save

STUDIO_APPS = ["crm", "workflows", "prompts"]


def flow(mark: str) -> dict:
    """A small valid workflow whose names and step ids carry ``mark``."""
    return {
        "name": f"{mark} flow",
        "trigger": {"type": "tag_added", "config": {"tag": f"{mark}-tag"}},
        "steps": [
            {"id": f"{mark}_wait", "type": "wait", "config": {"duration": "1h"}},
            {"id": f"{mark}_done", "type": "exit", "config": {"reason": f"{mark} reason"}},
        ],
    }


def populate(mark: str, tenant: Tenant | None = None) -> dict:
    """One row of each studio model in ``tenant`` (new when None), named with ``mark``."""
    tenant = tenant or make_tenant(mark.lower(), name=f"{mark} Inc")
    contact = make_contact(
        tenant, first_name=mark, last_name="Person", email=f"{mark.lower()}@x.test", tags=[mark]
    )
    now = timezone.now()
    Message.objects.create(
        tenant=tenant, contact=contact, channel="sms", direction="in", body=f"{mark} hello"
    )
    Call.objects.create(tenant=tenant, contact=contact, direction="in", status="missed")
    Booking.objects.create(tenant=tenant, contact=contact, title=f"{mark} booking", starts_at=now)
    Task.objects.create(tenant=tenant, contact=contact, title=f"{mark} task", due_at=now)
    EmailTemplate.objects.create(
        tenant=tenant,
        slug=f"{mark.lower()}-tpl",
        name=f"{mark} template",
        subject="Hi",
        body_text="Hello",
    )
    VoicemailDrop.objects.create(tenant=tenant, slug=f"{mark.lower()}-vm", name=f"{mark} voicemail")
    prompt = Prompt.objects.create(tenant=tenant, name=f"{mark} prompt", system_prompt_text="Hi")
    definition = flow(mark)
    workflow = make_published(tenant, definition)
    draft_save(workflow=workflow, definition=load_definition(definition))
    enrollment = Enrollment.objects.create(
        tenant=tenant,
        workflow=workflow,
        version=workflow.published_version,
        contact=contact,
        status=Enrollment.Status.WAITING,
        current_step=f"{mark}_wait",
    )
    StepLog.objects.create(
        tenant=tenant,
        workflow=workflow,
        version=workflow.published_version,
        enrollment=enrollment,
        step_id=f"{mark}_wait",
        step_type="wait",
        status=StepLog.Status.WAITING,
        started_at=now,
    )
    ScheduledAction.objects.create(
        tenant=tenant,
        enrollment=enrollment,
        step_id=f"{mark}_wait",
        kind=ScheduledAction.Kind.RESUME,
        due_at=now + timedelta(hours=1),
    )
    EnrollJob.objects.create(
        tenant=tenant, workflow=workflow, selection={"contact_ids": [contact.pk]}, total=1
    )
    return {"tenant": tenant, "contact": contact, "workflow": workflow, "prompt": prompt}


def studio_staff(tenant: Tenant, role: str = "owner"):
    """A staff member of ``tenant`` with ``role`` and the studio apps' model permissions."""
    user = make_staff(tenant)
    user.tenant_memberships.update(role=role)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=STUDIO_APPS))
    return user
