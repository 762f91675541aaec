"""The contract between a running step and the effects it may cause.

``StepContext`` is what a step sees (its template data, clock, tenant, enrollment and the
service bundle); ``StepFailed`` is how a step or an effect says it could not do its job.
They live here, below the handlers, so that the effects (outbound sending, CRM writes, AI
calls) can take a context and raise the step's error without importing the handler layer.
``engine.handlers.base`` re-exports both for the handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class StepFailed(Exception):
    """A step could not do its job; ``transient`` errors are retried with backoff."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        output: dict | None = None,
        usage: dict | None = None,
    ):
        super().__init__(message)
        self.transient = transient
        self.output = output or {}
        # StepLog fields of work that was paid for before failing (model, tokens, cost).
        self.usage = usage or {}


class Services(Protocol):
    """What a handler may touch; live and dry-run implementations differ."""

    dry_run: bool


@dataclass
class StepContext:
    data: dict[str, Any]  # the template namespaces: contact, trigger, steps, workflow, …
    now: datetime
    tenant_id: int
    enrollment_id: int | None
    contact_id: Any
    workflow_settings: Mapping[str, Any]
    visit: int
    services: Any
    successor: str
    render_value: Callable[[Any], Any]
    # ``data`` checked for rendering (templating.check_context), once per step and on first
    # call: text rendered over it skips the O(size) re-check of the whole context, and a step
    # whose texts read nothing never walks it (None: ``data`` is checked per render).
    checked: Callable[[], Mapping[str, Any]] | None = None

    @property
    def dry_run(self) -> bool:
        return bool(getattr(self.services, "dry_run", False))

    def idempotency_key(self, step_id: str) -> str:
        """Same (enrollment, step, visit) → same key: a re-run finds the earlier result."""
        owner = self.enrollment_id if self.enrollment_id is not None else "dry"
        return f"enr{owner}:{step_id}:{self.visit}"

    def render(self, value: Any) -> Any:
        return self.render_value(value)
