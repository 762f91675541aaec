"""Writes on workflows: import, draft edits, publish, pause/resume/archive, rollback.

The admin, the API and the management commands are thin layers over these functions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from crm.models import EmailTemplate, Tenant, VoicemailDrop
from engine.definition import (
    DefinitionError,
    Problem,
    ValidationContext,
    ValidationResult,
    WorkflowDefinition,
    definition_to_dict,
    load_definition,
    parse_definition,
    validate_definition,
)
from prompts.models import Prompt
from prompts.services import prompt_step_problems

from .models import Workflow, WorkflowStep, WorkflowVersion
from .signals import workflow_changed


class PublishRefused(Exception):
    """The draft has validation errors; ``result`` lists them with their paths."""

    def __init__(self, workflow: Workflow, result: ValidationResult):
        self.result = result
        lines = "\n".join(f"  {p}" for p in result.errors)
        super().__init__(f"workflow '{workflow.name}' cannot be published:\n{lines}")


class WorkflowStateError(Exception):
    pass


@dataclass
class ImportResult:
    workflow: Workflow
    created: bool
    result: ValidationResult
    legacy: bool


def validation_context(*, tenant: Tenant) -> ValidationContext:
    """What exists in this tenant, so references to prompts and assets can be checked."""

    return ValidationContext(
        # The prompt library checks what an ai_prompt step will need (version, variables).
        prompt_check=lambda use: prompt_step_problems(tenant=tenant, use=use),
        template_slugs=set(
            EmailTemplate.objects.filter(tenant=tenant).values_list("slug", flat=True)
        ),
        voicemail_slugs=set(
            VoicemailDrop.objects.filter(tenant=tenant).values_list("slug", flat=True)
        ),
    )


def definition_validate(*, tenant: Tenant, definition: WorkflowDefinition) -> ValidationResult:
    return validate_definition(definition, ctx=validation_context(tenant=tenant))


def draft_definition(*, workflow: Workflow) -> WorkflowDefinition:
    """The draft (workflow fields + step rows) as a definition."""
    return load_definition(draft_dict(workflow=workflow))


def draft_dict(*, workflow: Workflow) -> dict[str, Any]:
    steps = []
    for row in workflow.steps.order_by("order", "id"):
        step: dict[str, Any] = {"id": row.step_id, "type": row.type}
        if row.name:
            step["name"] = row.name
        if row.config:
            step["config"] = row.config
        if row.delay:
            step["delay"] = row.delay
        if row.next_step:
            step["next"] = row.next_step
        if row.on_error:
            step["on_error"] = row.on_error
        steps.append(step)
    trigger: dict[str, Any] = {"type": workflow.trigger_type}
    if workflow.trigger_config:
        trigger["config"] = workflow.trigger_config
    if workflow.trigger_filters:
        trigger["filters"] = workflow.trigger_filters
    data: dict[str, Any] = {
        "name": workflow.name,
        "description": workflow.description,
        "trigger": trigger,
        "settings": workflow.settings or {},
        "steps": steps,
    }
    metadata = (workflow.settings or {}).get("_metadata")
    if metadata:
        data["metadata"] = metadata
        data["settings"] = {k: v for k, v in data["settings"].items() if k != "_metadata"}
    return data


@transaction.atomic
def draft_save(*, workflow: Workflow, definition: WorkflowDefinition) -> Workflow:
    """Replace the draft with ``definition`` (workflow fields and every step row)."""
    data = definition_to_dict(definition)
    trigger = data.get("trigger") or {}
    settings = dict(data.get("settings") or {})
    if data.get("metadata"):
        settings["_metadata"] = data["metadata"]
    workflow.name = data["name"]
    workflow.description = data.get("description", "")
    workflow.trigger_type = trigger.get("type", "manual")
    workflow.trigger_config = trigger.get("config") or {}
    workflow.trigger_filters = trigger.get("filters") or []
    workflow.settings = settings
    workflow.save()
    workflow.steps.all().delete()
    prompts = _prompt_ids(workflow.tenant_id, data.get("steps") or [])
    WorkflowStep.objects.bulk_create(
        [
            WorkflowStep(
                workflow=workflow,
                step_id=step["id"],
                order=position,
                name=step.get("name", ""),
                type=step["type"],
                config=step.get("config") or {},
                delay=str(step.get("delay") or ""),
                next_step=step.get("next") or "",
                on_error=step.get("on_error") or "",
                prompt_id=prompts.get((step.get("config") or {}).get("prompt")),
            )
            for position, step in enumerate(data.get("steps") or [])
        ]
    )
    return workflow


def _prompt_ids(tenant_id: int, steps: list[dict]) -> dict[str, int]:
    names = {(s.get("config") or {}).get("prompt") for s in steps if s.get("type") == "ai_prompt"}
    found: dict[str, int] = {}
    for prompt in Prompt.objects.filter(tenant_id=tenant_id, name__in=names).order_by("version"):
        found[prompt.name] = prompt.pk
    return found


@transaction.atomic
def workflow_import(
    *, tenant: Tenant, text: str | bytes, format: str | None = None
) -> ImportResult:
    """Create or update (by name) a draft from YAML or JSON; DefinitionError if unreadable."""
    parsed = parse_definition(text, format=format)
    definition = parsed.definition
    workflow = Workflow.objects.filter(tenant=tenant, name=definition.name).first()
    created = workflow is None
    if workflow is None:
        workflow = Workflow(tenant=tenant, name=definition.name)
    workflow.source_text = text if isinstance(text, str) else text.decode("utf-8", "replace")
    workflow.source_format = parsed.format
    draft_save(workflow=workflow, definition=definition)
    result = definition_validate(tenant=tenant, definition=definition)
    return ImportResult(workflow=workflow, created=created, result=result, legacy=parsed.legacy)


def checksum_of(definition: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


@transaction.atomic
def workflow_publish(*, workflow: Workflow, user=None, note: str = "") -> WorkflowVersion:
    """Validate the draft and freeze it as the next version; running enrollments keep theirs."""
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if workflow.status == Workflow.Status.ARCHIVED:
        raise WorkflowStateError(f"workflow '{workflow.name}' is archived; restore it first")
    try:
        definition = draft_definition(workflow=workflow)
    except DefinitionError as exc:
        raise PublishRefused(workflow, ValidationResult(errors=list(exc.problems))) from None
    result = definition_validate(tenant=workflow.tenant, definition=definition)
    if not result.ok:
        raise PublishRefused(workflow, result)
    compiled = definition_to_dict(definition)
    number = (workflow.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = WorkflowVersion.objects.create(
        workflow=workflow,
        number=number,
        definition=compiled,
        checksum=checksum_of(compiled),
        note=note,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    workflow.published_version = version
    workflow.published_at = timezone.now()
    workflow.status = Workflow.Status.ACTIVE
    workflow.save(update_fields=["published_version", "published_at", "status", "updated_at"])
    _announce(workflow)
    return version


def _set_status(workflow: Workflow, status: str, *, allowed_from: set[str]) -> Workflow:
    if workflow.status not in allowed_from:
        raise WorkflowStateError(
            f"workflow '{workflow.name}' is {workflow.status}; cannot make it {status}"
        )
    if status == Workflow.Status.ACTIVE and workflow.published_version_id is None:
        raise WorkflowStateError(f"workflow '{workflow.name}' has never been published")
    workflow.status = status
    workflow.save(update_fields=["status", "updated_at"])
    _announce(workflow)
    return workflow


def workflow_pause(*, workflow: Workflow) -> Workflow:
    """Stop enrolling; enrollments already inside keep going."""
    return _set_status(workflow, Workflow.Status.PAUSED, allowed_from={Workflow.Status.ACTIVE})


def workflow_resume(*, workflow: Workflow) -> Workflow:
    return _set_status(workflow, Workflow.Status.ACTIVE, allowed_from={Workflow.Status.PAUSED})


def workflow_archive(*, workflow: Workflow) -> Workflow:
    return _set_status(
        workflow,
        Workflow.Status.ARCHIVED,
        allowed_from={Workflow.Status.DRAFT, Workflow.Status.ACTIVE, Workflow.Status.PAUSED},
    )


def workflow_restore(*, workflow: Workflow) -> Workflow:
    """Bring an archived workflow back as paused (or draft if never published)."""
    target = Workflow.Status.PAUSED if workflow.published_version_id else Workflow.Status.DRAFT
    return _set_status(workflow, target, allowed_from={Workflow.Status.ARCHIVED})


def workflow_rollback(*, workflow: Workflow, number: int) -> Workflow:
    """Make version ``number`` the draft again (publish it to make it live)."""
    version = workflow.versions.get(number=number)
    return draft_save(workflow=workflow, definition=load_definition(version.definition))


def _announce(workflow: Workflow) -> None:
    transaction.on_commit(
        lambda: workflow_changed.send(
            sender=Workflow, workflow_id=workflow.pk, tenant_id=workflow.tenant_id
        )
    )


def problems_text(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)
