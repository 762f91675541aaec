"""Writes on the prompt library: create, edit as a new version, activate, archive, resolve, try.

A prompt is never edited in place: an edit is a new version (name + version unique per tenant), so
a StepLog's prompt id always points at the text that was actually sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from crm.models import Tenant
from crm.text import lf
from engine.definition.problems import Severity
from engine.definition.validation import PromptUse, untrusted_warning
from engine.language.templating import TemplateError, referenced_paths
from prompts.budget import (
    CostCapReached,
    budget_reserve,
    budget_settle,
    cost_cap_check,
    usd,
)
from prompts.generation import (
    UNTRUSTED_NAMES,
    USER_INPUT_VARIABLE,
    GenerationError,
    GenerationOutcome,
    PromptSpec,
    complete,
    max_cost,
    missing_variables,
    normalize_generation_config,
    prepare,
    resolve_provider,
    undeclared_variables,
    untrusted_variable_names,
)
from prompts.models import DEFAULT_MODEL, Prompt
from prompts.providers import Provider
from workflows.models import StepLog

__all__ = [
    "CostCapReached",
    "PromptInvalid",
    "PromptNotFound",
    "ai_call",
    "cost_cap_check",
    "prompt_activate",
    "prompt_archive",
    "prompt_check_variables",
    "prompt_create",
    "prompt_new_version",
    "prompt_resolve",
    "prompt_spec",
    "prompt_step_problems",
    "prompt_try",
    "prompt_untrusted_references",
    "prompt_validate",
    "usage_log_fields",
    "usd",
]

EDITABLE_FIELDS = frozenset(
    {
        "category",
        "system_prompt_text",
        "user_prompt_text",
        "model_name",
        "provider",
        "generation_config",
        "template_variables",
    }
)
TRY_STEP_ID = "try_it"


class PromptInvalid(ValueError):
    """A prompt's fields do not make a usable prompt; the message names the prompt and field."""


class PromptNotFound(LookupError):
    """No usable prompt under that name (and version) in the tenant's library."""


def prompt_validate(prompt: Prompt) -> None:
    """Raise PromptInvalid naming the prompt and field when ``prompt`` cannot be used."""
    label = f"prompt '{prompt.name}'"
    if not prompt.name.strip():
        raise PromptInvalid("a prompt needs a name")
    if not prompt.system_prompt_text.strip():
        raise PromptInvalid(f"{label}: system_prompt_text is empty")
    for field in ("system_prompt_text", "user_prompt_text"):
        try:
            referenced_paths(getattr(prompt, field))
        except TemplateError as exc:
            raise PromptInvalid(f"{label}: {field}: {exc}") from exc
    if not isinstance(prompt.generation_config, dict):
        raise PromptInvalid(f"{label}: generation_config must be an object")
    try:
        normalize_generation_config(prompt.generation_config)
    except ValueError as exc:
        raise PromptInvalid(f"{label}: {exc}") from exc
    variables = prompt.template_variables
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise PromptInvalid(f"{label}: template_variables must be a list of names")
    if prompt.provider not in Prompt.Provider.values:
        raise PromptInvalid(f"{label}: unknown provider {prompt.provider!r}")


def prompt_create(
    *,
    tenant: Tenant,
    name: str,
    system_prompt_text: str,
    user_prompt_text: str = "",
    category: str = "",
    model_name: str = DEFAULT_MODEL,
    provider: str = "",
    generation_config: Mapping[str, Any] | None = None,
    template_variables: list[str] | None = None,
    status: str = Prompt.Status.ACTIVE,
) -> Prompt:
    """Add version 1 of a new prompt (or the next version when the name exists already)."""
    prompt = Prompt(
        tenant=tenant,
        name=name.strip(),
        system_prompt_text=system_prompt_text,
        user_prompt_text=user_prompt_text,
        category=category,
        model_name=model_name or DEFAULT_MODEL,
        provider=provider or "",
        generation_config={} if generation_config is None else generation_config,
        template_variables=[] if template_variables is None else template_variables,
        status=status,
    )
    return prompt_save_as_next_version(prompt=prompt)


