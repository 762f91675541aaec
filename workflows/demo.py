"""The sample workflows shipped in ``examples/``, imported for the demo tenant.

Every example is imported unchanged. It is published (live) only when it runs clean on the
demo data here; otherwise it stays a draft, with its validation warnings and the reason
printed by ``seed_demo``, so the demo's live workflows never fail or loop on their own:

- a step that calls an outside host (``http_request``) cannot succeed: the demo runs offline;
- a dry-run for each demo contact (no events, so nothing is opened, replied or booked) must
  end completed or exited, not failed (a loop that only the visit limit stops fails).

A live A/B test (``ab_split`` and ``goal``) is then given a finished past (``seed_ab_history``),
so the dashboard's A/B panel shows variants and goal conversion on a fresh demo.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm.models import Contact, Tenant
from engine.definition import definition_to_dict, parse_definition
from engine.dryrun import dry_run
from engine.effects.contacts import load_snapshot

from .models import Enrollment, StepLog, Workflow
from .services import workflow_import, workflow_publish

EXAMPLES_DIR = Path(settings.BASE_DIR) / "examples"
OUTSIDE_CALL_KINDS = frozenset({"http_request"})


@dataclass(frozen=True)
class SeededWorkflow:
    """One example as seeded: its name, whether it is live, and why not when it is a draft."""

    name: str
    live: bool
    reason: str = ""

    def describe(self) -> str:
        return f"{self.name} (live)" if self.live else f"{self.name} (draft: {self.reason})"


def example_paths() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.y*ml")) + sorted(EXAMPLES_DIR.glob("*.json"))


def outside_calls(definition: dict[str, Any]) -> list[str]:
    """Problems of steps that need a host outside this machine (the demo runs offline)."""
    return [
        f"step '{step['id']}' calls {step['config'].get('url', 'an outside host')}, "
        "which the offline demo cannot reach"
        for step in definition["steps"]
        if step["type"] in OUTSIDE_CALL_KINDS
    ]


def first_failed_dry_run(
    definition: dict[str, Any], *, tenant: Tenant, contact_ids: Iterable[int]
) -> str:
    """The first demo contact whose dry-run fails, with the error; "" when none does."""
    for contact_id in contact_ids:
        contact = load_snapshot(contact_id)
        report = dry_run(
            definition=definition, contact=contact, seed=contact_id, tenant_id=tenant.pk
        )
        if report.status == "failed":
            return f"its dry-run for {contact['full_name']} fails: {report.error}"
    return ""


def demo_blocker(definition: dict[str, Any], *, tenant: Tenant) -> str:
    """Why ``definition`` would not run clean on the demo data ("" when it would)."""
    calls = outside_calls(definition)
    if calls:
        return calls[0]
    contact_ids = Contact.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True)
    return first_failed_dry_run(definition, tenant=tenant, contact_ids=contact_ids)


def seed_example(*, tenant: Tenant, path: Path) -> SeededWorkflow:
    """Import one example once (a workflow already there by name is left as it is)."""
    text = path.read_text(encoding="utf-8")
    definition = parse_definition(text).definition
    existing = Workflow.objects.filter(tenant=tenant, name=definition.name).first()
    if existing is not None:
        return SeededWorkflow(
            existing.name, existing.published_version_id is not None, "kept as it was"
        )
    imported = workflow_import(tenant=tenant, text=text)
    if not imported.result.ok:
        return SeededWorkflow(definition.name, False, "it has validation errors")
    blocker = demo_blocker(definition_to_dict(definition), tenant=tenant)
    if blocker:
        return SeededWorkflow(definition.name, False, blocker)
    workflow_publish(workflow=imported.workflow, note=f"seeded from examples/{path.name}")
    return SeededWorkflow(definition.name, True)


# How many demo contacts get a finished run of each A/B workflow, and how far back they start:
# every simulated run (a goal times out after at most a week) has ended before "now".
AB_HISTORY_CONTACTS = 12
AB_HISTORY_START_DAYS = (8, 13)
# The goal event of the simulated history: every other contact becomes a customer a day in.
CONVERTED_EVENT = {"type": "tag_added", "tag": "customer", "after": "1d"}


@dataclass(frozen=True)
class AbHistory:
    """Finished runs recorded for one live A/B workflow (0 when it already had enrollments)."""

    workflow: str
    runs: int
    converted: int

    def describe(self) -> str:
        return f"{self.workflow}: {self.runs} finished runs, {self.converted} met the goal"


def _is_ab_test(definition: dict[str, Any]) -> bool:
    kinds = {step["type"] for step in definition.get("steps") or []}
    return {"ab_split", "goal"} <= kinds


def seed_ab_history(*, tenant: Tenant, now: datetime | None = None) -> list[AbHistory]:
    """Give each live A/B workflow (an ``ab_split`` and a ``goal``) without enrollments a
    finished past: for the first ``AB_HISTORY_CONTACTS`` demo contacts, the engine's dry-run
    plays the published version (every other contact becoming a customer a day in) and its
    result is recorded as a *completed* enrollment with step logs, 8-13 days ago. Nothing is
    sent and nothing stays live, so the demo's A/B panel has variants and goal conversion
    without any enrollment that could still call, text or fail. Safe to run twice."""
    now = now or timezone.now()
    done = []
    live = Workflow.objects.filter(tenant=tenant, published_version__isnull=False)
    for workflow in live.select_related("published_version").order_by("name"):
        definition = workflow.published_version.definition
        if not _is_ab_test(definition) or workflow.enrollments.exists():
            continue
        contacts = Contact.objects.filter(tenant=tenant).order_by("pk")[:AB_HISTORY_CONTACTS]
        runs = converted = 0
        for index, contact in enumerate(contacts):
            low, high = AB_HISTORY_START_DAYS
            start = (now - timedelta(days=low + index % (high - low + 1))).replace(microsecond=0)
            events = [CONVERTED_EVENT] if index % 2 == 0 else []
            report = dry_run(
                definition=definition,
                contact=load_snapshot(contact.pk),
                events=events,
                seed=contact.pk,
                start=start,
                tenant_id=tenant.pk,
            )
            if report.status not in ("completed", "exited"):
                continue  # only finished runs belong in the demo's past
            met = _record_history(workflow, contact, report, start)
            runs, converted = runs + 1, converted + met
        done.append(AbHistory(workflow.name, runs, converted))
    return done


@transaction.atomic
def _record_history(workflow: Workflow, contact: Contact, report, start: datetime) -> bool:
    """One finished enrollment and its step logs from a dry-run ``report``; True when a goal
    was met."""
    steps = {entry["id"]: entry["output"] or {} for entry in report.steps}
    ended = max((_at(entry["at"]) for entry in report.steps), default=start)
    enrollment = Enrollment.objects.create(
        tenant=workflow.tenant,
        workflow=workflow,
        version=workflow.published_version,
        contact=contact,
        status=Enrollment.Status.COMPLETED
        if report.status == "completed"
        else Enrollment.Status.EXITED,
        exit_reason=report.exit_reason,
        context={"trigger": {}, "steps": steps, "demo": "history simulated by seed_demo"},
        visits={entry["id"]: 1 for entry in report.steps},
        step_count=len(report.steps),
        completed_at=ended,
    )
    # enrolled_at is set on insert; the demo's past starts days ago.
    Enrollment.objects.filter(pk=enrollment.pk).update(enrolled_at=start)
    StepLog.objects.bulk_create(
        StepLog(
            tenant=workflow.tenant,
            workflow=workflow,
            version=workflow.published_version,
            enrollment=enrollment,
            step_id=entry["id"],
            step_type=entry["type"],
            status=entry["status"],
            input_context=entry["input"],
            parsed_output=entry["output"],
            error_message=entry["error"] or "",
            next_step=entry["next"] or "",
            started_at=_at(entry["at"]),
            finished_at=_at(entry["at"]),
            triggering_object_id="seed_demo",
        )
        for entry in report.steps
    )
    goals = [s["id"] for s in workflow.published_version.definition["steps"] if s["type"] == "goal"]
    return any(steps.get(goal, {}).get("met") for goal in goals)


def _at(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
