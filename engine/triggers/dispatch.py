"""What ``engine.tasks.dispatch_event`` does: match an event, filter, enroll, re-check goals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crm.models import Message
from engine.effects.contacts import contact_adapter
from engine.effects.prepared import Along, first_row
from engine.effects.zones import tenant_zone_name
from engine.models import WebhookDelivery
from engine.runtime.enrollment import EnrollmentRefused, contact_recheck, enrollment_create
from engine.triggers.matching import (
    HOT_WORKFLOW_FIELDS,
    Listener,
    candidates,
    filters_pass,
    listener_from,
    live_definition,
    tenant_index,
    trigger_context,
)
from engine.triggers.tracking import record_reply
from engine.triggers.webhooks import PROBE_ID, delivery_claim, delivery_settle
from workflows.models import Workflow

logger = logging.getLogger(__name__)


def events_dispatch(*, events: list[dict[str, Any]]) -> list[int]:
    """Dispatch each event in turn; returns the ids of the enrollments created."""
    created: list[int] = []
    for event in events:
        created.extend(event_dispatch(event=event))
    return created


def _record_reply(event: dict[str, Any], data: dict[str, Any]) -> None:
    """An inbound message marks the latest send of each live enrollment as replied."""
    if "message_received" not in (event.get("kinds") or ()) or not data.get("message_id"):
        return
    message = Message.objects.filter(pk=data["message_id"]).first()
    if message is not None:
        record_reply(message)


def _load_contact(contact_id: Any):
    try:
        return contact_adapter().load(contact_id)
    except ObjectDoesNotExist:  # deleted after the event; nothing to do
        return None


def event_dispatch(*, event: dict[str, Any]) -> list[int]:
    """Enroll the event's contact in every active workflow whose trigger and filters match."""
    tenant_id, contact_id = event["tenant_id"], event["contact_id"]
    data = dict(event.get("data") or {})
    contact = _load_contact(contact_id)
    if contact is None:
        return []
    index = tenant_index(tenant_id)
    if index.replies or index.recheck:
        _record_reply(event, data)  # first: a goal re-checked below may read the reply
    if index.recheck:
        contact_recheck(contact_id=contact_id)
    listeners = candidates(tenant_id, list(event.get("kinds") or ()), data)
    if not listeners:
        return []
    at = occurred_at(data)
    snapshot = (
        contact_adapter().snapshot(contact) if any(x.needs_contact for x in listeners) else None
    )
    created = []
    for listener in listeners:
        trigger = trigger_context(listener, data, at)
        if not filters_pass(listener, trigger, snapshot):
            continue
        enrollment_id = workflow_enroll(
            workflow_id=listener.workflow_id, contact=contact, trigger=trigger
        )
        if enrollment_id is not None:
            created.append(enrollment_id)
    return created


def workflow_enroll(
    *,
    workflow_id: int,
    contact: Any,
    trigger: dict[str, Any],
    run_first: bool = False,
    workflow: Workflow | None = None,
    claim: Callable[[], bool] | None = None,
    contact_id: Any = None,
    contact_along: Along | None = None,
) -> int | None:
    """Enroll ``contact``; None when refused (paused since, other tenant) or already enrolled.

    ``run_first``: run the first steps in this task (see ``enrollment_create``); ``workflow``:
    the row with its published version when the caller has just loaded it; ``claim``,
    ``contact_id`` and ``contact_along`` (the contact read by the INSERT): see
    ``enrollment_create``."""
    if workflow is None:
        workflow = Workflow.objects.select_related("published_version").filter(pk=workflow_id)
        workflow = workflow.first()
    if workflow is None:
        return None
    try:
        enrollment = enrollment_create(
            workflow=workflow, contact=contact, trigger=trigger, run_first=run_first, claim=claim,
            contact_id=contact_id, contact_along=contact_along,
        )  # fmt: skip
    except EnrollmentRefused as exc:
        logger.info("trigger for workflow %s not enrolled: %s", workflow_id, exc)
        return None
    return enrollment.pk if enrollment is not None else None


def contact_enroll(
    *,
    workflow_id: int,
    contact_id: Any,
    trigger: dict[str, Any],
    delivery: int | None = None,
    seen: dict[str, Any] | None = None,
) -> int | None:
    """``engine.tasks.enroll_contact``: enroll one contact by id if the workflow's filters pass.

    Used by webhooks and host code; ``trigger`` gains hour / weekday in the workflow's zone.
    ``delivery``: the WebhookDelivery this work was recorded in; its outcome is set in the
    enrollment's transaction (or with the decision not to enroll), so the sweep stops
    re-sending it, and a second run of the same delivery enrolls nobody.

    ``seen`` (with ``delivery``): the workflow as the webhook request read it moments ago
    (``tenant_id``, ``version_id``, ``name``). The task then does not read the row again: the
    delivery's claim, inside the enrollment's INSERT, takes the work only while the workflow
    is still active on that published version (``webhooks.delivery_claim``). Anything else —
    paused or republished since, filtered out, enrolled already — is decided again from the
    row itself, as without ``seen``: one round trip fewer on the common path, none of the
    decisions taken on a stale view. Unless the workflow's filters read the contact, the
    contact itself is read by the enrollment's INSERT too (``load_along``): a second round
    trip saved.
    """
    contact = None
    if seen and delivery is not None:
        enrollment_id, contact = _enroll_as_seen(workflow_id, seen, contact_id, trigger, delivery)
        if enrollment_id is not None:
            return enrollment_id
    if contact is None:  # not loaded yet (or gone): the slower path loads it
        contact = _load_contact(contact_id)
    if contact is None:
        return _settled(delivery, WebhookDelivery.Outcome.GONE)
    # The row alone (compiled once per process); its version's definition and its tenant's
    # zone come from per-process caches (the flow cache, engine.effects.zones).
    workflow = first_row(
        key="enroll: workflow by id",
        build=lambda pk: Workflow.objects.only(*HOT_WORKFLOW_FIELDS).filter(pk=pk),
        probes=[PROBE_ID],
        values=[workflow_id],
    )
    if workflow is None or workflow.published_version_id is None:
        return _settled(delivery, WebhookDelivery.Outcome.GONE)
    passing = _passing(workflow, contact, trigger)
    if passing is None:
        return _settled(delivery, WebhookDelivery.Outcome.FILTERED)
    enrollment_id = _enroll_first(workflow, contact, passing, delivery)
    if enrollment_id is None:
        # Already in, re-entry refused, paused since, or another run enrolled it: settled.
        _settled(delivery, WebhookDelivery.Outcome.NOT_ENROLLED)
    return enrollment_id