@transaction.atomic
def prompt_save_as_next_version(*, prompt: Prompt) -> Prompt:
    """Validate an unsaved prompt and save it under its name's next version number (its texts
    with LF line endings, so a browser's CRLF is not a change)."""
    prompt.system_prompt_text = lf(prompt.system_prompt_text or "")
    prompt.user_prompt_text = lf(prompt.user_prompt_text or "")
    prompt_validate(prompt)
    # Lock the name's rows so two editors cannot both take the same next number.
    siblings = Prompt.objects.select_for_update().filter(tenant=prompt.tenant, name=prompt.name)
    prompt.version = (siblings.aggregate(n=Max("version"))["n"] or 0) + 1
    prompt.save()
    return prompt


def prompt_new_version(
    *, prompt: Prompt, status: str = Prompt.Status.DRAFT, **changes: Any
) -> Prompt:
    """An edit: copy ``prompt`` with ``changes`` as the next version; the old one stays as it was.

    The new version is a draft unless ``status`` says otherwise, so running workflows keep the
    active text until someone activates it. Raises PromptInvalid for unknown or invalid fields.
    """
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(EDITABLE_FIELDS))
        raise PromptInvalid(
            f"prompt '{prompt.name}': cannot change {', '.join(unknown)}; editable: {allowed}"
        )
    copy = Prompt(
        tenant_id=prompt.tenant_id,
        name=prompt.name,
        status=status,
        **{field: getattr(prompt, field) for field in EDITABLE_FIELDS},
    )
    for field, value in changes.items():
        setattr(copy, field, value)
    return prompt_save_as_next_version(prompt=copy)


def _set_status(prompt: Prompt, status: str) -> Prompt:
    prompt.status = status
    prompt.save(update_fields=["status", "updated_at"])
    return prompt


def prompt_activate(*, prompt: Prompt) -> Prompt:
    """Make this version usable; as the highest active version it becomes the default."""
    return _set_status(prompt, Prompt.Status.ACTIVE)


def prompt_archive(*, prompt: Prompt) -> Prompt:
    """Retire this version: steps naming the prompt fall back to the next active version."""
    return _set_status(prompt, Prompt.Status.ARCHIVED)


def prompt_resolve(*, tenant: Tenant | int, name: str, version: int | None = None) -> Prompt:
    """The latest active version of ``name``, or exactly ``version`` (unless archived).

    Raises PromptNotFound naming the prompt, the version and what exists instead.
    """
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    prompts = Prompt.objects.filter(tenant_id=tenant_id, name=name)
    if version is not None:
        prompt = prompts.filter(version=version).first()
        if prompt is None:
            known = sorted(prompts.values_list("version", flat=True))
            hint = f"; versions: {', '.join(map(str, known))}" if known else ""
            raise PromptNotFound(f"no prompt '{name}' version {version} in the library{hint}")
        if prompt.status == Prompt.Status.ARCHIVED:
            raise PromptNotFound(f"prompt '{name}' version {version} is archived")
        return prompt
    prompt = prompts.filter(status=Prompt.Status.ACTIVE).order_by("-version").first()
    if prompt is None:
        reason = "has no active version" if prompts.exists() else "is not in the library"
        raise PromptNotFound(f"prompt '{name}' {reason}")
    return prompt


def prompt_spec(prompt: Prompt) -> PromptSpec:
    """What the generation service needs from a library prompt."""
    return PromptSpec(
        name=prompt.name,
        version=prompt.version,
        system_text=prompt.system_prompt_text,
        user_template=prompt.user_prompt_text,
        model=prompt.model_name or DEFAULT_MODEL,
        provider=prompt.provider or None,
        generation_config=dict(prompt.generation_config or {}),
        template_variables=list(prompt.template_variables or []),
    )


def prompt_check_variables(prompt: Prompt) -> list[str]:
    """Variables the prompt's texts use that ``template_variables`` does not document."""
    return undeclared_variables(spec=prompt_spec(prompt))


def prompt_untrusted_references(prompt: Prompt | PromptSpec) -> list[str]:
    """Paths in the system text that a contact or its events supply (``contact.*``,
    ``trigger.*``, ``steps.*``, ``input``): they are sent in the user turn instead, so the
    author should move them to the user template. Empty when the prompt follows the rule."""
    text = prompt.system_prompt_text if isinstance(prompt, Prompt) else prompt.system_text
    try:
        paths = referenced_paths(text)
    except TemplateError:
        return []
    return [path for path in paths if path.split(".", 1)[0] in UNTRUSTED_NAMES]


