"""Writing definitions: the canonical dict (defaults left out, fixed key order), YAML, JSON."""

from __future__ import annotations

import json
from typing import Any

from engine.definition.schema import Settings, Step, Trigger, WorkflowDefinition
from engine.definition.yamlio import dump_yaml_data

STEP_KEYS = ("id", "type", "name", "config", "delay", "next", "on_error")


def definition_to_dict(defn: WorkflowDefinition) -> dict[str, Any]:
    """The canonical, JSON-ready dict: empty and default fields left out, keys in a fixed order."""
    out: dict[str, Any] = {"name": defn.name}
    if defn.description:
        out["description"] = defn.description
    out["version"] = defn.version
    out["trigger"] = trigger_to_dict(defn.trigger)
    settings = defn.settings.model_dump(mode="json", exclude_defaults=True)
    if settings:
        out["settings"] = {k: settings[k] for k in Settings.model_fields if k in settings}
    out["steps"] = [step_to_dict(step) for step in defn.steps]
    if defn.metadata:
        out["metadata"] = defn.metadata
    return out


def trigger_to_dict(trigger: Trigger) -> dict[str, Any]:
    out: dict[str, Any] = {"type": trigger.type}
    config = trigger.config.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if config:
        out["config"] = config
    if trigger.filters is not None:
        out["filters"] = trigger.filters
    return out


def step_to_dict(step: Step) -> dict[str, Any]:
    """One step in the canonical shape (what the executor and the draft rows read)."""
    values: dict[str, Any] = {
        "id": step.id,
        "type": step.type,
        "name": step.name or None,
        "config": step.config.model_dump(mode="json", by_alias=True, exclude_defaults=True) or None,
        "delay": step.delay,
        "next": step.next,
        "on_error": None if step.on_error == "fail" else step.on_error,
    }
    return {key: values[key] for key in STEP_KEYS if values[key] is not None}


def dump_yaml(defn: WorkflowDefinition) -> str:
    """Readable block-style YAML of the canonical dict (no aliases, unicode kept)."""
    return dump_yaml_data(definition_to_dict(defn))


def dump_json(defn: WorkflowDefinition) -> str:
    """JSON of the canonical dict, indented by two spaces."""
    return json.dumps(definition_to_dict(defn), indent=2, ensure_ascii=False) + "\n"
