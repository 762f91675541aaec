"""Manual enrollment: one contact, a filtered set, or everyone, from the admin, API or CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from engine.effects.contacts import contact_model
from engine.effects.zones import workflow_zone
from engine.runtime.bulk_enroll import enrollments_bulk_create
from engine.triggers.audience import contacts_matching
from workflows.models import Workflow


class ManualEnrollError(ValueError):
    """The request names no contacts, too many ways, or contacts of another tenant."""


@dataclass(frozen=True)
class ManualResult:
    selected: int
    enrolled: int

    @property
    def skipped(self) -> int:
        return self.selected - self.enrolled


def manual_enroll(
    *,
    workflow: Workflow,
    contact_ids: Iterable[Any] | None = None,
    filters: Any = None,
    everyone: bool = False,
    by: str = "",
    via: str = "manual",
    progress: Callable[[int, int], None] | None = None,
) -> ManualResult:
    """Enroll chosen contacts (ids), those passing ``filters``, or ``everyone`` of the tenant.

    Contacts already in the workflow are skipped. ``progress``, when given, is called with
    (contacts just processed, contacts selected) after each chunk, for a progress bar.
    Raises EnrollmentRefused for a workflow that is not active, ManualEnrollError for a bad
    selection.
    """
    chosen = [x for x in (contact_ids is not None, filters is not None, everyone) if x]
    if len(chosen) != 1:
        raise ManualEnrollError("choose exactly one of: contact ids, filters, or everyone")
    if contact_ids is not None:
        wanted = list(dict.fromkeys(contact_ids))
        ids = list(
            contact_model()
            .objects.filter(tenant_id=workflow.tenant_id, pk__in=wanted)
            .values_list("pk", flat=True)
        )
        if len(ids) != len(wanted):
            missing = sorted(set(map(str, wanted)) - set(map(str, ids)))
            raise ManualEnrollError(
                f"contacts not found in tenant of workflow '{workflow.name}': {', '.join(missing)}"
            )
    else:
        version = workflow.published_version
        settings = ((version.definition if version else None) or {}).get("settings") or {}
        # Filters on dates read them in the workflow's zone, as its runs do.
        with timezone.override(workflow_zone(settings, workflow.tenant_id)):
            ids = list(contacts_matching(tenant_id=workflow.tenant_id, filters=filters or None))
    trigger = {
        "type": "manual",
        "by": by,
        "via": via,
        "occurred_at": timezone.now().isoformat(),
    }
    step = None if progress is None else (lambda done: progress(done, len(ids)))
    enrolled = enrollments_bulk_create(
        workflow=workflow, contact_ids=ids, trigger=trigger, progress=step
    )
    return ManualResult(selected=len(ids), enrolled=enrolled)
