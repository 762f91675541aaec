"""Enrolling contacts, exiting them, and re-checking goals and exit conditions on events."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from engine.effects.contacts import contact_adapter
from engine.effects.prepared import Along
from engine.effects.zones import workflow_zone
from engine.runtime import state
from engine.runtime.executor import (
    apply_directive,
    cancel_pending,
    first_steps_run,
    lock_enrollment,
    persist,
    run_state_of,
    template_data_for,
    workflow_paused,
)
from engine.runtime.flow import flow_for_version
from engine.runtime.machine import EXITED, RunState, check_interrupts, finish, go_to
from engine.runtime.rows import Claim, insert_instance
from engine.runtime.tenancy import mark_consistent
from workflows.models import Enrollment, Workflow, WorkflowVersion

logger = logging.getLogger(__name__)


# How many times an enrollment counts its number again after losing a race for it.
SEQUENCE_TRIES = 3
SEQUENCE_CONSTRAINTS = frozenset({"enrollment_sequence_unique", "enrollment_once_is_first"})


class EnrollmentRefused(Exception):
    """The workflow cannot take this contact (not active, not published, other tenant)."""


class _NotThisContact(Exception):
    """The contact read along with the INSERT is not this workflow's tenant's: roll back."""


def enrollment_create(
    *,
    workflow: Workflow,
    contact: Any,
    trigger: dict[str, Any] | None = None,
    version: WorkflowVersion | None = None,
    seed: str | None = None,
    run_first: bool = False,
    claim: Callable[[], bool] | None = None,
    contact_id: Any = None,
    contact_along: Along | None = None,
) -> Enrollment | None:
    """Enroll one contact; None when the contact is (or was, without re-enrollment) in it.

    "Was" counts every earlier enrollment of the workflow, whatever version it ran on: the
    version's ``allow_reenrollment`` decides whether this one may follow them.

    ``run_first``: a worker task that enrolls runs the first steps itself instead of sending
    them through the broker: those that may share a transaction (``executor._drive``) in the
    enrollment's own, the rest after it commits (``executor.first_steps_run``).

    ``claim``: called first inside the enrollment's transaction (so what it writes commits or
    rolls back with the enrollment); False means the work was done elsewhere: returns None.
    A ``rows.Claim`` runs inside the enrollment's INSERT instead (one statement on PostgreSQL).

    ``contact_id`` and ``contact_along`` (instead of ``contact``, with a ``rows.Claim``;
    PostgreSQL): the contact's load (``prepared.Along``, the adapter's
    ``load_along(contact_id)``) runs inside the enrollment's INSERT — one round trip fewer —
    and the claim holds only while that finds the contact, so a contact deleted since its id
    was found enrolls nobody and claims nothing. None is then returned too when the contact
    is gone or is another tenant's: the caller, which has not seen the contact, decides
    again from a load of its own (``dispatch.contact_enroll``).
    """
    if workflow.status != Workflow.Status.ACTIVE:
        raise EnrollmentRefused(f"workflow '{workflow.name}' is {workflow.status}, not active")
    if version is None:
        # The published version is the workflow's own (a database trigger checks the link,
        # Workflow.tenant_links): its id will do; the definition comes from the flow cache.
        version_id = workflow.published_version_id
    elif version.workflow_id != workflow.pk:
        raise EnrollmentRefused(f"version {version.pk} is not a version of '{workflow.name}'")
    else:
        version_id = version.pk
    if version_id is None:
        raise EnrollmentRefused(f"workflow '{workflow.name}' has no published version")
    if contact_along is not None:
        if contact is not None or contact_id is None or not isinstance(claim, Claim):
            raise ValueError("contact_along= needs contact_id= (not contact=) and a rows.Claim")
        claim = claim.requiring(contact_along.sql, contact_along.params)
    elif contact_adapter().tenant_id(contact) != workflow.tenant_id:
        raise EnrollmentRefused("the contact belongs to another tenant")
    else:
        contact_id = contact.pk
    flow = flow_for_version(version_id)
    reenrollable = bool(flow.settings.get("allow_reenrollment"))
    computed = {}
    if reenrollable:
        # Its place among the contact's enrollments is computed by the INSERT itself (one
        # round trip fewer); the database's constraints still allow one live enrollment.
        sequence = 0
        computed["sequence"] = _next_sequence_sql(workflow.pk, contact_id)
    else:
        sequence = last_sequence(workflow.pk, contact_id) + 1
        if sequence > 1:
            return None  # once per contact, across versions (the database refuses it too)
    now = timezone.now()
    context: dict[str, Any] = {"trigger": trigger or {}, "steps": {}}
    if seed is not None:
        context["seed"] = seed
    run = RunState(status=state.S.ACTIVE, current_step="", context=context, visits={}, step_count=0)
    directive = go_to(run, flow, flow.first_target, now)
    inline = run_first and directive.kind == "run"
    # A re-enrollment's number is counted by its INSERT; one racing another's commit can
    # count the same (enrollment_sequence_unique refuses it) and counts again.
    for attempt in range(1, SEQUENCE_TRIES + 1):
        enrollment = None
        try:
            with transaction.atomic():
                folded = claim if isinstance(claim, Claim) else None
                if claim is not None and folded is None and not claim():
                    return None  # a second delivery of the same work: the first one enrolled
                enrollment = Enrollment(
                    tenant_id=workflow.tenant_id,
                    workflow=workflow,
                    version_id=version_id,
                    contact_id=contact_id,
                    status=run.status,
                    current_step=run.current_step,
                    context=run.context,
                    reenrollable=reenrollable,
                    sequence=sequence,
                    completed_at=now if directive.kind == "finish" else None,
                )
                # Its statement built once per process; with the claim in it when there is one.
                if contact is not None:
                    enrollment.contact = contact  # the relation's cache: no query to read it
                inserted = insert_instance(
                    enrollment, computed=computed, claim=folded, along=contact_along
                )
                if inserted is None:
                    return None  # the claim found the work done: the first delivery enrolled
                if contact_along is not None:
                    contact = contact_along.row
                    if (
                        contact is None
                        or contact_adapter().tenant_id(contact) != workflow.tenant_id
                    ):
                        raise _NotThisContact  # rolls the enrollment back; the caller decides
                    enrollment.contact = contact
                if inline:
                    # The first steps run in this transaction (one commit, no lock to take).
                    go_on = first_steps_run(
                        enrollment, directive.step_id, contact=contact_adapter().snapshot(contact)
                    )
                else:
                    apply_directive(enrollment, run, directive)
        except IntegrityError as exc:
            if enrollment is not None and enrollment.pk is not None:
                raise  # a step's write failed, not the enrollment's INSERT
            if reenrollable and attempt < SEQUENCE_TRIES and _lost_sequence_race(exc):
                continue  # a re-enrollment committed meanwhile took our number: count again
            return None  # the contact is (or was) in it: the database refused a second row
        except _NotThisContact:
            return None
        break
    # Its links were checked above: the executor's own check need not query them again.
    mark_consistent(enrollment.pk)
    if inline:
        go_on()
    return enrollment


def _lost_sequence_race(exc: IntegrityError) -> bool:
    """Did the INSERT lose a race for its ``sequence``? True when PostgreSQL refused it by
    one of the constraints a number counted before another enrollment committed can break
    (``enrollment_sequence_unique``, or ``enrollment_once_is_first`` for a number 1);
    False for anything else, and on SQLite, whose one writer at a time cannot race."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) in SEQUENCE_CONSTRAINTS


