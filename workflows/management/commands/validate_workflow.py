import json

from django.core.management.base import BaseCommand, CommandError

from engine.definition import check_document
from workflows.services import validation_context

from ._common import EXIT_ATTENTION, EXIT_FAILED, read_file, tenant_by_slug


class Command(BaseCommand):
    help = (
        "Validate a workflow file (YAML or JSON). Exit code: 0 valid, 1 errors, 2 invalid input "
        "(unreadable file, unknown tenant), 3 no errors but warnings with --strict."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument(
            "--tenant", help="Also check prompts and assets against this tenant's library"
        )
        parser.add_argument(
            "--strict", action="store_true", help="exit 3 when there are warnings (no errors)"
        )

    def handle(self, *args, file: str, format: str, tenant: str | None, strict: bool, **options):
        ctx = validation_context(tenant=tenant_by_slug(tenant)) if tenant else None
        result = check_document(read_file(file), ctx=ctx)
        if format == "json":
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        else:
            for problem in result.errors:
                self.stdout.write(f"{file}: error: {problem}")
            for problem in result.warnings:
                self.stdout.write(f"{file}: warning: {problem}")
            if result.ok:
                self.stdout.write(f"{file}: valid ({len(result.warnings)} warnings)")
        if not result.ok:
            raise CommandError(f"{len(result.errors)} error(s)", returncode=EXIT_FAILED)
        if strict and result.warnings:
            raise CommandError(
                f"{len(result.warnings)} warning(s) with --strict", returncode=EXIT_ATTENTION
            )
