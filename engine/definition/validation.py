"""Checking a parsed definition: targets, ids, durations, cron, rules, templates and assets."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.definition.graph import graph_warnings, reaches
from engine.definition.navigation import ON_ERROR_BUILTINS, parse_target
from engine.definition.parser import parse_definition
from engine.definition.problems import (
    DefinitionError,
    Problem,
    Severity,
    ValidationResult,
    did_you_mean,
    join_path,
)
from engine.definition.schema import Step, WorkflowDefinition
from engine.language import conditions, templating
from engine.language.business_hours import validate_business_hours
from engine.language.cron import CronError, either_day, validate_cron
from engine.language.durations import DurationError, parse_duration

NAMESPACES = (
    "contact",
    "trigger",
    "steps",
    "workflow",
    "enrollment",
    "now",
    "templates",
    "voicemails",
)
# Namespaces whose values a contact wrote or caused (its fields, the event, earlier answers and
# webhook replies built from them): never trusted as instructions to an AI model (docs/ai.md).
UNTRUSTED_NAMESPACES = frozenset({"contact", "trigger", "steps"})
DEFAULT_CONTACT_FIELDS = frozenset(
    {
        "id",
        "first_name",
        "last_name",
        "full_name",
        "email",
        "phone",
        "tags",
        "custom_fields",
        "stage",
        "source",
        "timezone",
        "created_at",
        "updated_at",
        "opted_out",
    }
)
# Contact fields whose sub-keys are free-form.
OPEN_CONTACT_FIELDS = frozenset({"custom_fields", "opted_out"})

# Config fields that name an asset directly (a slug) when they hold no template syntax.
ASSET_FIELDS = {
    ("send_email", "template_id"): "templates",
    ("make_call", "voicemail_drop_id"): "voicemails",
}


@dataclass(frozen=True)
class PromptUse:
    """What an ``ai_prompt`` step asks of the prompt library: the prompt by name, a pinned
    version (None: the latest active), and the step's ``variables`` as written."""

    step_id: str
    name: str
    version: int | None
    variables: dict[str, Any]


@dataclass(frozen=True)
class ValidationContext:
    """What the tenant has; a None check is skipped (e.g. validating a file with no database).

    ``prompt_check`` returns the problems of one PromptUse as (severity, message) pairs; when
    it is not given, ``prompt_exists`` (name, version) -> bool is the simpler check.
    """

    prompt_exists: Callable[[str, int | None], bool] | None = None
    prompt_check: Callable[[PromptUse], list[tuple[Severity, str]]] | None = None
    template_slugs: set[str] | None = None
    voicemail_slugs: set[str] | None = None
    contact_fields: frozenset[str] = DEFAULT_CONTACT_FIELDS
    # Custom field paths the contact schema knows ("company", "company.size"); None: unknown,
    # and reads of custom fields are then not checked.
    custom_fields: frozenset[str] | None = None