def last_sequence(workflow_id: int, contact_id: Any) -> int:
    """The highest ``sequence`` of the contact's enrollments in the workflow (0: none yet).

    One indexed SELECT with its text built once per process (the ORM's aggregate compiled
    anew cost 0.5 ms of CPU per enrollment here)."""
    contact_field = Enrollment._meta.get_field("contact")
    with connection.cursor() as cursor:
        cursor.execute(
            _sequence_sql(connection.vendor),
            [workflow_id, contact_field.get_db_prep_value(contact_id, connection)],
        )
        row = cursor.fetchone()
    return (row[0] if row else None) or 0


def _next_sequence_sql(workflow_id: int, contact_id: Any) -> tuple[str, list[Any]]:
    """``(sql, params)``: the contact's next ``sequence`` in the workflow, as a subquery."""
    contact_field = Enrollment._meta.get_field("contact")
    value = contact_field.get_db_prep_value(contact_id, connection)
    return _sequence_sql(connection.vendor, "1 + COALESCE(MAX({}), 0)"), [workflow_id, value]


@functools.cache
def _sequence_sql(vendor: str, select: str = "MAX({})") -> str:
    quote, meta = connection.ops.quote_name, Enrollment._meta
    column = {
        name: quote(meta.get_field(name).column) for name in ("sequence", "workflow", "contact")
    }
    # Identifiers come from the model's metadata; the values are parameters.
    return (
        f"SELECT {select.format(column['sequence'])} FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {column['workflow']} = %s AND {column['contact']} = %s"
    )


def enrollment_exit(*, enrollment_id: int, reason: str = "manual") -> bool:
    """Force an enrollment out; False when it had already finished."""
    with transaction.atomic():
        enrollment = lock_enrollment(enrollment_id)
        if enrollment is None or enrollment.status not in state.LIVE:
            return False
        run = run_state_of(enrollment)
        directive = finish(run, EXITED, reason=reason)
        run.current_step = ""
        flow = flow_for_version(enrollment.version_id)
        persist(enrollment, run, flow, [], directive, timezone.now(), interrupted=f"exit: {reason}")
        return True


def enrollment_recheck(*, enrollment_id: int) -> str:
    """Something happened to the contact: exit conditions and goals may now hold."""
    with transaction.atomic():
        enrollment = lock_enrollment(enrollment_id)
        if enrollment is None or enrollment.status not in state.LIVE:
            return "gone"
        if workflow_paused(enrollment):
            return "held"  # a paused workflow's enrollments stay where they are
        flow = flow_for_version(enrollment.version_id)
        run = run_state_of(enrollment)
        now = timezone.now()
        with timezone.override(workflow_zone(flow.settings, enrollment.tenant_id)):
            data = template_data_for(enrollment, run, flow, now)
            interrupted = check_interrupts(run, flow, data, now)
        if interrupted is None:
            return "unchanged"
        logs, directive = interrupted
        # The enrollment leaves whatever it was waiting for.
        cancel_pending(enrollment.pk)
        why = "exit_condition" if logs and logs[0].step_id == "exit_conditions" else "goal"
        persist(enrollment, run, flow, logs, directive, now, interrupted=why)
        return "moved"


def contact_recheck(*, contact_id: Any) -> int:
    """Re-check every live enrollment of a contact; returns how many moved."""
    ids = Enrollment.objects.filter(contact_id=contact_id, status__in=state.LIVE).values_list(
        "id", flat=True
    )
    return sum(enrollment_recheck(enrollment_id=i) == "moved" for i in list(ids))
