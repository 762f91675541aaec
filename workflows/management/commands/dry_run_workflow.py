import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from engine.definition import (
    DefinitionError,
    definition_to_dict,
    load_definition,
    parse_definition,
)
from engine.dryrun.run import DryRunError, dry_run
from workflows.services import draft_dict

from ._common import (
    EXIT_ATTENTION,
    failed,
    free_version_flag,
    invalid_input,
    read_file,
    tenant_by_slug,
    workflow_by_name_or_id,
)

# The simulated run's end state → exit code (docs/commands.md).
FAILED_STATUSES = {"failed"}
WAITING_STATUSES = {"waiting", "active"}
JSON_KINDS = {dict: "object", list: "array"}


def json_arg(raw: str | None, name: str, default, kind: type):
    if raw is None:
        return default
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise invalid_input(f"--{name} is not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        raise invalid_input(f"--{name} must be a JSON {JSON_KINDS[kind]}")
    return value


class Command(BaseCommand):
    help = (
        "Simulate a workflow for a sample contact on a virtual clock; nothing is sent or saved. "
        "Exit code: 0 completed or exited, 1 the run failed, 2 invalid input, 3 still waiting."
    )

    def add_arguments(self, parser):
        free_version_flag(parser)
        parser.add_argument("source", help="a YAML/JSON file, or a workflow name or id")
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--contact", required=True, help='JSON, e.g. {"first_name": "Ann"}')
        parser.add_argument("--trigger", help="JSON put under trigger.*")
        parser.add_argument(
            "--events", help='JSON list, e.g. [{"after": "2d", "type": "tag_added", "tag": "x"}]'
        )
        parser.add_argument("--version", type=int, dest="version_number")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, source: str, tenant: str, **options):
        tenant_row = tenant_by_slug(tenant)
        definition = self._definition(source, tenant_row, options["version_number"])
        try:
            report = dry_run(
                definition=definition,
                contact=json_arg(options["contact"], "contact", {}, dict),
                trigger=json_arg(options["trigger"], "trigger", {}, dict),
                events=json_arg(options["events"], "events", [], list),
                seed=options["seed"],
                tenant_id=tenant_row.pk,
            )
        except DryRunError as exc:
            raise invalid_input(str(exc)) from None
        if options["format"] == "json":
            self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        else:
            self._print(report)
        self._exit_for(report)

    def _exit_for(self, report) -> None:
        if report.status in FAILED_STATUSES:
            raise failed(f"the simulated run failed: {report.error or 'a step failed'}")
        if report.status in WAITING_STATUSES:
            raise CommandError(
                "the simulation ended with the run still waiting", returncode=EXIT_ATTENTION
            )

    def _print(self, report) -> None:
        for step in report.steps:
            line = f"{step['at']}  {step['id']:<24} {step['type']:<16} {step['status']}"
            if step.get("next"):
                line += f" → {step['next']}"
            self.stdout.write(line)
            if step.get("error"):
                self.stdout.write(f"    error: {step['error']}")
        for item in report.outbox:
            self.stdout.write(f"would send: {json.dumps(item, default=str)}")
        reason = f" ({report.exit_reason})" if report.exit_reason else ""
        self.stdout.write(f"result: {report.status}{reason}")

    def _definition(self, source: str, tenant, version_number):
        if Path(source).is_file():
            try:
                return definition_to_dict(parse_definition(read_file(source)).definition)
            except DefinitionError as exc:
                raise invalid_input(f"{source}: {exc}") from None
        workflow = workflow_by_name_or_id(tenant, source)
        if version_number is not None:
            version = workflow.versions.filter(number=version_number).first()
            if version is None:
                raise invalid_input(f"'{workflow.name}' has no version {version_number}")
            return version.definition
        try:
            return definition_to_dict(load_definition(draft_dict(workflow=workflow)))
        except DefinitionError as exc:
            raise invalid_input(f"draft of '{workflow.name}': {exc}") from None
