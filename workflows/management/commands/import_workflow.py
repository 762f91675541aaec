from django.core.management.base import BaseCommand

from engine.definition import DefinitionError, parse_definition
from workflows.services import PublishRefused, workflow_import, workflow_publish

from ._common import (
    add_progress_arguments,
    failed,
    invalid_input,
    progress_bar,
    read_file,
    tenant_by_slug,
)


class Command(BaseCommand):
    help = (
        "Import workflow files as drafts (each created or updated by name); --publish to go "
        "live. Exit code: 0 imported (and published), 1 publishing refused for a file (the "
        "others are still imported), 2 invalid input (nothing is imported)."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--publish", action="store_true")
        add_progress_arguments(parser)

    def handle(self, *args, files: list[str], tenant: str, publish: bool, progress, **options):
        target = tenant_by_slug(tenant)
        # Every file is read and parsed before anything is written: a bad one imports nothing.
        texts = []
        for file in files:
            text = read_file(file)
            try:
                parse_definition(text)
            except DefinitionError as exc:
                raise invalid_input(f"{file}: {exc}") from None
            texts.append(text)
        refused = []
        bar = progress_bar(self, progress=progress, total=len(files), unit="file", desc="importing")
        with bar:
            for text in texts:
                refusal = self._import(target, text, publish)
                if refusal:
                    refused.append(refusal)
                bar.update(1)
        if refused:
            raise failed("\n".join(refused))

    def _import(self, tenant, text: str, publish: bool) -> str:
        """Import one parsed file; the reason publishing was refused, or ""."""
        imported = workflow_import(tenant=tenant, text=text)
        workflow = imported.workflow
        verb = "created" if imported.created else "updated"
        self.stdout.write(f"{verb} draft '{workflow.name}' (id {workflow.pk})")
        for problem in imported.result.warnings:
            self.stdout.write(f"warning: {problem}")
        for problem in imported.result.errors:
            self.stdout.write(f"error: {problem}")
        if not publish:
            return ""
        try:
            version = workflow_publish(workflow=workflow)
        except PublishRefused as exc:
            return str(exc)
        self.stdout.write(self.style.SUCCESS(f"published version {version.number}"))
        return ""
