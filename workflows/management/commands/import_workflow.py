from django.core.management.base import BaseCommand

from engine.definition import DefinitionError
from workflows.services import PublishRefused, workflow_import, workflow_publish

from ._common import failed, invalid_input, read_file, tenant_by_slug


class Command(BaseCommand):
    help = (
        "Import a workflow file as a draft (created or updated by name); --publish to go live. "
        "Exit code: 0 imported (and published), 1 publishing refused, 2 invalid input."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--publish", action="store_true")

    def handle(self, *args, file: str, tenant: str, publish: bool, **options):
        text = read_file(file)
        try:
            imported = workflow_import(tenant=tenant_by_slug(tenant), text=text)
        except DefinitionError as exc:
            raise invalid_input(f"{file}: {exc}") from None
        workflow = imported.workflow
        verb = "created" if imported.created else "updated"
        self.stdout.write(f"{verb} draft '{workflow.name}' (id {workflow.pk})")
        for problem in imported.result.warnings:
            self.stdout.write(f"warning: {problem}")
        for problem in imported.result.errors:
            self.stdout.write(f"error: {problem}")
        if publish:
            try:
                version = workflow_publish(workflow=workflow)
            except PublishRefused as exc:
                raise failed(str(exc)) from None
            self.stdout.write(self.style.SUCCESS(f"published version {version.number}"))
