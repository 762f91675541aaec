"""Writes on workflows: import, draft edits, publish, pause/resume/archive, rollback.

The admin, the API and the management commands are thin layers over these functions.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from crm.models import EmailTemplate, Tenant, VoicemailDrop
from crm.phones import sample_mobile
from crm.text import lf, lf_all
from engine.definition import (
    DefinitionError,
    Problem,
    ValidationContext,
    ValidationResult,
    WorkflowDefinition,
    definition_to_dict,
    dump_yaml,
    load_definition,
    parse_definition,
    validate_definition,
)
from engine.definition.yamlio import dump_yaml_data
from engine.dryrun import dry_run
from engine.effects.contacts import contact_adapter, contact_model
from engine.runtime import queue
from engine.runtime.enrollment import EnrollmentRefused, enrollment_create, enrollment_exit
from engine.runtime.executor import end_waiting_logs
from engine.runtime.retry import RetryStarted
from engine.runtime.retry import enrollment_retry as runtime_retry
from engine.triggers.audience import contacts_matching
from engine.triggers.manual import ManualEnrollError, manual_enroll
from prompts.models import Prompt
from prompts.services import prompt_step_problems

from .models import (
    EnrollJob,
    Enrollment,
    ScheduledAction,
    Workflow,
    WorkflowStep,
    WorkflowVersion,
    new_webhook_secret,
)
from .signals import workflow_changed

logger = logging.getLogger(__name__)


class PublishRefused(Exception):
    """The draft has validation errors; ``result`` lists them with their paths."""

    def __init__(self, workflow: Workflow, result: ValidationResult):
        self.result = result
        lines = "\n".join(f"  {p}" for p in result.errors)
        super().__init__(f"workflow '{workflow.name}' cannot be published:\n{lines}")


class WorkflowStateError(Exception):
    """The workflow (or enrollment) is not in a state that allows this; the message says why."""


class WorkflowNameTaken(ValueError):
    """Another workflow of the tenant already has this name."""


class StepOrderError(ValueError):
    """A reorder that does not name every draft step exactly once."""


class WorkflowBusy(WorkflowStateError):
    """Deleting a workflow with live enrollments needs ``force`` (which exits them first)."""


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
        custom_fields=_custom_field_paths(tenant),
    )


# How many contacts (most recently updated first) tell which custom fields exist.
CUSTOM_FIELD_SAMPLE = 1000


def _custom_field_paths(tenant: Tenant) -> frozenset[str] | None:
    """Every custom field path (``company``, ``company.size``) on a sample of the tenant's
    contacts: the contact schema that validation warns against (None: a host contact model
    without ``custom_fields``)."""
    model = contact_model()
    if not any(field.name == "custom_fields" for field in model._meta.get_fields()):
        return None
    rows = (
        model.objects.filter(tenant=tenant)
        .exclude(custom_fields={})
        .order_by("-updated_at")
        .values_list("custom_fields", flat=True)[:CUSTOM_FIELD_SAMPLE]
    )
    paths: set[str] = set()
    pending = [(data, "") for data in rows]
    while pending:
        data, prefix = pending.pop()
        for key, value in (data or {}).items() if isinstance(data, dict) else ():
            if "." in str(key):
                continue  # a flat key with a dot is no path: dots nest
            paths.add(f"{prefix}{key}")
            if isinstance(value, dict):
                pending.append((value, f"{prefix}{key}."))
    return frozenset(paths)


def definition_validate(*, tenant: Tenant, definition: WorkflowDefinition) -> ValidationResult:
    return validate_definition(definition, ctx=validation_context(tenant=tenant))


def draft_definition(*, workflow: Workflow) -> WorkflowDefinition:
    """The draft (workflow fields + step rows) as a definition."""
    return load_definition(draft_dict(workflow=workflow))


def draft_with_lines(*, workflow: Workflow, definition: WorkflowDefinition) -> WorkflowDefinition:
    """``definition`` (the draft) with source lines, so problems can say where.

    The lines are those of the imported document while the draft is unchanged since the
    import, else those of the draft's YAML export (``GET …/export``).
    """
    for text in (workflow.source_text, dump_yaml(definition)):
        if not text:
            continue
        try:
            parsed = parse_definition(text)
        except DefinitionError:
            continue
        if parsed.definition == definition:
            return parsed.definition
    return definition


@dataclass
class DraftPreview:
    """An unsaved draft as the studio previews it: ``yaml`` (the canonical YAML, or the raw
    document when it cannot be read as a definition), ``errors`` and ``warnings`` (Problems
    whose paths point into ``steps[i]`` of ``step_ids``)."""

    yaml: str
    errors: list[Problem]
    warnings: list[Problem]
    step_ids: list[str]


def draft_preview(
    *, workflow: Workflow, steps: list[WorkflowStep], tenant: Tenant | None
) -> DraftPreview:
    """The definition that saving ``workflow`` (unsaved field values) with ``steps`` (unsaved
    rows, in order) would make, checked like a saved draft; nothing is written. Without a
    ``tenant`` (none chosen yet) only the shape is checked, not the tenant's prompts/assets."""
    data = draft_dict(workflow=workflow, steps=steps)
    step_ids = [row.step_id for row in steps]
    try:
        definition = load_definition(data)
    except DefinitionError as exc:
        return DraftPreview(dump_yaml_data(data), list(exc.problems), [], step_ids)
    if tenant is None:
        return DraftPreview(dump_yaml(definition), [], [], step_ids)
    result = definition_validate(tenant=tenant, definition=definition)
    return DraftPreview(dump_yaml(definition), result.errors, result.warnings, step_ids)


