"""Enrolling many contacts at once: set-based inserts, first steps sent in batches.

Every contact starts the same way (same version, same first target, same moment), so the
stepping rules run once and the result is copied into one ``bulk_create`` per chunk. Rows
that would break the one-enrollment-per-contact constraints are skipped by the database
(``ignore_conflicts``), which also makes a concurrent trigger for the same contact safe; in a
workflow that allows re-enrollment, a contact skipped because a trigger's enrollment took its
number after the chunk counted it is counted again (``_insert_pass``, up to three passes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from engine.effects.contacts import contact_model
from engine.runtime import queue, state
from engine.runtime.enrollment import SEQUENCE_TRIES, EnrollmentRefused
from engine.runtime.flow import flow_for_version
from engine.runtime.machine import RunState, go_to
from workflows.models import Enrollment, ScheduledAction, Workflow, WorkflowVersion

RUN_FIRST_STEPS = "engine.tasks.run_first_steps"


def _chunks(ids: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in ids:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def enrollments_bulk_create(
    *,
    workflow: Workflow,
    contact_ids: Iterable[Any],
    trigger: dict[str, Any] | None = None,
    version: WorkflowVersion | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Enroll every contact of ``contact_ids`` not already in; returns how many were enrolled.

    Contacts must belong to the workflow's tenant (callers select them by tenant).
    ``progress``, when given, is called after each chunk with how many contacts it held.
    Raises EnrollmentRefused when the workflow is not active or never published.
    """
    if workflow.status != Workflow.Status.ACTIVE:
        raise EnrollmentRefused(f"workflow '{workflow.name}' is {workflow.status}, not active")
    version = version or workflow.published_version
    if version is None:
        raise EnrollmentRefused(f"workflow '{workflow.name}' has no published version")
    size = chunk_size or int(getattr(settings, "STUDIO_BULK_ENROLL_CHUNK", 2000))
    total = 0
    for chunk in _chunks(contact_ids, size):
        total += _enroll_chunk(workflow, version, chunk, trigger or {})
        if progress is not None:
            progress(len(chunk))
    return total


def _enroll_chunk(
    workflow: Workflow, version: WorkflowVersion, contact_ids: list[Any], trigger: dict[str, Any]
) -> int:
    flow = flow_for_version(version)
    now = timezone.now()
    run = RunState(
        status=state.S.ACTIVE,
        current_step="",
        context={"trigger": trigger, "steps": {}},
        visits={},
        step_count=0,
    )
    directive = go_to(run, flow, flow.first_target, now)
    reenrollable = bool(flow.settings.get("allow_reenrollment"))
    finished = directive.kind == "finish"
    with transaction.atomic():
        ids: list[int] = []
        pending = list(contact_ids)
        # A contact a trigger re-enrolled between the count and the INSERT (committed with
        # the same number) is skipped by its conflict and counted again on the next pass
        # (enrollment.SEQUENCE_TRIES passes at most); one that is in the workflow now (a live
        # enrollment) is left out of the next pass: the database would skip it again.
        for _attempt in range(SEQUENCE_TRIES if reenrollable else 1):
            made = _insert_pass(workflow, version, pending, run, reenrollable, now, finished)
            ids += made.values()
            pending = [contact_id for contact_id in pending if contact_id not in made]
            if pending and reenrollable:
                live = set(
                    Enrollment.objects.filter(
                        workflow_id=workflow.pk, contact_id__in=pending, status__in=state.LIVE
                    ).values_list("contact_id", flat=True)
                )
                pending = [contact_id for contact_id in pending if contact_id not in live]
            if not pending:
                break
        if directive.kind == "schedule":
            ScheduledAction.objects.bulk_create(
                ScheduledAction(
                    tenant_id=workflow.tenant_id,
                    enrollment_id=enrollment_id,
                    step_id=directive.step_id,
                    kind=directive.schedule_kind,
                    seq=0,
                    due_at=directive.due_at,
                )
                for enrollment_id in ids
            )
        elif directive.kind == "run" and ids:
            args = [ids, directive.step_id, 0]
            transaction.on_commit(lambda: queue.dispatch(RUN_FIRST_STEPS, args))
    return len(ids)


def _insert_pass(
    workflow: Workflow,
    version: WorkflowVersion,
    contact_ids: list[Any],
    run: RunState,
    reenrollable: bool,
    now: Any,
    finished: bool,
) -> dict[Any, int]:
    """One ``bulk_create`` of the contacts' enrollments, numbered as counted now; returns
    contact id → the new enrollment's id for the rows the database took (the others broke a
    constraint and were skipped)."""
    sequences = _next_sequences(workflow, contact_ids)
    if not reenrollable:
        # Once per contact across versions; the check constraint would refuse the rest.
        contact_ids = [c for c in contact_ids if sequences[c] == 1]
    Enrollment.objects.bulk_create(
        [
            Enrollment(
                tenant_id=workflow.tenant_id,
                workflow_id=workflow.pk,
                version_id=version.pk,
                contact_id=contact_id,
                status=run.status,
                current_step=run.current_step,
                # One dict for every row: the instances only carry it to the INSERT
                # (a deep copy each was a tenth of a 100,000-contact schedule's CPU).
                context=run.context,
                exit_reason=run.exit_reason,
                error=run.error,
                reenrollable=reenrollable,
                sequence=sequences[contact_id],
                completed_at=now if finished else None,
            )
            for contact_id in contact_ids
        ],
        ignore_conflicts=True,
    )
    # ignore_conflicts gives no ids back: read the rows this pass made (same shape, now).
    return dict(
        Enrollment.objects.filter(
            workflow_id=workflow.pk,
            contact_id__in=contact_ids,
            status=run.status,
            current_step=run.current_step,
            step_count=0,
            enrolled_at__gte=now,
        ).values_list("contact_id", "id")
    )


def _next_sequences(workflow: Workflow, contact_ids: list[Any]) -> dict[Any, int]:
    """Contact id → the sequence number its next enrollment in ``workflow`` takes."""
    rows = (
        Enrollment.objects.filter(workflow_id=workflow.pk, contact_id__in=contact_ids)
        .values("contact_id")
        .annotate(last=Max("sequence"))
        .values_list("contact_id", "last")
    )
    last = dict(rows)
    return {contact_id: last.get(contact_id, 0) + 1 for contact_id in contact_ids}


def tenant_contact_ids(*, tenant_id: int) -> Iterator[Any]:
    """Every contact id of a tenant, streamed."""
    return (
        contact_model()
        .objects.filter(tenant_id=tenant_id)
        .order_by("pk")
        .values_list("pk", flat=True)
        .iterator(chunk_size=5000)
    )
