"""AI calls as steps make them (``ctx.services.ai``): cost cap, exactly-once payment, outcome.

``LiveAi`` calls ``prompts.services.ai_call`` — the one accounting path, shared with try-it: it
reserves the call's cost on the tenant's budget, calls the model and settles — and stores the
outcome through ``perform_once`` (kind ``"ai"``), so a re-run of a finished step reuses the answer
instead of paying twice. ``DryRunAi`` is its twin for dry-runs: the offline provider by default
(free, no budget), nothing stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from engine.effects.idempotency import perform_once
from prompts.generation import GenerationError, GenerationOutcome, PromptSpec, generate
from prompts.providers import Provider, ProviderError, get_provider
from prompts.services import CostCapReached, ai_call

AI_KIND = "ai"


class AiCallFailed(Exception):
    """An AI call that did not produce a usable answer; ``raw_text`` keeps invalid JSON output."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        raw_text: str | None = None,
        usage: dict | None = None,
    ):
        super().__init__(message)
        self.transient = transient
        self.raw_text = raw_text
        self.usage = usage  # tokens and cost of an answer that was paid for but unusable


@dataclass
class AiOutcome:
    """What a step records of one AI call; ``replayed`` means it was paid for by an earlier run."""

    text: str
    parsed: Any
    input_tokens: int
    output_tokens: int
    cost: Decimal
    model: str
    provider: str
    attempts: int
    duration_ms: int
    rendered_system: str = ""
    rendered_user: str = ""
    thinking_tokens: int = 0
    cached_tokens: int = 0
    replayed: bool = False

    @classmethod
    def from_generation(cls, outcome: GenerationOutcome) -> AiOutcome:
        return cls(
            text=outcome.text,
            parsed=outcome.parsed,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            cost=outcome.cost,
            model=outcome.model,
            provider=outcome.provider,
            attempts=outcome.attempts,
            duration_ms=outcome.duration_ms,
            rendered_system=outcome.rendered_system,
            rendered_user=outcome.rendered_user,
            thinking_tokens=outcome.thinking_tokens,
            cached_tokens=outcome.cached_tokens,
        )

    def to_record(self) -> dict[str, Any]:
        """Plain JSON for the SideEffect row."""
        record = asdict(self)
        record["cost"] = str(self.cost)
        record.pop("replayed")
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, replayed: bool) -> AiOutcome:
        # Records stored before thinking and cached tokens were kept lack them: 0 then.
        return cls(**{**record, "cost": Decimal(str(record["cost"])), "replayed": replayed})


def _call(
    *,
    tenant_id: int | None,
    spec: PromptSpec,
    variables: Mapping[str, Any],
    user_input: str,
    untrusted: Collection[str],
    provider: Provider | None,
    sleep: Callable[[float], None],
) -> AiOutcome:
    """A paid call through ``ai_call`` (budget held), or a free one without a tenant's budget."""
    try:
        if tenant_id is None:
            outcome = generate(
                spec=spec,
                variables=variables,
                user_input=user_input,
                untrusted=untrusted,
                provider=provider,
                sleep=sleep,
            )
        else:
            outcome = ai_call(
                tenant_id=tenant_id,
                spec=spec,
                variables=variables,
                user_input=user_input,
                untrusted=untrusted,
                provider=provider,
                sleep=sleep,
            )
    except CostCapReached as exc:
        raise AiCallFailed(str(exc)) from exc
    except GenerationError as exc:
        raise AiCallFailed(
            str(exc), transient=exc.transient, raw_text=exc.raw_text, usage=exc.usage
        ) from exc
    return AiOutcome.from_generation(outcome)


class LiveAi:
    """The live AI service of one tenant."""

    dry_run = False

    def __init__(
        self,
        *,
        tenant_id: int,
        provider: Provider | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tenant_id = tenant_id
        self.provider = provider  # None: the prompt's own provider, or the default
        self.sleep = sleep

    def generate(
        self,
        *,
        spec: PromptSpec,
        variables: Mapping[str, Any],
        user_input: str = "",
        key: str | None = None,
        enrollment_id: int | None = None,
        step_id: str = "",
        untrusted: Collection[str] = (),
    ) -> AiOutcome:
        """Answer ``spec`` once per ``key``; raises AiCallFailed (the cost cap is permanent).

        ``untrusted`` names variables built from contact data (kept out of the system text)."""

        def action() -> dict[str, Any]:
            outcome = _call(
                tenant_id=self.tenant_id,
                spec=spec,
                variables=variables,
                user_input=user_input,
                untrusted=untrusted,
                provider=self.provider,
                sleep=self.sleep,
            )
            return outcome.to_record()

        if key is None:
            return AiOutcome.from_record(action(), replayed=False)
        record, replayed = perform_once(
            key=key,
            tenant_id=self.tenant_id,
            enrollment_id=enrollment_id,
            step_id=step_id,
            kind=AI_KIND,
            action=action,
        )
        return AiOutcome.from_record(record, replayed=replayed)


class DryRunAi:
    """The dry-run AI service: the offline provider unless ``provider`` names another."""

    dry_run = True

    def __init__(self, *, tenant_id: int | None = None, provider: str | None = "offline") -> None:
        self.tenant_id = tenant_id
        self.provider_name = provider

    def generate(
        self,
        *,
        spec: PromptSpec,
        variables: Mapping[str, Any],
        user_input: str = "",
        key: str | None = None,
        enrollment_id: int | None = None,
        step_id: str = "",
        untrusted: Collection[str] = (),
    ) -> AiOutcome:
        """Answer ``spec`` without storing anything; a paid provider goes through the budget."""
        try:
            provider = get_provider(self.provider_name or spec.provider)
        except ProviderError as exc:
            raise AiCallFailed(f"prompt {spec.name!r}: {exc}") from exc
        paid = provider.name != "offline"
        return _call(
            tenant_id=self.tenant_id if paid else None,
            spec=spec,
            variables=variables,
            user_input=user_input,
            untrusted=untrusted,
            provider=provider,
            sleep=time.sleep,
        )
