"""A prompt's response schema, checked with ``jsonschema`` (the reference JSON Schema library).

Gemini takes an OpenAPI-style schema (``"type": "OBJECT"``, ``"nullable": true``); the same
schema is turned into standard JSON Schema (draft 2020-12) before checking, so one schema serves
both the provider (which shapes its answer) and us (who check that it did).
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

# Keys whose value is a schema or a list / map of schemas, walked when converting.
_SUBSCHEMA = ("items", "additionalProperties", "not")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")


def as_json_schema(schema: Any) -> Any:
    """The standard JSON Schema for a Gemini-style schema: lower-case types, ``nullable``."""
    if not isinstance(schema, dict):
        return schema
    result = {key: value for key, value in schema.items() if key != "nullable"}
    kind = result.get("type")
    if isinstance(kind, str):
        result["type"] = kind.lower()
    elif isinstance(kind, list):
        result["type"] = [k.lower() if isinstance(k, str) else k for k in kind]
    if schema.get("nullable") is True and "type" in result:
        kinds = result["type"] if isinstance(result["type"], list) else [result["type"]]
        result["type"] = [*kinds, "null"] if "null" not in kinds else kinds
    for key in _SUBSCHEMA:
        if isinstance(result.get(key), dict):
            result[key] = as_json_schema(result[key])
    for key in _SUBSCHEMA_LISTS:
        if isinstance(result.get(key), list):
            result[key] = [as_json_schema(item) for item in result[key]]
    for key in _SUBSCHEMA_MAPS:
        if isinstance(result.get(key), dict):
            result[key] = {name: as_json_schema(sub) for name, sub in result[key].items()}
    return result


def schema_error(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON Schema, or None when it is."""
    try:
        Draft202012Validator.check_schema(as_json_schema(schema))
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        return f"at {where}: {exc.message}"
    return None


def schema_mismatch(value: Any, schema: Any) -> str | None:
    """The first way ``value`` breaks ``schema`` (with its JSON path), or None when it fits."""
    validator = Draft202012Validator(as_json_schema(schema))
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    first = errors[0]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"at ${path}: {first.message}{more}"
