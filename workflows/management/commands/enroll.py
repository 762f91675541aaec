import json

from django.core.management.base import BaseCommand

from engine.language.conditions import ConditionError
from engine.runtime.enrollment import EnrollmentRefused
from engine.triggers.manual import ManualEnrollError, manual_enroll

from ._common import (
    add_progress_arguments,
    failed,
    invalid_input,
    progress_bar,
    tenant_by_slug,
    workflow_by_name_or_id,
)


class Command(BaseCommand):
    help = (
        "Enroll contacts in an active workflow: one (--contact), a filtered set, or --all. "
        "Exit code: 0 done (contacts already in are skipped), 1 the workflow is not active, "
        "2 invalid input (unknown tenant, workflow or contact, a bad filter)."
    )

    def add_arguments(self, parser):
        parser.add_argument("workflow", help="name or id")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--contact", action="append", help="contact id (repeatable)")
        who.add_argument(
            "--filter",
            help='condition rules as JSON, e.g. \'[{"field": "tags", '
            '"operator": "contains", "value": "vip"}]\'',
        )
        who.add_argument("--all", action="store_true", help="every contact of the tenant")
        add_progress_arguments(parser)

    def handle(
        self, *args, workflow: str, tenant: str, contact, filter, all: bool, progress, **options
    ):
        found = workflow_by_name_or_id(tenant_by_slug(tenant), workflow)
        filters = None
        if filter is not None:
            try:
                filters = json.loads(filter)
            except ValueError as exc:
                raise invalid_input(f"--filter is not valid JSON: {exc}") from None
        bar = progress_bar(self, progress=progress, unit="contact", desc="enrolling")

        def advance(done: int, total: int) -> None:
            bar.total = total  # known once the selection is read
            bar.update(done)

        try:
            with bar:
                result = manual_enroll(
                    workflow=found,
                    contact_ids=contact,
                    filters=filters,
                    everyone=all,
                    by="manage.py enroll",
                    via="command",
                    progress=advance,
                )
        except EnrollmentRefused as exc:
            raise failed(str(exc)) from None
        except (ManualEnrollError, ConditionError) as exc:
            raise invalid_input(str(exc)) from None
        self.stdout.write(
            f"enrolled {result.enrolled} of {result.selected} contacts in '{found.name}'"
            f" ({result.skipped} already in)"
        )