def prompt_step_problems(*, tenant: Tenant | int, use: PromptUse) -> list[tuple[Severity, str]]:
    """What publishing must know about an ``ai_prompt`` step's prompt, as (severity, message).

    Errors: no such prompt, only drafts (or only archived versions) when no version is pinned,
    a pinned version that does not exist or is archived, variables the prompt's texts use that
    the step does not supply. Warnings: a pinned draft, a system text that reads
    contact-supplied values. Every message names the step, the prompt and the version.
    """
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    versions = list(Prompt.objects.filter(tenant_id=tenant_id, name=use.name).order_by("-version"))
    where = f"step '{use.step_id}': prompt '{use.name}'"
    if not versions:
        missing = f"step '{use.step_id}': no prompt '{use.name}' in the prompt library"
        return [(Severity.ERROR, missing)]
    if use.version is None:
        prompt = next((p for p in versions if p.status == Prompt.Status.ACTIVE), None)
        if prompt is None:
            return [(Severity.ERROR, f"{where} has no active version: {_statuses(versions)}")]
    else:
        prompt = next((p for p in versions if p.version == use.version), None)
        if prompt is None:
            known = ", ".join(str(p.version) for p in reversed(versions))
            return [(Severity.ERROR, f"{where} has no version {use.version} (versions: {known})")]
        if prompt.status == Prompt.Status.ARCHIVED:
            return [
                (
                    Severity.ERROR,
                    f"{where} version {use.version} is archived: every run would fail; pin "
                    "an active version or leave version out for the latest active one",
                )
            ]
    label = f"{where} version {prompt.version}"
    problems: list[tuple[Severity, str]] = []
    if prompt.status == Prompt.Status.DRAFT:
        problems.append((Severity.WARNING, f"{label} is a draft"))
    try:
        missing = missing_variables(spec=prompt_spec(prompt), supplied=use.variables)
    except TemplateError as exc:
        return [(Severity.ERROR, f"{label}: {exc}")]
    if missing:
        problems.append(
            (
                Severity.ERROR,
                f"{label} needs variable(s) {', '.join(missing)} that the step does not "
                "supply: add them under config.variables",
            )
        )
    untrusted = untrusted_variable_names(use.variables)
    reads = [
        path
        for path in referenced_paths(prompt.system_prompt_text)
        if path.split(".", 1)[0] in UNTRUSTED_NAMES | untrusted
    ]
    if reads:
        subject = f"{label}: the system text"
        problems.append((Severity.WARNING, untrusted_warning(subject, reads)))
    return problems


def _statuses(versions: list[Prompt]) -> str:
    drafts = [p.version for p in versions if p.status == Prompt.Status.DRAFT]
    if len(drafts) == len(versions):
        listed = ", ".join(str(v) for v in reversed(drafts))
        return f"only a draft exists (version {listed}); activate it before publishing"
    listed = ", ".join(f"{p.version} {p.status}" for p in reversed(versions))
    return f"versions: {listed}; activate one before publishing"