def _enroll_as_seen(
    workflow_id: int, seen: dict[str, Any], contact_id: Any, trigger: dict[str, Any], delivery: int
) -> tuple[int | None, Any]:
    """``(enrollment id, contact)``: the enrollment made on the workflow as the request saw
    it, and the contact when this loaded it (for the caller to reuse). The id is None when
    that view no longer holds, the contact is gone or the filters do not pass: the caller
    decides again from the rows."""
    workflow = _workflow_seen(workflow_id, seen)
    try:
        listener = _listener(workflow)
    except ObjectDoesNotExist:  # the version (and so the workflow) was deleted since
        return None, None
    adapter = contact_adapter()
    load_along = getattr(adapter, "load_along", None)  # a host adapter may not have it
    along = None
    if load_along is not None and not (listener is not None and listener.needs_contact):
        along = load_along(contact_id)
    contact = None if along is not None else _load_contact(contact_id)
    if along is None and contact is None:
        return None, None
    passing = _passing_for(listener, contact, trigger)
    if passing is None:
        return None, contact
    enrollment_id = _enroll_first(
        workflow, contact, passing, delivery, still=True, contact_id=contact_id, along=along
    )
    return enrollment_id, contact


def _workflow_seen(workflow_id: int, seen: dict[str, Any]) -> Workflow:
    """The workflow as a webhook request saw it: active, on ``seen["version_id"]`` (an
    unsaved stand-in for the row; the delivery's claim checks that the row still says so)."""
    return Workflow(
        pk=workflow_id,
        tenant_id=seen["tenant_id"],
        name=seen.get("name", ""),
        status=Workflow.Status.ACTIVE,
        published_version_id=seen["version_id"],
    )


def _passing(workflow: Workflow, contact: Any, trigger: dict[str, Any]) -> dict[str, Any] | None:
    """``trigger`` as the workflow sees it (hour / weekday in its zone) when its filters pass
    for the contact; None when they do not. ``trigger`` itself is not changed."""
    return _passing_for(_listener(workflow), contact, trigger)


def _listener(workflow: Workflow) -> Listener | None:
    """The workflow's trigger as the dispatcher matches it (cached per version and zone)."""
    zone = tenant_zone_name(workflow.tenant_id)
    return listener_from(workflow.pk, live_definition(workflow), zone)


def _passing_for(
    listener: Listener | None, contact: Any, trigger: dict[str, Any]
) -> dict[str, Any] | None:
    """:func:`_passing` for a known listener; ``contact`` may be None when it does not read
    the contact (``needs_contact`` false)."""
    if listener is None:
        return trigger
    passing = trigger_context(listener, trigger, occurred_at(trigger))
    snapshot = contact_adapter().snapshot(contact) if listener.needs_contact else None
    return passing if filters_pass(listener, passing, snapshot) else None


def _enroll_first(
    workflow: Workflow,
    contact: Any,
    trigger: dict[str, Any],
    delivery: int | None,
    *,
    still: bool = False,
    contact_id: Any = None,
    along: Along | None = None,
) -> int | None:
    """Enroll with the first steps run in this task (one task per enrollment here: no second
    hop), claiming the delivery in the enrollment's INSERT. ``still``: ``workflow`` is the
    request's view of it (``_workflow_seen``): the claim holds only while the row agrees.
    ``along``: the contact (``contact_id``, ``contact`` None) is read by that INSERT too."""
    claim = None
    if delivery is not None:
        version = (workflow.pk, workflow.published_version_id) if still else None
        claim = delivery_claim(delivery, still=version)
    return workflow_enroll(
        workflow_id=workflow.pk,
        contact=contact,
        trigger=trigger,
        run_first=True,
        workflow=workflow,
        claim=claim,
        contact_id=contact_id if along is not None else None,
        contact_along=along,
    )


def _settled(delivery: int | None, outcome: str) -> None:
    if delivery is not None:
        delivery_settle(delivery, outcome)


def occurred_at(data: dict[str, Any]) -> datetime:
    return parse_datetime(str(data.get("occurred_at") or "")) or timezone.now()
