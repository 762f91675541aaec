"""Step handlers, one module per kind; importing this package registers them all."""

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
