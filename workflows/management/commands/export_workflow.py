from django.core.management.base import BaseCommand

from workflows.models import WorkflowVersion
from workflows.selectors import workflow_export

from ._common import free_version_flag, invalid_input, tenant_by_slug, workflow_by_name_or_id


class Command(BaseCommand):
    help = (
        "Print a workflow's draft (or a published version) as YAML or JSON. "
        "Exit code: 0 printed, 2 unknown tenant, workflow or version."
    )

    def add_arguments(self, parser):
        free_version_flag(parser)
        parser.add_argument("workflow", help="name or id")
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--version", type=int, dest="version_number")
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")

    def handle(self, *args, workflow: str, tenant: str, version_number, format: str, **options):
        found = workflow_by_name_or_id(tenant_by_slug(tenant), workflow)
        try:
            text = workflow_export(workflow=found, version=version_number, fmt=format)
        except WorkflowVersion.DoesNotExist:
            raise invalid_input(f"'{found.name}' has no version {version_number}") from None
        self.stdout.write(text.rstrip("\n"))