def draft_dict(*, workflow: Workflow, steps: list[WorkflowStep] | None = None) -> dict[str, Any]:
    """The draft as a definition document: ``workflow``'s fields and its step rows (``steps``,
    unsaved rows in order, when given; else the saved rows)."""
    steps_out = []
    rows = workflow.steps.order_by("order", "id") if steps is None else steps
    for row in rows:
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
        steps_out.append(step)
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
        "steps": steps_out,
    }
    metadata = (workflow.settings or {}).get("_metadata")
    if metadata:
        data["metadata"] = metadata
        data["settings"] = {k: v for k, v in data["settings"].items() if k != "_metadata"}
    return data


@transaction.atomic
def draft_save(*, workflow: Workflow, definition: WorkflowDefinition) -> Workflow:
    """Replace the draft with ``definition`` (workflow fields and every step row); text is
    stored with LF line endings (``crm.text``)."""
    data = lf_all(definition_to_dict(definition))
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
    """Create or update (by name) a draft from YAML or JSON; DefinitionError if unreadable.
    Line endings are read as LF (a pasted or uploaded document may carry CRLF)."""
    if isinstance(text, str):
        text = lf(text)
    elif not text.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 is left to the parser
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
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


@dataclass
class ImportPublished:
    """An import (see ImportResult) and, when asked to publish, the new version."""

    imported: ImportResult
    version: WorkflowVersion | None


def workflow_import_and_publish(
    *,
    tenant: Tenant,
    text: str | bytes,
    format: str | None = None,
    publish: bool = False,
    user=None,
) -> ImportPublished:
    """Import YAML/JSON (canonical or TypeScript shape) and, with ``publish``, publish it.

    One transaction: a publish refused for validation errors (PublishRefused) leaves no
    trace of the import either. Raises DefinitionError for an unreadable document.
    """
    with transaction.atomic():
        imported = workflow_import(tenant=tenant, text=text, format=format)
        version = None
        if publish:
            version = workflow_publish(workflow=imported.workflow, user=user, note="import")
            imported.workflow.refresh_from_db()
    return ImportPublished(imported=imported, version=version)


