"""The sample workflows shipped in ``examples/``, imported and published for the demo tenant."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from crm.models import Tenant
from engine.definition import parse_definition

from .models import Workflow
from .services import workflow_import, workflow_publish

EXAMPLES_DIR = Path(settings.BASE_DIR) / "examples"


def seed_example_workflows(*, tenant: Tenant) -> list[str]:
    """Import each example once; a workflow already there (by name) is left as it is."""
    names = []
    for path in sorted(EXAMPLES_DIR.glob("*.y*ml")) + sorted(EXAMPLES_DIR.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        name = parse_definition(text).definition.name
        if Workflow.objects.filter(tenant=tenant, name=name).exists():
            names.append(name)
            continue
        imported = workflow_import(tenant=tenant, text=text)
        workflow = imported.workflow
        if workflow.published_version_id is None and imported.result.ok:
            workflow_publish(workflow=workflow, note=f"seeded from examples/{path.name}")
        names.append(workflow.name)
    return names
