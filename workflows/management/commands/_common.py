"""Helpers shared by the workflow management commands (kept thin: logic is in services)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from crm.models import Tenant
from workflows.models import Workflow


def read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text") from None


def tenant_by_slug(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise CommandError(f"no tenant with slug '{slug}'")
    return tenant


def workflow_by_name_or_id(tenant: Tenant, name_or_id: str) -> Workflow:
    workflows = Workflow.objects.filter(tenant=tenant)
    found = workflows.filter(name=name_or_id).first()
    if found is None and name_or_id.isdigit():
        found = workflows.filter(pk=int(name_or_id)).first()
    if found is None:
        raise CommandError(
            f"tenant '{tenant.slug}' has no workflow named or numbered '{name_or_id}'"
        )
    return found


def free_version_flag(parser) -> None:
    """Our ``--version`` is a workflow version number: let it replace Django's version flag."""
    # argparse checks conflicts in the optionals group, which keeps its own handler.
    for container in (parser, parser._optionals):
        container.conflict_handler = "resolve"