@dataclass
class _Checker:
    defn: WorkflowDefinition
    ctx: ValidationContext
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ids = [step.id for step in self.defn.steps]
        self.custom_reads: dict[str, str] = {}  # custom field path → where it is first read

    def check_custom_reads(self) -> None:
        """Warn about custom field paths read that no step writes and the schema does not know."""
        known = self.ctx.custom_fields
        if known is None:
            return
        written = _custom_writes(self.defn.steps)
        for name, path in self.custom_reads.items():
            if not (_covered(name, written) or _covered(name, known)):
                self.add(
                    path,
                    f"reads custom_fields.{name}, which no step writes and no contact has "
                    "(dots nest: custom_fields.a.b is field b inside field a)",
                    Severity.WARNING,
                )

    def add(self, path: str, message: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(path, message, self.defn.lines.line_for(path), severity))

    def run(self) -> None:
        self.check_ids()
        self.check_trigger()
        self.check_settings()
        for index, step in enumerate(self.defn.steps):
            self.check_step(index, step)
        self.check_custom_reads()

    def check_ids(self) -> None:
        first: dict[str, int] = {}
        for index, step_id in enumerate(self.ids):
            if step_id in first:
                self.add(
                    f"steps[{index}].id",
                    f"duplicate step id '{step_id}' (also steps[{first[step_id]}])",
                )
            first.setdefault(step_id, index)

    def check_trigger(self) -> None:
        trigger = self.defn.trigger
        cron = getattr(trigger.config, "cron", None)
        if cron is not None:
            try:
                validate_cron(cron)
            except CronError as exc:
                self.add("trigger.config.cron", str(exc))
            else:
                self.check_cron_days(cron)
        zone = getattr(trigger.config, "timezone", None)
        if zone:
            self.check_zone("trigger.config.timezone", zone)
        self.check_rules("trigger", "filters", trigger.filters, step_index=None)

    def check_cron_days(self, cron: str) -> None:
        if not either_day(cron):
            return
        _minute, _hour, month_day, _month, week_day = cron.split()
        self.add(
            "trigger.config.cron",
            f"'{cron}' runs on days matching day-of-month '{month_day}' OR day-of-week "
            f"'{week_day}' (either one, as crontab(5) reads it), not only days matching both",
            Severity.WARNING,
        )

    def check_settings(self) -> None:
        settings = self.defn.settings
        self.check_zone("settings.timezone", settings.timezone)
        if settings.business_hours is not None:
            for message in validate_business_hours(settings.business_hours):
                self.add("settings.business_hours", message)
        self.check_rules("settings", "exit_conditions", settings.exit_conditions, step_index=None)

    def check_zone(self, path: str, zone: str) -> None:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.add(path, f"unknown time zone '{zone}'")

    def check_step(self, index: int, step: Step) -> None:
        base = f"steps[{index}]"
        if step.delay is not None:
            self.check_duration(f"{base}.delay", step.delay)
        if step.next:
            self.check_target(f"{base}.next", step.next)
        if step.on_error not in ON_ERROR_BUILTINS:
            self.check_target(f"{base}.on_error", step.on_error, builtins=False)
        config = step.config
        for path, target in config.targets():
            self.check_target(f"{base}.config.{path}", target)
        for name in config.duration_fields:
            value = getattr(config, name)
            if value is not None:
                self.check_duration(f"{base}.config.{_alias(config, name)}", value)
        skip = {_alias(config, name) for name in (*config.rules_fields, *config.target_fields)}
        dumped = config.model_dump(by_alias=True, mode="json")
        for key, value in dumped.items():
            if key in skip:
                continue
            for path, text in _strings(value, f"{base}.config.{key}"):
                self.check_template(path, text, index)
        for name in config.rules_fields:
            self.check_rules(f"{base}.config", _alias(config, name), getattr(config, name), index)
        self.check_assets(base, step)

    def check_duration(self, path: str, value: str) -> None:
        try:
            parse_duration(value)
        except DurationError as exc:
            self.add(path, str(exc))

    def check_target(self, path: str, target: str, *, builtins: bool = True) -> None:
        kind, value = parse_target(target)
        if kind != "step" and builtins:
            return
        if kind == "step" and value in self.ids:
            return
        if not builtins:
            hint = did_you_mean(target, [*ON_ERROR_BUILTINS, *self.ids])
            self.add(path, f"must be fail, continue or a step id; unknown step '{target}'{hint}")
            return
        self.add(path, f"unknown step '{target}'{did_you_mean(target, self.ids)}")

    def check_rules(self, base: str, key: str, rules: Any, step_index: int | None) -> None:
        if rules is None:
            return
        for problem in conditions.validate_rules(rules, path=key):
            self.add(_join(base, problem.path), problem.message)
        for ref in conditions.rule_fields(rules):
            self.check_reference(join_path(base, key), ref, step_index)
        for path, text in _strings(rules, join_path(base, key)):
            if not path.endswith(".field"):
                self.check_template(path, text, step_index, report_syntax=False)

    def check_template(
        self, path: str, text: str, step_index: int | None, *, report_syntax: bool = True
    ) -> None:
        if not templating.has_template_syntax(text):
            return
        try:
            refs = templating.referenced_paths(text)
        except templating.TemplateError as exc:
            if report_syntax:
                self.add(path, str(exc))
            return
        for ref in refs:
            self.check_reference(path, ref, step_index)

    def check_reference(self, path: str, ref: str, step_index: int | None) -> None:
        head, _, rest = ref.partition(".")
        key = rest.partition(".")[0]
        if head not in NAMESPACES:
            hint = did_you_mean(head, NAMESPACES)
            self.add(path, f"unknown variable '{ref}': '{head}' is not a namespace{hint}")
        elif head == "contact" and key and key not in self.ctx.contact_fields:
            hint = did_you_mean(key, self.ctx.contact_fields)
            self.add(path, f"unknown contact field '{key}'{hint}")
        elif head == "contact" and key == "custom_fields" and rest.partition(".")[2]:
            self.custom_reads.setdefault(rest.partition(".")[2], path)
        elif head == "steps" and key:
            self.check_step_reference(path, key, step_index)
        elif head in ("templates", "voicemails") and key:
            self.check_asset(path, head, key)

    def check_step_reference(self, path: str, step_id: str, step_index: int | None) -> None:
        if step_id not in self.ids:
            self.add(
                path,
                f"unknown step '{step_id}' in steps.{step_id}{did_you_mean(step_id, self.ids)}",
            )
            return
        if step_index is None:
            return
        here = self.ids[step_index]
        if step_id != here and not reaches(self.defn, step_id, here):
            message = f"reads steps.{step_id} but step '{step_id}' cannot have run before this step"
            self.add(path, message, Severity.WARNING)

    def check_asset(self, path: str, namespace: str, slug: str) -> None:
        known = self.ctx.template_slugs if namespace == "templates" else self.ctx.voicemail_slugs
        if known is None or slug in known:
            return
        what = "email template" if namespace == "templates" else "voicemail drop"
        self.add(path, f"unknown {what} '{slug}'{did_you_mean(slug, known)}")

    def check_assets(self, base: str, step: Step) -> None:
        for (kind, name), namespace in ASSET_FIELDS.items():
            value = getattr(step.config, name, None) if step.type == kind else None
            if isinstance(value, str) and value and not templating.has_template_syntax(value):
                self.check_asset(f"{base}.config.{name}", namespace, value)
        if step.type == "ask_ai":
            self.check_instruction(f"{base}.config.prompt", step)
        if step.type != "ai_prompt":
            return
        name, version = step.config.prompt, step.config.version  # type: ignore[attr-defined]
        if templating.has_template_syntax(name):
            return
        if self.ctx.prompt_check is not None:
            use = PromptUse(step.id, name, version, dict(step.config.variables))  # type: ignore[attr-defined]
            for severity, message in self.ctx.prompt_check(use):
                self.add(f"{base}.config.prompt", message, severity)
            return
        if self.ctx.prompt_exists is None or self.ctx.prompt_exists(name, version):
            return
        label = f"'{name}' version {version}" if version else f"'{name}'"
        self.add(f"{base}.config.prompt", f"no prompt {label} in the prompt library")

    def check_instruction(self, path: str, step: Step) -> None:
        """An ask_ai question is the system instruction: contact-supplied values it reads are
        sent in the user turn instead (docs/ai.md), which the author should know."""
        text = step.config.prompt  # type: ignore[attr-defined]
        try:
            refs = templating.referenced_paths(text) if templating.has_template_syntax(text) else []
        except templating.TemplateError:
            return  # reported by check_template
        untrusted = [ref for ref in refs if ref.partition(".")[0] in UNTRUSTED_NAMESPACES]
        if untrusted:
            subject = f"step '{step.id}': the instruction"
            self.add(path, untrusted_warning(subject, untrusted), Severity.WARNING)


