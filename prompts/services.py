"""Writes on the prompt library: create, edit as a new version, activate, archive, resolve, try.

A prompt is never edited in place: an edit is a new version (name + version unique per tenant), so
a StepLog's prompt id always points at the text that was actually sent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from crm.models import Tenant
from engine.language.templating import TemplateError, referenced_paths
from prompts.generation import (
    GenerationError,
    GenerationOutcome,
    PromptSpec,
    generate,
    normalize_generation_config,
    undeclared_variables,
)
from prompts.models import DEFAULT_MODEL, Prompt
from prompts.selectors import month_bounds, month_cost
from workflows.models import StepLog

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


class CostCapReached(Exception):
    """The tenant's monthly AI cost cap is spent; AI calls fail until the month turns."""


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
    """Validate an unsaved prompt and save it under its name's next version number."""
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


def cost_cap_check(*, tenant_id: int, now: datetime | None = None) -> None:
    """Raise CostCapReached when this month's AI spend has reached the tenant's cap."""
    tenant = Tenant.objects.only("ai_monthly_cost_cap", "timezone").get(pk=tenant_id)
    cap = tenant.ai_monthly_cost_cap
    if cap is None:
        return
    start, _ = month_bounds(tenant=tenant, now=now)
    spent = month_cost(tenant=tenant, now=now)
    if spent >= cap:
        raise CostCapReached(
            f"AI cost cap of {usd(cap)} for {start:%B %Y} reached ({usd(spent)} spent)"
        )


def usd(amount: Decimal) -> str:
    """Dollars with cents, or with every significant digit for sub-cent amounts ($0.0008)."""
    cents = amount.quantize(Decimal("0.01"))
    return f"${cents}" if cents == amount else f"${amount.normalize():f}"


def prompt_try(
    *, prompt: Prompt, variables: Mapping[str, Any], user_input: str = "", user=None
) -> StepLog:
    """Run ``prompt`` with sample variables and log it like a step (no workflow, no enrollment).

    Failures (cost cap, provider errors, invalid JSON) are logged as a failed StepLog, not raised.
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
        model_name=prompt.model_name,
        started_at=now,
    )
    try:
        cost_cap_check(tenant_id=prompt.tenant_id, now=now)
        outcome = generate(spec=prompt_spec(prompt), variables=variables, user_input=user_input)
    except (CostCapReached, GenerationError) as exc:
        log.status = StepLog.Status.FAILED
        log.error_message = str(exc)
        log.raw_output = getattr(exc, "raw_text", None)
    else:
        _fill_from_outcome(log, outcome)
    log.duration_ms = int((time.perf_counter() - started) * 1000)
    log.finished_at = timezone.now()
    log.save()
    return log


def _fill_from_outcome(log: StepLog, outcome: GenerationOutcome) -> None:
    log.status = StepLog.Status.SUCCEEDED
    log.raw_output = outcome.text
    log.parsed_output = {"result": outcome.text, "parsed": outcome.parsed}
    log.model_name = outcome.model
    log.input_tokens = outcome.input_tokens
    log.output_tokens = outcome.output_tokens
    log.token_usage = outcome.input_tokens + outcome.output_tokens
    log.cost = Decimal(outcome.cost)
