"""Field types shared by the definition models: durations, targets, rules, ids."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

STEP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
BUILTIN_TARGETS = ("end", "exit")
EXIT_PREFIX = "exit_"
DURATION_EXAMPLES = ["30m", "1d", "2h30m", "PT1H"]
TARGET_EXAMPLES = ["next_step", "end", "exit", "exit_booked"]


def _coerce_duration(value: Any) -> Any:
    # A bare number is seconds; text is checked later by engine.language.durations.parse_duration.
    if isinstance(value, bool):
        raise PydanticCustomError("studio", "expected a duration such as 30m, 1d or PT1H")
    if isinstance(value, int | float):
        return f"{int(value)}s" if value == int(value) else f"{value}s"
    if isinstance(value, str):
        return value.strip()
    return value


Duration = Annotated[
    str,
    BeforeValidator(_coerce_duration),
    WithJsonSchema(
        {
            "type": "string",
            "description": "30m, 1d, 2h30m or ISO 8601 (PT1H); a bare number is seconds",
            "examples": DURATION_EXAMPLES,
        }
    ),
]

Target = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="A step id, or end, exit, exit_<reason>",
        examples=TARGET_EXAMPLES,
    ),
]


def _check_rules(value: Any) -> Any:
    if not isinstance(value, list | dict):
        raise PydanticCustomError("studio", "expected rules: a list or a mapping (all/any/not)")
    return value


RULES_JSON_SCHEMA: dict[str, Any] = {
    "description": (
        "Condition rules: a list (all must hold), {all: [...]}, {any: [...]}, {not: rule}, "
        "{field, operator, value} or {expression: CEL}"
    ),
    "anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}],
}

Rules = Annotated[Any, BeforeValidator(_check_rules), WithJsonSchema(RULES_JSON_SCHEMA)]

TemplateText = Annotated[str, Field(description="Text; may use {{ variables }}")]