def untrusted_warning(subject: str, paths: list[str]) -> str:
    """The warning for trusted text (``subject``: which text of which step) that reads
    contact-supplied ``paths``."""
    return (
        f"{subject} reads {', '.join(paths)}, text that comes from the contact or its events; "
        "such text is sent to the model in the user turn, never in the instruction, which "
        "shows a pointer to it instead"
    )


def validate_definition(
    defn: WorkflowDefinition, *, ctx: ValidationContext | None = None
) -> ValidationResult:
    """Errors (block publishing) and warnings (advice) for a parsed definition."""
    checker = _Checker(defn, ctx or ValidationContext())
    checker.run()
    problems = sorted(checker.problems + graph_warnings(defn), key=lambda p: p.line or 0)
    return ValidationResult(
        errors=[p for p in problems if p.severity == Severity.ERROR],
        warnings=[p for p in problems if p.severity == Severity.WARNING],
    )


def _custom_writes(steps: list[Step]) -> set[str]:
    """Custom field paths that update_contact / update_lead steps set (``a.b`` for nested)."""
    written: set[str] = set()
    for step in steps:
        fields = getattr(step.config, "fields", None) if step.type == "update_contact" else None
        if step.type == "update_lead":
            fields = getattr(step.config, "updates", None)
        for name, value in (fields or {}).items():
            if name == "custom_fields" and isinstance(value, dict):
                written.update(_nested_paths(value, ""))
            elif name.startswith("custom_fields."):
                written.add(name.partition(".")[2])
    return written


def _nested_paths(value: dict, prefix: str) -> Iterator[str]:
    for key, item in value.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(item, dict):
            yield from _nested_paths(item, f"{path}.")


def _covered(name: str, paths: Any) -> bool:
    """``name`` is a known path, inside one (``a`` written, ``a.b`` read) or holds one."""
    return any(
        name == path or name.startswith(f"{path}.") or path.startswith(f"{name}.") for path in paths
    )


def _alias(config: Any, name: str) -> str:
    return type(config).model_fields[name].alias or name


def _join(base: str, sub: str) -> str:
    return f"{base}{sub}" if sub.startswith("[") else join_path(base, sub)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside ``value`` with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def check_document(
    text: str | bytes,
    *,
    ctx: ValidationContext | None = None,
    format: str | None = None,
) -> ValidationResult:
    """Parse and validate a document; problems that stop parsing come back as errors."""
    try:
        parsed = parse_definition(text, format=format)  # type: ignore[arg-type]
    except DefinitionError as exc:
        return ValidationResult(errors=exc.problems)
    return validate_definition(parsed.definition, ctx=ctx)
