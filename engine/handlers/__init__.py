"""Step handlers, one module per kind; importing this package registers them all."""

from . import ab_split, condition, exit, goal, wait  # noqa: F401  (registration)
from .base import StepContext, StepFailed, StepHandler, StepResult, handler_for, registered_kinds

__all__ = [
    "StepContext",
    "StepFailed",
    "StepHandler",
    "StepResult",
    "handler_for",
    "registered_kinds",
]
