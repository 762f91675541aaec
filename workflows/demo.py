"""The sample workflows shipped in ``examples/``, imported for the demo tenant.

Every example is imported unchanged. It is published (live) only when it runs clean on the
demo data here; otherwise it stays a draft, with its validation warnings and the reason
printed by ``seed_demo``, so the demo's live workflows never fail or loop on their own:

- a step that calls an outside host (``http_request``) cannot succeed: the demo runs offline;
- a dry-run for each demo contact (no events, so nothing is opened, replied or booked) must
  end completed or exited, not failed (a loop that only the visit limit stops fails).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from crm.models import Contact, Tenant
from engine.definition import definition_to_dict, parse_definition
from engine.dryrun import dry_run
from engine.effects.contacts import load_snapshot

from .models import Workflow
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


def seed_example_workflows(*, tenant: Tenant) -> list[SeededWorkflow]:
    """Import every example for ``tenant``; publish those that run clean on the demo data."""
    return [seed_example(tenant=tenant, path=path) for path in example_paths()]
