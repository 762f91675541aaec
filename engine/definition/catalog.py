"""The step and trigger catalogs and the JSON Schema of a whole workflow, from the models."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from engine.definition.fieldtypes import DURATION_EXAMPLES, RULES_JSON_SCHEMA, TARGET_EXAMPLES
from engine.definition.registry import StepKind, step_kinds
from engine.definition.schema import Settings, Step, Trigger, WorkflowDefinition
from engine.definition.triggers import TRIGGER_KINDS, TriggerKind


def step_catalog() -> list[dict[str, Any]]:
    """Every step kind with its group, help text, config JSON Schema and field list."""
    return [_step_entry(kind) for kind in step_kinds()]


def trigger_catalog() -> list[dict[str, Any]]:
    """Every trigger kind with its aliases, config JSON Schema and field list."""
    return [_trigger_entry(kind) for kind in TRIGGER_KINDS.values()]


def _step_entry(kind: StepKind) -> dict[str, Any]:
    return {
        "type": kind.type,
        "label": kind.label,
        "group": str(kind.group),
        "description": kind.description,
        "aliases": list(kind.aliases),
        "has_side_effects": kind.has_side_effects,
        "config_schema": kind.config_model.model_json_schema(by_alias=True),
        "fields": model_fields(kind.config_model),
    }


def _trigger_entry(kind: TriggerKind) -> dict[str, Any]:
    return {
        "type": kind.type,
        "label": kind.label,
        "description": kind.description,
        "aliases": list(kind.aliases),
        "config_schema": kind.config_model.model_json_schema(by_alias=True),
        "fields": model_fields(kind.config_model),
    }


def model_fields(model: type[BaseModel]) -> list[dict[str, Any]]:
    """[{name, type, required, default, help}] for each field of ``model``, by public name."""
    schema = model.model_json_schema(by_alias=True)
    properties = schema.get("properties", {})
    out = []
    for name, info in model.model_fields.items():
        public = info.alias or name
        out.append(
            {
                "name": public,
                "type": _type_name(properties.get(public, {}), schema.get("$defs", {})),
                "required": info.is_required(),
                "default": _default(info),
                "help": info.description or "",
            }
        )
    return out


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None if info.default is PydanticUndefined else info.default


def _type_name(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short human type: text, number, duration, rules, one of GET/POST, list of …"""
    if "$ref" in prop:
        return "mapping"
    if "enum" in prop:
        return "one of " + "/".join(str(v) for v in prop["enum"])
    if "const" in prop:
        return str(prop["const"])
    if prop.get("anyOf") == RULES_JSON_SCHEMA["anyOf"]:
        return "rules"
    if "anyOf" in prop:
        names = [_type_name(p, defs) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(dict.fromkeys(names)) or "any"
    if prop.get("examples") == DURATION_EXAMPLES:
        return "duration"
    if prop.get("examples") == TARGET_EXAMPLES:
        return "target"
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type_name(prop.get('items', {}), defs)}"
    return {
        "string": "text",
        "integer": "whole number",
        "number": "number",
        "boolean": "true/false",
        "object": "mapping",
    }.get(kind, "any")


@functools.cache
def workflow_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a whole canonical definition, steps typed per kind."""
    step_models = [_step_model(kind) for kind in step_kinds()]
    trigger_models = [_trigger_model(kind) for kind in TRIGGER_KINDS.values()]
    document = create_model(
        "Workflow",
        __config__=ConfigDict(extra="forbid"),
        __doc__=WorkflowDefinition.__doc__,
        **{
            name: (_annotation(name, step_models, trigger_models, info), info)
            for name, info in WorkflowDefinition.model_fields.items()
        },
    )
    schema = TypeAdapter(document).json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Automation Studio workflow"
    return schema


def _annotation(name: str, steps: list[Any], triggers: list[Any], info: FieldInfo) -> Any:
    if name == "steps":
        return list[Annotated[Union[tuple(steps)], Field(discriminator="type")]]  # noqa: UP007
    if name == "trigger":
        return Annotated[Union[tuple(triggers)], Field(discriminator="type")]  # noqa: UP007
    if name == "settings":
        return Settings
    return info.annotation


def _step_model(kind: StepKind) -> Any:
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in Step.model_fields.items()
    }
    fields["type"] = (Literal[kind.type], Field(description=kind.label))  # type: ignore[valid-type]
    fields["config"] = (kind.config_model, Field(description=kind.description))
    return create_model(
        f"Step_{kind.type}",
        __config__=ConfigDict(extra="forbid"),
        __doc__=kind.description,
        **fields,
    )


def _trigger_model(kind: TriggerKind) -> Any:
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in Trigger.model_fields.items()
    }
    fields["type"] = (Literal[kind.type], Field(description=kind.label))  # type: ignore[valid-type]
    fields["config"] = (
        kind.config_model,
        Field(default_factory=dict, description=kind.description),
    )
    return create_model(
        f"Trigger_{kind.type}",
        __config__=ConfigDict(extra="forbid"),
        __doc__=kind.description,
        **fields,
    )
