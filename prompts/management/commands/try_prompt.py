"""Run a library prompt once with sample variables, logged like a step ("try it")."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from crm.models import Tenant
from prompts.services import PromptNotFound, prompt_resolve, prompt_try
from workflows.models import StepLog


class Command(BaseCommand):
    help = "Run a prompt of the library with sample variables and print output, tokens and cost."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the prompt's name")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument(
            "--prompt-version", type=int, dest="prompt_version", help="default: latest active"
        )
        parser.add_argument(
            "--variables", default="{}", help='JSON, e.g. {"contact": {"first_name": "Ann"}}'
        )
        parser.add_argument("--input", default="", dest="user_input", help="the user message")

    def handle(self, *args, name: str, tenant: str, **options):
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"no tenant with slug '{tenant}'")
        try:
            variables = json.loads(options["variables"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--variables is not valid JSON: {exc}") from None
        if not isinstance(variables, dict):
            raise CommandError("--variables must be a JSON object of name → value")
        try:
            prompt = prompt_resolve(tenant=found, name=name, version=options["prompt_version"])
        except PromptNotFound as exc:
            raise CommandError(str(exc)) from None
        log = prompt_try(prompt=prompt, variables=variables, user_input=options["user_input"])
        if log.status != StepLog.Status.SUCCEEDED:
            raise CommandError(f"{prompt} failed (step log #{log.pk}): {log.error_message}")
        self.stdout.write(str(log.raw_output))
        thinking = f" ({log.thinking_tokens} thinking)" if log.thinking_tokens else ""
        cached = f" ({log.cached_tokens} cached)" if log.cached_tokens else ""
        self.stderr.write(
            f"{prompt} · {log.model_name} · {log.input_tokens} in{cached} / "
            f"{log.output_tokens} out{thinking} · ${log.cost} · {log.duration_ms} ms · "
            f"step log #{log.pk}"
        )
