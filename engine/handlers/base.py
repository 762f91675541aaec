"""The one contract every step kind implements, and the registry that finds them.

A handler is a small class: ``handle(ctx, step) -> StepResult``. It reads the step's config
through ``ctx.render`` (templating over the enrollment's plain-dict context), talks to the
world only through ``ctx.services`` (so a dry-run can swap them), and says where to go next.
Permanent problems raise ``StepFailed``; transient ones raise ``StepFailed(transient=True)``
and the executor retries with backoff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

# The step/effects contract lives below the handlers so the effects need not import upward.
from engine.effects.contract import Services, StepContext, StepFailed

__all__ = [
    "Services",
    "StepContext",
    "StepFailed",
    "StepHandler",
    "StepResult",
    "handler_for",
    "is_pure",
    "register",
    "registered_kinds",
    "stays_in_database",
]


@dataclass
class StepResult:
    output: dict[str, Any] = field(default_factory=dict)
    # A target (step id, "end", "exit", "exit_<reason>"); None means the step's successor.
    next: str | None = None
    # Set when the enrollment must wait: the next step runs at this time.
    resume_at: datetime | None = None
    # Set by goal steps that wait for their condition: timeout target and time.
    waiting_for_goal: bool = False
    status: str = "succeeded"
    input: dict[str, Any] | None = None
    raw_output: Any = None
    parsed_output: Any = None
    model_name: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None  # billed as output: the answer plus thinking tokens
    thinking_tokens: int | None = None
    cached_tokens: int | None = None
    cost: Decimal | None = None
    prompt_id: int | None = None


class StepHandler:
    kind: ClassVar[str] = ""
    # A pure step only decides (no side effects, no I/O), so the executor may run it in the
    # same task and transaction as the step before it instead of paying a broker round trip.
    pure: ClassVar[bool] = False
    # A step that writes only rows of this database (tags, contact fields, tasks) and calls no
    # provider: its writes commit or roll back with the enrollment's advance, so the executor
    # may run it in the same transaction as the steps around it (engine/runtime/executor.py).
    in_database: ClassVar[bool] = False

    def handle(self, ctx: StepContext, step: Mapping[str, Any]) -> StepResult:
        raise NotImplementedError


_REGISTRY: dict[str, StepHandler] = {}


def register(cls: type[StepHandler]) -> type[StepHandler]:
    """Class decorator: one instance per kind, looked up by the step's canonical type."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    _REGISTRY[cls.kind] = cls()
    return cls


def handler_for(kind: str) -> StepHandler:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise StepFailed(f"no handler for step kind '{kind}'") from None


def is_pure(kind: str) -> bool:
    handler = _REGISTRY.get(kind)
    return bool(handler and handler.pure)


def stays_in_database(kind: str) -> bool:
    """True for a kind whose handler only writes this database (``StepHandler.in_database``)."""
    handler = _REGISTRY.get(kind)
    return bool(handler and handler.in_database)


def registered_kinds() -> frozenset[str]:
    return frozenset(_REGISTRY)
