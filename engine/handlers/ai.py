"""AI steps: ``ai_prompt`` runs a library prompt, ``ask_ai`` an inline one.

The answer lands in ``steps.<id>.result`` (text) and ``steps.<id>.parsed`` (JSON when the prompt
asks for JSON). Variables are values: the prompt text is rendered once, by the generation
service, and the model's output is stored as data — never rendered, evaluated or fetched.
Text a contact wrote (contact fields, the trigger, earlier steps, and step variables built from
them) reaches the model in the user turn, never in the system instruction (docs/ai.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings

from engine.effects.ai_ops import AiCallFailed, AiOutcome
from engine.handlers.base import StepContext, StepFailed, StepHandler, StepResult, register
from prompts.generation import PromptSpec, untrusted_variable_names
from prompts.models import DEFAULT_MODEL
from prompts.services import PromptNotFound, prompt_resolve, prompt_spec, usage_log_fields

# The namespaces a prompt text may read, besides its own variables.
NAMESPACES = ("contact", "trigger", "steps", "workflow", "enrollment", "now")
# Trigger fields that carry the contact's own words, offered to the prompt as {{ input }}.
TRIGGER_TEXT_FIELDS = ("content", "text", "message", "body", "transcript")
CHANNEL_HINTS = {
    "voice": "Answer in a few short sentences: your answer will be read aloud on a call.",
    "sms": "Keep the answer short: it is sent as a text message.",
    "whatsapp": "Keep the answer short: it is sent as a WhatsApp message.",
}


def trigger_text(data: Mapping[str, Any]) -> str:
    """The first text field of the trigger event (a message, a call transcript), or ""."""
    trigger = data.get("trigger") or {}
    for name in TRIGGER_TEXT_FIELDS:
        value = trigger.get(name) if isinstance(trigger, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value
    return ""


def prompt_variables(ctx: StepContext, config: Mapping[str, Any]) -> dict[str, Any]:
    """The namespaces plus the step's ``variables``, each rendered once from its template."""
    extra = ctx.render(config.get("variables") or {})
    if not isinstance(extra, dict):
        raise StepFailed("config.variables must be an object of name → value or template")
    base = {name: ctx.data[name] for name in NAMESPACES if name in ctx.data}
    return {**base, "channel": config.get("channel") or "", **extra}


def run_generation(
    ctx: StepContext,
    step: Mapping[str, Any],
    *,
    spec: PromptSpec,
    variables: dict[str, Any],
    prompt_id: int | None,
) -> StepResult:
    """Call ``ctx.services.ai`` and turn the outcome (or failure) into a StepResult."""
    step_id = str(step["id"])
    user_input = trigger_text(ctx.data)
    try:
        outcome: AiOutcome = ctx.services.ai.generate(
            spec=spec,
            variables=variables,
            user_input=user_input,
            key=None if ctx.dry_run else ctx.idempotency_key(step_id),
            enrollment_id=ctx.enrollment_id,
            step_id=step_id,
            untrusted=untrusted_variable_names((step.get("config") or {}).get("variables")),
        )
    except AiCallFailed as exc:
        kept = {"result": exc.raw_text} if exc.raw_text is not None else {}
        usage = None
        if exc.usage:  # the model answered: its tokens and cost count even though we fail
            usage = {
                **usage_log_fields(exc.usage),
                "prompt_id": prompt_id,
                "raw_output": exc.raw_text,
            }
        raise StepFailed(str(exc), transient=exc.transient, output=kept, usage=usage) from exc
    # A replayed answer was paid for (and logged) by the earlier run.
    cost = Decimal(0) if outcome.replayed else outcome.cost
    tokens_in = 0 if outcome.replayed else outcome.input_tokens
    tokens_out = 0 if outcome.replayed else outcome.output_tokens
    thinking = 0 if outcome.replayed else outcome.thinking_tokens
    cached = 0 if outcome.replayed else outcome.cached_tokens
    output = {
        "result": outcome.text,
        "parsed": outcome.parsed,
        "model": outcome.model,
        "provider": outcome.provider,
        "input_tokens": outcome.input_tokens,
        "output_tokens": outcome.output_tokens,
        "thinking_tokens": outcome.thinking_tokens,
        "cached_tokens": outcome.cached_tokens,
        "cost": str(outcome.cost),
    }
    if outcome.replayed:
        output["replayed"] = True
    return StepResult(
        output=output,
        input={
            "prompt": spec.name,
            "version": spec.version,
            "system": outcome.rendered_system,
            "user": outcome.rendered_user,
        },
        raw_output=outcome.text,
        parsed_output=outcome.parsed,
        model_name=outcome.model,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        thinking_tokens=thinking,
        cached_tokens=cached,
        cost=cost,
        prompt_id=prompt_id,
    )


@register
class AiPromptHandler(StepHandler):
    """Run a library prompt: its latest active version, or the pinned ``version``."""

    kind = "ai_prompt"

    def handle(self, ctx: StepContext, step: Mapping[str, Any]) -> StepResult:
        config = step.get("config") or {}
        name = ctx.render(config.get("prompt") or "")
        if not isinstance(name, str) or not name.strip():
            raise StepFailed("config.prompt must name a prompt of the library")
        try:
            prompt = prompt_resolve(
                tenant=ctx.tenant_id, name=name.strip(), version=config.get("version")
            )
        except PromptNotFound as exc:
            raise StepFailed(str(exc)) from exc
        return run_generation(
            ctx,
            step,
            spec=prompt_spec(prompt),
            variables=prompt_variables(ctx, config),
            prompt_id=prompt.pk,
        )


@register
class AskAiHandler(StepHandler):
    """Ask an inline question; the prompt text is a template over the same namespaces."""

    kind = "ask_ai"

    def handle(self, ctx: StepContext, step: Mapping[str, Any]) -> StepResult:
        config = step.get("config") or {}
        text = config.get("prompt")
        if not isinstance(text, str) or not text.strip():
            raise StepFailed("config.prompt must be the question or instruction to ask")
        hint = CHANNEL_HINTS.get(str(config.get("channel") or "").lower())
        # The hint is plain text appended to the template, never a value inserted into it. The
        # question is staff-written and goes in the system instruction; the contact fields it
        # reads are moved to the user turn by the generation service.
        system_text = f"{text}\n\n{hint}" if hint else text
        default_model = getattr(settings, "STUDIO_AI_DEFAULT_MODEL", "") or DEFAULT_MODEL
        spec = PromptSpec(
            name=f"{step['id']} (inline)",
            version=1,
            system_text=system_text,
            model=str(config.get("model") or default_model),
        )
        variables = prompt_variables(ctx, config)
        return run_generation(ctx, step, spec=spec, variables=variables, prompt_id=None)