def ai_call(
    *,
    tenant_id: int,
    spec: PromptSpec,
    variables: Mapping[str, Any],
    user_input: str = "",
    untrusted: Collection[str] = (),
    provider: Provider | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> GenerationOutcome:
    """The one path of every paid AI call (workflow steps, dry-runs with a live provider, try-it).

    Renders the prompt, reserves the call's most possible cost on the tenant's monthly budget
    (``prompts.budget``: a row lock, so the cap holds under concurrency), calls the provider,
    and settles the real cost: the answer's, the usage of an unusable answer, or nothing when no
    answer came. Raises CostCapReached before anything is sent, or GenerationError (whose
    ``usage`` is set when the model answered and was paid).
    """
    prepared = prepare(spec=spec, variables=variables, user_input=user_input, untrusted=untrusted)
    provider = resolve_provider(prepared, provider)
    reservation = budget_reserve(tenant_id=tenant_id, amount=max_cost(prepared, provider))
    cost: Decimal | None = None  # unknown until settled: a crash keeps the held amount spent
    try:
        outcome = complete(prepared, provider=provider, sleep=sleep)
        cost = outcome.cost
        return outcome
    except GenerationError as exc:
        cost = exc.usage.get("cost") if exc.usage else Decimal(0)
        raise
    finally:
        budget_settle(reservation, cost)


def usage_log_fields(usage: Mapping[str, Any] | GenerationOutcome) -> dict[str, Any]:
    """The StepLog fields of a billed call, from an outcome or a GenerationError's ``usage``."""
    get = usage.get if isinstance(usage, Mapping) else lambda name: getattr(usage, name)
    tokens_in, tokens_out = get("input_tokens") or 0, get("output_tokens") or 0
    cost = get("cost")
    return {
        "model_name": get("model") or "",
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "thinking_tokens": get("thinking_tokens") or 0,
        "cached_tokens": get("cached_tokens") or 0,
        "token_usage": tokens_in + tokens_out,
        "cost": None if cost is None else Decimal(cost),
    }


def prompt_try(
    *, prompt: Prompt, variables: Mapping[str, Any], user_input: str = "", user=None
) -> StepLog:
    """Run ``prompt`` with sample variables and log it like a step (no workflow, no enrollment).

    Goes through ``ai_call`` like a step, so the usage of an unusable answer is kept and a call
    the cap stopped (nothing sent) names no model and is not counted as a call. Failures are
    logged as a failed StepLog, not raised.
    """
    now = timezone.now()
    started = time.perf_counter()
    log = StepLog(
        tenant_id=prompt.tenant_id,
        prompt=prompt,
        step_id=TRY_STEP_ID,
        step_type="ai_prompt",
        step_name=f"Try it: {prompt}"[:255],
        triggering_object_id=f"user:{user.pk}" if user is not None else "",
        input_context={"variables": dict(variables), "user_input": user_input},
        started_at=now,
    )
    try:
        outcome = ai_call(
            tenant_id=prompt.tenant_id,
            spec=prompt_spec(prompt),
            variables=variables,
            user_input=user_input,
        )
    except (CostCapReached, GenerationError) as exc:
        log.status = StepLog.Status.FAILED
        log.error_message = str(exc)
        log.raw_output = getattr(exc, "raw_text", None)
        usage = getattr(exc, "usage", None)
        if usage:  # the model answered and was paid: its usage counts like a step's
            for name, value in usage_log_fields(usage).items():
                setattr(log, name, value)
    else:
        log.status = StepLog.Status.SUCCEEDED
        log.raw_output = outcome.text
        log.parsed_output = {"result": outcome.text, "parsed": outcome.parsed}
        log.input_context["system"] = outcome.rendered_system
        log.input_context["user"] = outcome.rendered_user
        for name, value in usage_log_fields(outcome).items():
            setattr(log, name, value)
    log.duration_ms = int((time.perf_counter() - started) * 1000)
    log.finished_at = timezone.now()
    log.save()
    return log


class PromptInUse(Exception):
    """Only a draft version may be deleted; active or archived ones have served real calls."""


def prompt_delete(*, prompt: Prompt) -> None:
    """Delete a draft version; PromptInUse for an active or archived one (archive it instead)."""
    if prompt.status != Prompt.Status.DRAFT:
        raise PromptInUse(
            f"prompt '{prompt.name}' v{prompt.version} is {prompt.status}; only drafts can be "
            "deleted (archive it instead)"
        )
    prompt.delete()


def _paths_of(text: str) -> list[str]:
    try:
        return referenced_paths(text or "")
    except TemplateError:
        return []  # a broken template is reported where it is saved; nothing to sample here


def prompt_sample_variables(*, prompt: Prompt) -> dict[str, Any]:
    """Sample variables for trying ``prompt``: every path its system and user templates read,
    nested (``contact.first_name`` → ``{"contact": {"first_name": "<first_name>"}}``), each a
    placeholder that names it, so a try-it shows where each value lands instead of rendering
    ``"… at ."``; documented variables no template reads are included empty. ``input`` is the
    user-input box, not a variable."""
    sample: dict[str, Any] = {}
    paths = _paths_of(prompt.system_prompt_text) + _paths_of(prompt.user_prompt_text)
    for path in sorted(set(paths)):
        parts = path.split(".")
        if parts[0] == USER_INPUT_VARIABLE:
            continue
        node = sample
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node.setdefault(parts[-1], f"<{parts[-1]}>")
    for name in prompt.template_variables or []:
        sample.setdefault(name, "")
    return sample


def prompt_ignores_user_input(*, prompt: Prompt) -> bool:
    """True when the prompt has a user template that does not read ``{{ input }}``: what is
    typed as the user input is then not sent (the template is the whole user message)."""
    if not (prompt.user_prompt_text or "").strip():
        return False
    return not any(
        path.split(".")[0] == USER_INPUT_VARIABLE for path in _paths_of(prompt.user_prompt_text)
    )