def checksum_of(definition: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Published:
    """What a publish did: ``version`` is live; ``created`` is False when the draft equalled the
    live version and nothing was written (the API answers 200 then, the admin says so)."""

    version: WorkflowVersion
    created: bool


def workflow_publish(*, workflow: Workflow, user=None, note: str = "") -> WorkflowVersion:
    """Validate the draft and freeze it as the next version; the live version
    (:func:`workflow_publish_outcome`, whose errors it raises)."""
    return workflow_publish_outcome(workflow=workflow, user=user, note=note).version


@transaction.atomic
def workflow_publish_outcome(*, workflow: Workflow, user=None, note: str = "") -> Published:
    """Validate the draft and freeze it as the next version; running enrollments keep theirs.

    An active workflow whose draft equals its live version (same checksum) keeps that version:
    it is returned with ``created`` False and nothing is written. Raises WorkflowStateError
    (archived) and PublishRefused (validation errors, each with its path and line)."""
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    if workflow.status == Workflow.Status.ARCHIVED:
        raise WorkflowStateError(f"workflow '{workflow.name}' is archived; restore it first")
    try:
        definition = draft_definition(workflow=workflow)
    except DefinitionError as exc:
        raise PublishRefused(workflow, ValidationResult(errors=list(exc.problems))) from None
    result = definition_validate(tenant=workflow.tenant, definition=definition)
    if not result.ok:
        lined = draft_with_lines(workflow=workflow, definition=definition)
        raise PublishRefused(
            workflow, definition_validate(tenant=workflow.tenant, definition=lined)
        )
    compiled = definition_to_dict(definition)
    current = workflow.published_version
    if (
        current is not None
        and workflow.status == Workflow.Status.ACTIVE
        and current.checksum == checksum_of(compiled)
    ):
        # Nothing changed since the live version (a re-import, a second click): no new,
        # identical version to confuse the versions list and the diff.
        return Published(current, created=False)
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
    return Published(version, created=True)


@dataclass(frozen=True)
class StatusChange:
    """What a pause, resume, archive or restore did.

    ``affected`` counts live enrollments: held by a pause, released by a resume, exited by an
    archive (0 for a restore). ``status`` is the workflow's new status.
    """

    workflow: Workflow
    status: str
    affected: int


HOLDABLE = (ScheduledAction.Status.PENDING, ScheduledAction.Status.CLAIMED)
ARCHIVE_EXIT_REASON = "workflow_archived"


def _set_status(workflow: Workflow, status: str, *, allowed_from: set[str]) -> Workflow:
    # Locked and re-read: two concurrent changes of one workflow apply one after the other.
    current = Workflow.objects.select_for_update().values_list("status", flat=True)
    workflow.status = current.get(pk=workflow.pk)
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


def _lock_live(workflow: Workflow) -> list[int]:
    """Lock the workflow's live enrollments: a step in flight finishes (and writes its next
    action) before the caller changes their actions."""
    live = Enrollment.objects.filter(workflow=workflow, status__in=Enrollment.LIVE_STATUSES)
    return list(live.select_for_update().order_by("pk").values_list("pk", flat=True))


def workflow_webhook_rotate(*, workflow: Workflow) -> Workflow:
    """Give the workflow's inbound webhook a new signing secret (the old one stops working at
    once: web processes check the row they remembered, ``engine.triggers.webhooks``).
    The token, hence the URL, stays. Returns the workflow with its new ``webhook_secret``."""
    workflow.webhook_secret = new_webhook_secret()
    workflow.save(update_fields=["webhook_secret", "updated_at"])
    return workflow


@transaction.atomic
def workflow_pause(*, workflow: Workflow) -> StatusChange:
    """Stop enrolling and hold every live enrollment where it is.

    No step runs while paused: due actions (delays, waits, retries, goal timeouts) become
    ``held`` and wait; a step already queued finds the pause and is held too. Resume carries
    on from there. Raises WorkflowStateError unless the workflow is active.
    """
    workflow = _set_status(workflow, Workflow.Status.PAUSED, allowed_from={Workflow.Status.ACTIVE})
    ids = _lock_live(workflow)
    Enrollment.objects.filter(pk__in=ids).update(held=True)
    ScheduledAction.objects.filter(enrollment_id__in=ids, status__in=HOLDABLE).update(
        status=ScheduledAction.Status.HELD
    )
    return StatusChange(workflow, workflow.status, len(ids))


@transaction.atomic
def workflow_resume(*, workflow: Workflow) -> StatusChange:
    """Enroll again and release held enrollments: what fell due during the pause runs at the
    next scheduler tick, the rest at its own time. Raises WorkflowStateError unless paused."""
    workflow = _set_status(workflow, Workflow.Status.ACTIVE, allowed_from={Workflow.Status.PAUSED})
    ids = _lock_live(workflow)
    Enrollment.objects.filter(pk__in=ids).update(held=False)
    ScheduledAction.objects.filter(
        enrollment_id__in=ids, status=ScheduledAction.Status.HELD
    ).update(status=ScheduledAction.Status.PENDING)
    return StatusChange(workflow, workflow.status, len(ids))


@transaction.atomic
def workflow_archive(*, workflow: Workflow) -> StatusChange:
    """Stop the workflow for good: every live enrollment exits (reason ``workflow_archived``)
    and its pending, claimed or held actions are cancelled, so nothing more is sent."""
    workflow = _set_status(
        workflow,
        Workflow.Status.ARCHIVED,
        allowed_from={Workflow.Status.DRAFT, Workflow.Status.ACTIVE, Workflow.Status.PAUSED},
    )
    ids = _lock_live(workflow)
    ScheduledAction.objects.filter(
        enrollment_id__in=ids, status__in=(*HOLDABLE, ScheduledAction.Status.HELD)
    ).update(status=ScheduledAction.Status.CANCELLED)
    now = timezone.now()
    end_waiting_logs(ids, now, interrupted=ARCHIVE_EXIT_REASON)
    Enrollment.objects.filter(pk__in=ids).update(
        held=False,
        status=Enrollment.Status.EXITED,
        exit_reason=ARCHIVE_EXIT_REASON,
        current_step="",
        completed_at=now,
        updated_at=now,
    )
    return StatusChange(workflow, workflow.status, len(ids))


@transaction.atomic
def workflow_restore(*, workflow: Workflow) -> StatusChange:
    """Bring an archived workflow back as paused (or draft if never published); its exited
    enrollments stay exited."""
    target = Workflow.Status.PAUSED if workflow.published_version_id else Workflow.Status.DRAFT
    workflow = _set_status(workflow, target, allowed_from={Workflow.Status.ARCHIVED})
    return StatusChange(workflow, workflow.status, 0)


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


# --- Used by the API, the admin and the commands alike ------------------------------------


def workflow_create(*, tenant: Tenant, data: dict[str, Any]) -> Workflow:
    """A new draft workflow from a definition dict (canonical or the TypeScript shape).

    Raises DefinitionError (with paths) for a malformed definition, WorkflowNameTaken when
    the tenant has a workflow of that name. Nothing is published.
    """
    definition = load_definition(data)
    if Workflow.objects.filter(tenant=tenant, name=definition.name).exists():
        raise WorkflowNameTaken(f"a workflow named '{definition.name}' already exists")
    with transaction.atomic():
        return draft_save(workflow=Workflow(tenant=tenant), definition=definition)


def workflow_update(
    *, workflow: Workflow, changes: dict[str, Any], replace: bool = False
) -> Workflow:
    """Change the draft: ``changes`` holds definition keys (name, description, trigger,
    settings, steps, metadata). ``replace`` (PUT) takes ``changes`` as the whole definition;
    otherwise keys not given keep their draft value (PATCH).

    Raises DefinitionError, WorkflowNameTaken. Published versions are never touched.
    """
    data = dict(changes) if replace else {**draft_dict(workflow=workflow), **changes}
    definition = load_definition(data)
    taken = (
        Workflow.objects.filter(tenant_id=workflow.tenant_id, name=definition.name)
        .exclude(pk=workflow.pk)
        .exists()
    )
    if taken:
        raise WorkflowNameTaken(f"a workflow named '{definition.name}' already exists")
    with transaction.atomic():
        return draft_save(workflow=workflow, definition=definition)


def workflow_delete(*, workflow: Workflow, force: bool = False) -> int:
    """Delete a workflow with its versions, enrollments and logs; returns live ones exited.

    Raises WorkflowBusy while enrollments are live unless ``force``, which exits them first
    (reason ``workflow_deleted``), so no step of theirs runs against a vanished workflow.
    """
    live = list(
        workflow.enrollments.filter(status__in=Enrollment.LIVE_STATUSES).values_list(
            "id", flat=True
        )
    )
    if live and not force:
        raise WorkflowBusy(
            f"workflow '{workflow.name}' has {len(live)} live enrollment(s); "
            "exit them first or delete with force=true"
        )
    exited = sum(enrollment_exit(enrollment_id=i, reason="workflow_deleted") for i in live)
    with transaction.atomic():
        workflow.delete()
    return exited


# --- Enrolling, exiting, testing, running --------------------------------------------------

ENROLL_JOB_TASK = "workflows.tasks.enroll_job_run"


@dataclass(frozen=True)
class EnrollOutcome:
    """Either done inline (``selected``/``enrolled``) or queued as ``job``."""

    selected: int = 0
    enrolled: int = 0
    job: EnrollJob | None = None


def inline_enroll_max() -> int:
    """Selections larger than this run in the background (``STUDIO_API_ENROLL_INLINE_MAX``)."""
    return int(getattr(django_settings, "STUDIO_API_ENROLL_INLINE_MAX", 200))


def workflow_enroll(
    *,
    workflow: Workflow,
    contact_ids: list[Any] | None = None,
    filters: Any = None,
    user=None,
    via: str = "api",
) -> EnrollOutcome:
    """Enroll contacts by id (one or a list) or by a rule filter (the condition format).

    Up to ``inline_enroll_max()`` contacts are enrolled now; more become an EnrollJob run by
    a Celery task whose progress ``GET /api/enroll-jobs/{id}`` reads. Raises ManualEnrollError
    for a bad selection, Contact.DoesNotExist for ids outside the workflow's tenant,
    EnrollmentRefused for an inactive workflow, ConditionError for malformed rules. ``via``
    ("api", "admin" …) is recorded in the trigger data of enrollments made inline.
    """
    if workflow.status != Workflow.Status.ACTIVE or workflow.published_version_id is None:
        raise EnrollmentRefused(
            f"workflow '{workflow.name}' is {workflow.status}; publish or resume it first"
        )
    by = getattr(user, "username", "") or ""
    if contact_ids is not None:
        _check_contact_ids(workflow, contact_ids)
        if len(contact_ids) <= inline_enroll_max():
            result = manual_enroll(workflow=workflow, contact_ids=contact_ids, by=by, via=via)
            return EnrollOutcome(selected=result.selected, enrolled=result.enrolled)
        selection: dict[str, Any] = {"contact_ids": list(contact_ids)}
        total = len(set(map(str, contact_ids)))
    else:
        ids = contacts_matching(tenant_id=workflow.tenant_id, filters=filters or None)
        first = [x for _, x in zip(range(inline_enroll_max() + 1), ids, strict=False)]
        if len(first) <= inline_enroll_max():
            result = manual_enroll(workflow=workflow, contact_ids=first, by=by, via=via)
            return EnrollOutcome(selected=result.selected, enrolled=result.enrolled)
        selection = {"filters": filters}
        total = 0
    job = EnrollJob.objects.create(
        tenant_id=workflow.tenant_id,
        workflow=workflow,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        selection=selection,
        total=total,
    )
    transaction.on_commit(lambda: queue.dispatch(ENROLL_JOB_TASK, [job.pk]))
    return EnrollOutcome(job=job)


def _check_contact_ids(workflow: Workflow, contact_ids: list[Any]) -> None:
    wanted = {str(x) for x in contact_ids}
    found = {
        str(pk)
        for pk in contact_model()
        .objects.filter(tenant_id=workflow.tenant_id, pk__in=list(wanted))
        .values_list("pk", flat=True)
    }
    missing = sorted(wanted - found)
    if missing:
        # The same answer for another tenant's contact as for none at all.
        raise contact_model().DoesNotExist(f"no contact {', '.join(missing[:20])} in this tenant")


def enroll_job_run(*, job_id: int) -> EnrollJob | None:
    """Run a queued EnrollJob in chunks, saving progress after each (called by its task).

    None when the job is gone (its workflow was deleted). Taking the job is one conditional
    UPDATE, so of two deliveries of its task (a redelivery, a re-send) only one runs it.
    """
    taken = EnrollJob.objects.filter(pk=job_id, status=EnrollJob.Status.QUEUED).update(
        status=EnrollJob.Status.RUNNING
    )
    job = EnrollJob.objects.select_related("workflow").filter(pk=job_id).first()
    if job is None or not taken:
        return job  # a redelivered task: the job already ran or is running
    workflow = job.workflow
    try:
        if "contact_ids" in job.selection:
            ids = list(dict.fromkeys(job.selection["contact_ids"]))
        else:
            ids = list(
                contacts_matching(tenant_id=workflow.tenant_id, filters=job.selection["filters"])
            )
        job.total = len(ids)
        chunk = max(inline_enroll_max(), 1)
        for start in range(0, len(ids), chunk):
            result = manual_enroll(
                workflow=workflow,
                contact_ids=ids[start : start + chunk],
                by=getattr(job.requested_by, "username", ""),
                via="api-job",
            )
            job.processed += result.selected
            job.enrolled += result.enrolled
            job.save(update_fields=["total", "processed", "enrolled"])
        job.status = EnrollJob.Status.DONE
    except (EnrollmentRefused, ManualEnrollError, ValueError) as exc:
        job.status = EnrollJob.Status.FAILED
        job.error = str(exc)
    job.finished_at = timezone.now()
    job.save(update_fields=["total", "status", "error", "finished_at"])
    return job


def enroll_jobs_resend(*, now: datetime | None = None) -> int:
    """Send again the task of every job still queued one lease (``STUDIO_WORK_LEASE_SECONDS``)
    after its task was sent: that message was lost. Touches ``sent_at``, so at most once per
    lease; returns how many were sent (beat runs it with the engine's sweep)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=django_settings.STUDIO_WORK_LEASE_SECONDS)
    with transaction.atomic():
        stale = EnrollJob.objects.filter(status=EnrollJob.Status.QUEUED, sent_at__lt=cutoff)
        ids = list(stale.values_list("id", flat=True)[:1000])
        EnrollJob.objects.filter(pk__in=ids).update(sent_at=now)
    for job_id in ids:
        queue.dispatch(ENROLL_JOB_TASK, [job_id])
    return len(ids)


def enrollment_exit_now(*, enrollment: Enrollment, reason: str = "manual") -> Enrollment:
    """Force a live enrollment out with ``reason``; WorkflowStateError if it already ended."""
    if not enrollment_exit(enrollment_id=enrollment.pk, reason=reason or "manual"):
        enrollment.refresh_from_db()
        raise WorkflowStateError(
            f"enrollment {enrollment.pk} is already {enrollment.status}; nothing to exit"
        )
    enrollment.refresh_from_db()
    return enrollment


def enrollment_retry(*, enrollment: Enrollment, actor=None) -> RetryStarted:
    """Run the step a failed enrollment stopped at again (failed → active), exactly once.

    A side effect of that step that already happened is replayed, not re-sent; one that
    failed is attempted again with the same idempotency key. The new step log carries the
    next attempt number. ``actor`` (a user or None) is logged. Raises RetryRefused (with the
    reason) when the enrollment is not failed, did not fail at a step, its version no longer
    has that step, or its workflow is archived; on a paused workflow the step waits for resume.
    """
    started = runtime_retry(enrollment_id=enrollment.pk)
    logger.info(
        "enrollment %s: %s retried step '%s' (attempt %s)",
        enrollment.pk,
        getattr(actor, "username", "") or "system",
        started.step_id,
        started.attempt,
    )
    enrollment.refresh_from_db()
    return started


def workflow_test(
    *,
    workflow: Workflow,
    contact_id: Any = None,
    contact: dict[str, Any] | None = None,
    trigger: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    version: int | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Dry-run the draft (or version ``version``) for a sample contact; nothing is written.

    ``contact_id`` names a contact of the workflow's tenant (its snapshot is used, overlaid by
    ``contact`` fields); ``events`` are injected events (``{"after": "2d", "type": …}``).
    Returns the DryRunReport dict: status, exit_reason, error, path, steps (rendered input and
    output each), events, outbox (what would be sent), changes. Raises DefinitionError for an
    unreadable draft, DryRunError for bad events, Contact.DoesNotExist for a foreign id.
    """
    if version is not None:
        definition = workflow.versions.get(number=version).definition
    else:
        definition = definition_to_dict(draft_definition(workflow=workflow))
    sample: dict[str, Any] = {}
    if contact_id is not None:
        row = contact_model().objects.get(tenant_id=workflow.tenant_id, pk=contact_id)
        sample = contact_adapter().snapshot(row)
    sample.update(contact or {})
    report = dry_run(
        definition=definition,
        contact=sample,
        trigger=trigger or {},
        events=events or [],
        seed=seed,
        tenant_id=workflow.tenant_id,
    )
    return report.as_dict()


@dataclass(frozen=True)
class RunStarted:
    enrollment: Enrollment | None
    contact: Any
    created_contact: bool


def workflow_run(
    *,
    workflow: Workflow,
    input_vars: dict[str, Any] | None = None,
    contact_id: Any = None,
    user=None,
    via: str = "api-run",
) -> RunStarted:
    """Run an active workflow now for one contact, ``input_vars`` as ``trigger.*``.

    The contact is ``contact_id`` (of the workflow's tenant), else the tenant's contact whose
    email or phone is ``input_vars`` ``email``/``phone``/``from``, else a new contact made from
    those values (source ``api_run``). Returns the enrollment (None when the contact is
    already in and re-enrollment is off). Raises EnrollmentRefused for an inactive workflow,
    Contact.DoesNotExist for an id outside the tenant.
    """
    variables = dict(input_vars or {})
    contacts = contact_model().objects.filter(tenant_id=workflow.tenant_id)
    created = False
    if contact_id is not None:
        contact = contacts.get(pk=contact_id)
    else:
        contact, created = _run_contact(workflow, contacts, variables)
    trigger = {
        **variables,
        "type": "manual",
        "via": via,
        "by": getattr(user, "username", "") or "",
        "occurred_at": timezone.now().isoformat(),
        "contact_id": contact.pk,
    }
    enrollment = enrollment_create(workflow=workflow, contact=contact, trigger=trigger)
    return RunStarted(enrollment=enrollment, contact=contact, created_contact=created)


SAMPLE_SOURCE = "studio_sample"
RUN_NOW_DATA = {"sample": True, "note": "run now from the studio"}


def sample_contact(*, tenant: Tenant):
    """The tenant's sample contact ("Sample Contact", ``sample@<slug>.example.com``, a mobile
    number of the tenant's phone region from libphonenumber's examples, source
    ``studio_sample``), made on first use, so "Run now" can email, text and call it. Created
    without save signals, so making it does not itself enroll it into ``contact_created``
    workflows."""
    model = contact_model()
    phone = sample_mobile(tenant.phone_region)
    found = model.objects.filter(tenant=tenant, source=SAMPLE_SOURCE).order_by("pk").first()
    if found is not None:
        if not found.phone:  # made before sample contacts had a number
            model.objects.filter(pk=found.pk).update(phone=phone)
            found.phone = phone
        return found
    contact = model(
        tenant=tenant,
        first_name="Sample",
        last_name="Contact",
        email=f"sample@{tenant.slug}.example.com",
        phone=phone,
        source=SAMPLE_SOURCE,
    )
    model.objects.bulk_create([contact])
    return contact


def workflow_run_now(*, workflow: Workflow, contact=None, user=None) -> RunStarted:
    """ "Run now" in the studio: really enroll ``contact`` (default: the tenant's sample
    contact) into the published version, with ``RUN_NOW_DATA`` as the trigger data.

    Raises EnrollmentRefused naming the workflow when it is not active (a draft must be
    published, a paused one resumed, an archived one restored) or the contact belongs to
    another tenant. ``enrollment`` is None when the contact is already in it and
    re-enrollment is off.
    """
    if workflow.status != Workflow.Status.ACTIVE or workflow.published_version_id is None:
        todo = {
            Workflow.Status.DRAFT: "publish it first",
            Workflow.Status.PAUSED: "resume it first",
            Workflow.Status.ARCHIVED: "restore and resume it first",
        }.get(workflow.status, "publish it first")
        raise EnrollmentRefused(f"'{workflow.name}' is {workflow.status}, so it cannot run: {todo}")
    contact = contact or sample_contact(tenant=workflow.tenant)
    if contact.tenant_id != workflow.tenant_id:
        raise EnrollmentRefused(f"'{workflow.name}': contact '{contact}' belongs to another tenant")
    return workflow_run(
        workflow=workflow,
        input_vars=dict(RUN_NOW_DATA),
        contact_id=contact.pk,
        user=user,
        via="admin-run-now",
    )


def _run_contact(workflow: Workflow, contacts, variables: dict[str, Any]) -> tuple[Any, bool]:
    email = str(variables.get("email") or "").strip()
    phone = str(variables.get("phone") or "").strip()
    sender = str(variables.get("from") or "").strip()
    if not email and "@" in sender:
        email = sender
    elif not phone and sender.lstrip("+").isdigit():
        phone = sender
    if workflow.status != Workflow.Status.ACTIVE:
        raise EnrollmentRefused(f"workflow '{workflow.name}' is {workflow.status}, not active")
    found = None
    if email:
        found = contacts.filter(email__iexact=email).order_by("pk").first()
    if found is None and phone:
        found = contacts.filter(phone=phone).order_by("pk").first()
    if found is not None:
        return found, False
    name = sender if sender and not (email or phone) else ""
    contact = contact_model().objects.create(
        tenant_id=workflow.tenant_id,
        email=email,
        phone=phone,
        first_name=name[:100],
        source="api_run",
    )
    return contact, True


# --- Draft steps ----------------------------------------------------------------------------

STEP_FIELDS = ("step_id", "name", "type", "config", "delay", "next_step", "on_error", "prompt")


def _check_steps(workflow: Workflow, rows: list[WorkflowStep]) -> None:
    """Validate the draft as it would be with ``rows`` as its steps (DefinitionError if not)."""
    data = draft_dict(workflow=workflow)
    steps = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if row.step_id in seen:
            raise DefinitionError(
                [Problem(f"steps[{index}].id", f"step id '{row.step_id}' is already used")]
            )
        seen.add(row.step_id)
        step: dict[str, Any] = {"id": row.step_id, "type": row.type}
        for key, value in (
            ("name", row.name),
            ("config", row.config),
            ("delay", row.delay),
            ("next", row.next_step),
            ("on_error", row.on_error),
        ):
            if value:
                step[key] = value
        steps.append(step)
    data["steps"] = steps
    load_definition(data)


def step_create(*, workflow: Workflow, fields: dict[str, Any]) -> WorkflowStep:
    """Add a draft step (at ``order``, else last); its config is checked against its kind.

    ``fields``: step_id, type, name, config, delay, next_step, on_error, prompt (a Prompt of
    the same tenant or None), order. Raises DefinitionError with the step's path.
    """
    with transaction.atomic():
        Workflow.objects.select_for_update().get(pk=workflow.pk)
        rows = list(workflow.steps.order_by("order", "id"))
        fields = {k: (lf_all(v) if k != "prompt" else v) for k, v in fields.items()}
        row = WorkflowStep(workflow=workflow, **{k: v for k, v in fields.items() if k != "order"})
        position = fields.get("order")
        position = len(rows) if position is None else max(0, min(int(position), len(rows)))
        rows.insert(position, row)
        _check_steps(workflow, rows)
        for index, item in enumerate(rows):
            item.order = index
            item.save()
        workflow.save(update_fields=["updated_at"])
        return row


def step_update(*, step: WorkflowStep, fields: dict[str, Any]) -> WorkflowStep:
    """Change a draft step's fields (see ``step_create``); re-checked in its workflow."""
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().get(pk=step.workflow_id)
        rows = list(workflow.steps.order_by("order", "id"))
        for row in rows:
            if row.pk == step.pk:
                for key, value in fields.items():
                    if key in STEP_FIELDS:
                        setattr(row, key, value if key == "prompt" else lf_all(value))
                step = row
        if "order" in fields:
            rows.remove(step)
            rows.insert(max(0, min(int(fields["order"]), len(rows))), step)
        _check_steps(workflow, rows)
        for index, item in enumerate(rows):
            item.order = index
            item.save()
        workflow.save(update_fields=["updated_at"])
        return step


def step_delete(*, step: WorkflowStep) -> None:
    """Remove a draft step; the others close up. References to it show at publish time."""
    with transaction.atomic():
        workflow = step.workflow
        step.delete()
        for index, row in enumerate(workflow.steps.order_by("order", "id")):
            if row.order != index:
                row.order = index
                row.save(update_fields=["order"])
        workflow.save(update_fields=["updated_at"])


def steps_reorder(*, workflow: Workflow, step_ids: list[str]) -> list[WorkflowStep]:
    """Put the draft steps in the order of ``step_ids`` (every step id exactly once).

    Raises StepOrderError naming missing, unknown or repeated ids.
    """
    with transaction.atomic():
        rows = {r.step_id: r for r in workflow.steps.select_for_update()}
        problems = []
        if len(set(step_ids)) != len(step_ids):
            problems.append("repeated step ids")
        if unknown := [s for s in step_ids if s not in rows]:
            problems.append(f"unknown step ids: {', '.join(unknown)}")
        if missing := [s for s in rows if s not in step_ids]:
            problems.append(f"missing step ids: {', '.join(missing)}")
        if problems:
            raise StepOrderError("; ".join(problems))
        for index, step_id in enumerate(step_ids):
            rows[step_id].order = index
        WorkflowStep.objects.bulk_update(rows.values(), ["order"])
        workflow.save(update_fields=["updated_at"])
        return [rows[s] for s in step_ids]


# --- The TypeScript write-up's create/update (its routes answer in its shape) ---------------


def typescript_document(*, workflow: Workflow) -> dict[str, Any]:
    """The draft in the TypeScript write-up's shape: trigger, conditions, actions (each with
    ``nextActionId``: the step it goes to, null at the end), enabled.

    Trigger filters stay under ``trigger.filters`` (canonical rules), so ``conditions`` is [].
    """
    # .all() so a list that prefetched the steps does not query per workflow.
    rows = sorted(workflow.steps.all(), key=lambda row: (row.order, row.pk))
    actions = []
    for index, row in enumerate(rows):
        config = dict(row.config or {})
        if row.delay:
            config["delay"] = row.delay
        following = rows[index + 1].step_id if index + 1 < len(rows) else None
        target = row.next_step or following
        action: dict[str, Any] = {
            "id": row.step_id,
            "type": row.type,
            "config": config,
            "nextActionId": None if target in (None, "end") else target,
        }
        if row.name:
            action["name"] = row.name
        actions.append(action)
    trigger: dict[str, Any] = {"type": workflow.trigger_type, "config": workflow.trigger_config}
    if workflow.trigger_filters:
        trigger["filters"] = workflow.trigger_filters
    return {
        "name": workflow.name,
        "description": workflow.description,
        "enabled": workflow.status == Workflow.Status.ACTIVE,
        "trigger": trigger,
        "conditions": [],
        "actions": actions,
    }


def workflow_save_typescript(
    *, tenant: Tenant, data: dict[str, Any], workflow: Workflow | None = None, user=None
) -> Workflow:
    """Create (``workflow`` None) or update a workflow from the TypeScript write-up's body.

    An update merges the given keys (name, description, enabled, trigger, conditions,
    actions) over the draft. ``enabled: true`` publishes the draft when it differs from the
    live version (else resumes a paused one); ``enabled: false`` pauses an active one.
    Raises DefinitionError, WorkflowNameTaken, PublishRefused, WorkflowStateError.
    """
    with transaction.atomic():
        # "enabled" is the workflow's status here, not part of its definition.
        given = {k: v for k, v in data.items() if k != "enabled"}
        if workflow is None:
            document = dict(given)
            document.setdefault("actions", [])
            workflow = workflow_create(tenant=tenant, data=document)
        else:
            current = typescript_document(workflow=workflow)
            del current["enabled"]
            document = {**current, **given}
            workflow = workflow_update(workflow=workflow, changes=document, replace=True)
        enabled = data.get("enabled")
        if enabled is True:
            _enable(workflow, user)
        elif enabled is False and workflow.status == Workflow.Status.ACTIVE:
            workflow_pause(workflow=workflow)
        workflow.refresh_from_db()
        return workflow


def _enable(workflow: Workflow, user) -> None:
    live = workflow.published_version
    current = checksum_of(definition_to_dict(draft_definition(workflow=workflow)))
    if live is None or live.checksum != current:
        workflow_publish(workflow=workflow, user=user, note="enabled")
    elif workflow.status == Workflow.Status.PAUSED:
        workflow_resume(workflow=workflow)


def enrollment_skip_wait(*, enrollment: Enrollment) -> int:
    """End the enrollment's current wait (or delay) now: its pending resume becomes due at once.

    Returns how many scheduled actions were moved (1 normally). Raises WorkflowStateError when
    the enrollment is not waiting. The scheduler's next tick (``STUDIO_SCHEDULER_INTERVAL_SECONDS``)
    runs it; goal timeouts are not skipped (a goal waits for its condition, not for time).
    """
    if enrollment.status != Enrollment.Status.WAITING:
        raise WorkflowStateError(
            f"enrollment {enrollment.pk} is {enrollment.status}, not waiting; nothing to skip"
        )
    kinds = [ScheduledAction.Kind.RESUME, ScheduledAction.Kind.RUN_STEP]
    moved = ScheduledAction.objects.filter(
        enrollment=enrollment, status=ScheduledAction.Status.PENDING, kind__in=kinds
    ).update(due_at=timezone.now())
    if not moved:
        raise WorkflowStateError(f"enrollment {enrollment.pk} has no wait to skip")
    return moved


@transaction.atomic
def workflow_duplicate(*, workflow: Workflow, name: str | None = None) -> Workflow:
    """A new draft in the same tenant with ``workflow``'s draft (trigger, settings, steps).

    The name defaults to "<name> (copy)", then "(copy 2)" … until free in the tenant; nothing is
    published and no enrollments are copied.
    """
    base = name or f"{workflow.name} (copy)"
    taken = set(Workflow.objects.filter(tenant=workflow.tenant).values_list("name", flat=True))
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base[:-1]} {n})" if base.endswith(")") else f"{base} {n}", n + 1
    data = draft_dict(workflow=workflow)
    data["name"] = candidate
    copy = Workflow(tenant=workflow.tenant, name=candidate)
    return draft_save(workflow=copy, definition=load_definition(data))
