"""Step handlers, one module per kind; importing this package registers them all.

A handler decides; it touches the world only through ``ctx.services`` (the effects).
May import effects, definition and language; never the runtime, dry-run or triggers.
"""

from . import (  # noqa: F401  (registration)
    ab_split,
    ai,
    condition,
    crm,
    email,
    exit,
    goal,
    http,
    messaging,
    wait,
)
from .base import StepContext, StepFailed, StepHandler, StepResult, handler_for, registered_kinds

__all__ = [
    "StepContext",
    "StepFailed",
    "StepHandler",
    "StepResult",
    "handler_for",
    "registered_kinds",
]
