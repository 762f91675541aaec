"""Pydantic errors as studio problems: our path format, plain words, no pydantic noise."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from engine.definition.kinds.flow import Variant
from engine.definition.problems import LineMap, Problem, did_you_mean, join_path
from engine.definition.registry import get_step_kind
from engine.definition.triggers import get_trigger_kind

_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def problems_from_validation_error(
    exc: ValidationError, *, data: Any, lines: LineMap | None = None, root: type[BaseModel]
) -> list[Problem]:
    """One problem per distinct path, in document order of the errors."""
    lines = lines or LineMap()
    merged: dict[str, tuple[Problem, list[str]]] = {}
    for error in exc.errors(include_url=False):
        loc = _field_loc(error["loc"])
        kind = error["type"]
        if kind in _EXPECTED:
            path = join_path(*loc)
            expected = merged.get(path, (None, []))[1] + [_EXPECTED[kind]]
            message = _expected_message(expected, error.get("input"))
            merged[path] = (Problem(path, message, lines.line_for(path)), expected)
            continue
        problem = _problem(error, loc, data, lines, root)
        merged.setdefault(f"{problem.path}\0{problem.message}", (problem, []))
    return [problem for problem, _ in merged.values()]


def _field_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    # Union members and validator functions add loc parts that are not fields.
    return tuple(
        part
        for part in loc
        if isinstance(part, int)
        or not (part in {"str", "int", "float", "bool", "list", "dict", "none"} or "[" in part)
    )


def _expected_message(expected: list[str], value: Any) -> str:
    names = list(dict.fromkeys(expected))
    if set(names) == {"a whole number", "a number"}:
        names = ["a number"]
    return f"expected {' or '.join(names)}, got {_describe(value)}"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 40 else "a long text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _problem(
    error: Any, loc: tuple[str | int, ...], data: Any, lines: LineMap, root: type[BaseModel]
) -> Problem:
    kind, ctx = error["type"], error.get("ctx") or {}
    path = join_path(*loc)
    # An empty loc (every part was a union or validator name) has no field to name: say it plainly.
    if kind == "missing" and loc:
        parent = join_path(*loc[:-1])
        return Problem(parent, f"missing required field '{loc[-1]}'", lines.line_for(parent))
    if kind == "extra_forbidden" and loc:
        parent = join_path(*loc[:-1])
        model = _model_at(root, loc[:-1], data)
        hint = did_you_mean(str(loc[-1]), _field_names(model)) if model else ""
        return Problem(parent, f"unknown field '{loc[-1]}'{hint}", lines.line_for(path))
    message = _MESSAGES.get(kind, _plain)(ctx, error)
    return Problem(path, message, lines.line_for(path))


def _plain(ctx: dict[str, Any], error: Any) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


def _too_short(ctx: dict[str, Any], error: Any) -> str:
    if isinstance(error.get("input"), str):
        n = ctx.get("min_length", 1)
        return "must not be empty" if n == 1 else f"must be at least {n} characters"
    return f"needs at least {ctx.get('min_length')} item(s)"


_MESSAGES: dict[str, Any] = {
    "string_too_short": _too_short,
    "too_short": _too_short,
    "string_too_long": lambda c, e: f"must be at most {c.get('max_length')} characters",
    "too_long": lambda c, e: f"must have at most {c.get('max_length')} items",
    "greater_than": lambda c, e: f"must be greater than {c.get('gt')}",
    "greater_than_equal": lambda c, e: f"must be at least {c.get('ge')}",
    "less_than": lambda c, e: f"must be less than {c.get('lt')}",
    "less_than_equal": lambda c, e: f"must be at most {c.get('le')}",
    "literal_error": lambda c, e: (
        f"must be one of {c.get('expected')}, got {_describe(e.get('input'))}"
    ),
}


def _model_at(root: type[BaseModel], loc: tuple[str | int, ...], data: Any) -> Any:
    """The model class that validates the mapping at ``loc`` (for 'did you mean' hints)."""
    model: Any = root
    node = data
    for part in loc:
        node = node[part] if _has(node, part) else None
        if isinstance(part, int):
            continue
        if model is None:
            return None
        if part == "config" and isinstance(node, dict | type(None)):
            model = _config_model(model, loc, data)
        elif part == "variants":
            model = Variant
        else:
            field = model.model_fields.get(part)
            annotation = getattr(field, "annotation", None)
            model = _first_model(annotation)
    return model


def _config_model(owner: Any, loc: tuple[str | int, ...], data: Any) -> Any:
    parent = data
    for part in loc[: loc.index("config")]:
        parent = parent[part] if _has(parent, part) else {}
    type_name = str(parent.get("type", "")) if isinstance(parent, dict) else ""
    if owner.__name__ == "Trigger":
        trigger = get_trigger_kind(type_name)
        return trigger.config_model if trigger else None
    step = get_step_kind(type_name)
    return step.config_model if step else None


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _has(node: Any, part: str | int) -> bool:
    if isinstance(part, int):
        return isinstance(node, list) and 0 <= part < len(node)
    return isinstance(node, dict) and part in node


def _field_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]
