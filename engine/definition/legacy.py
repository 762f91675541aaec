"""Import of the TypeScript write-up's format: trigger, conditions, actions with nextActionId."""

from __future__ import annotations

from typing import Any

from engine.definition.problems import DefinitionError, LineMap, Problem, did_you_mean
from engine.language.durations import milliseconds_to_duration

# TypeScript condition types → the trigger-context field each one tests.
CONDITION_FIELDS = {
    "keyword_match": "trigger.content",
    "intent_match": "trigger.intent",
    "sender_match": "trigger.from",
    "time_range": "trigger.hour",
    "day_of_week": "trigger.weekday",
    "confidence_threshold": "trigger.intent_confidence",
    "channel_match": "trigger.channel",
    "custom_field": "custom_fields",
}

# Legacy keys that only the canonical format spells differently.
_TOP_LEVEL_DROPPED = ("actions", "conditions", "enabled")


def is_legacy(data: dict[str, Any]) -> bool:
    """True for the TypeScript shape (``actions``) rather than the canonical one (``steps``)."""
    return "actions" in data and "steps" not in data


def convert_legacy(data: dict[str, Any], lines: LineMap) -> tuple[dict[str, Any], LineMap]:
    """The canonical dict for a TypeScript-format workflow, and its lines re-keyed to match."""
    problems: list[Problem] = []
    actions = data.get("actions")
    if not isinstance(actions, list):
        raise DefinitionError([Problem("actions", "expected a list", lines.line_for("actions"))])
    out: dict[str, Any] = {k: v for k, v in data.items() if k not in _TOP_LEVEL_DROPPED}
    if "enabled" in data:
        out["metadata"] = {**(data.get("metadata") or {}), "enabled": data["enabled"]}
    new_lines = LineMap({k: v for k, v in lines.items() if not k.startswith(_TOP_LEVEL_DROPPED)})

    filters = _convert_conditions(data.get("conditions"), "conditions", lines, problems)
    trigger = dict(data.get("trigger") or {}) if isinstance(data.get("trigger"), dict) else None
    if trigger is not None and filters:
        trigger["filters"] = filters
        for i in range(len(filters)):
            new_lines[f"trigger.filters[{i}]"] = lines.line_for(f"conditions[{i}]") or 0
    if trigger is not None:
        out["trigger"] = trigger

    ids = [a.get("id") for a in actions if isinstance(a, dict)]
    steps = []
    for i, action in enumerate(actions):
        old, new = f"actions[{i}]", f"steps[{i}]"
        for key, line in lines.items():
            if key == old or key.startswith((f"{old}.", f"{old}[")):
                new_lines[new + key[len(old) :]] = line
        if not isinstance(action, dict):
            steps.append(action)
            continue
        following = ids[i + 1] if i + 1 < len(ids) else None
        steps.append(_convert_action(action, following, old, lines, problems))
    out["steps"] = steps
    if problems:
        raise DefinitionError(problems)
    return out, new_lines


def _convert_action(
    action: dict[str, Any], following: Any, path: str, lines: LineMap, problems: list[Problem]
) -> dict[str, Any]:
    kind = str(action.get("type", "")).lower()
    config = dict(action.get("config") or {}) if isinstance(action.get("config"), dict) else {}
    step: dict[str, Any] = {k: v for k, v in action.items() if k not in ("nextActionId", "config")}
    step["type"] = kind
    if kind == "wait" and "delay" in config:
        config["duration"] = _ms(config.pop("delay"), f"{path}.config.delay", lines, problems)
    elif kind == "schedule_follow_up" and "delay" in config:
        config["delay"] = _ms(config["delay"], f"{path}.config.delay", lines, problems)
    elif kind == "send_email" and "subject" not in config and "template_id" not in config:
        config["subject"] = action.get("name") or "Message"
    elif kind == "branch":
        rules = _convert_conditions(config.pop("conditions", []), f"{path}.config", lines, problems)
        then = config.pop("nextActionId", None)
        config = {"if": rules, **config}
        if then is not None:
            config["then"] = str(then)
        otherwise = _target(action.get("nextActionId"), following, "nextActionId" in action)
        if otherwise is not None:
            config["else"] = otherwise
        step["config"] = config
        return step
    step["config"] = config
    target = _target(action.get("nextActionId"), following, "nextActionId" in action)
    if target is not None:
        step["next"] = target
    return step


def _target(next_id: Any, following: Any, given: bool) -> str | None:
    """nextActionId as a target: null ends, the next listed action is plain fall-through."""
    if not given or (next_id is not None and next_id == following):
        return None
    if next_id is None:
        return None if following is None else "end"
    return str(next_id)


def _ms(value: Any, path: str, lines: LineMap, problems: list[Problem]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value  # text such as "5m" is already a duration
    if value < 0:
        problems.append(Problem(path, "delay must not be negative", lines.line_for(path)))
        return value
    return milliseconds_to_duration(value)


def _convert_conditions(
    conditions: Any, path: str, lines: LineMap, problems: list[Problem]
) -> list[dict[str, Any]]:
    if not conditions:
        return []
    if not isinstance(conditions, list):
        problems.append(Problem(path, "expected a list of conditions", lines.line_for(path)))
        return []
    rules = []
    for i, condition in enumerate(conditions):
        where = f"{path}[{i}]"
        if not isinstance(condition, dict):
            problems.append(Problem(where, "expected a mapping", lines.line_for(where)))
            continue
        kind = str(condition.get("type", "")).lower()
        if kind not in CONDITION_FIELDS:
            hint = did_you_mean(kind, CONDITION_FIELDS)
            message = f"unknown condition type '{condition.get('type')}'{hint}"
            problems.append(Problem(f"{where}.type", message, lines.line_for(f"{where}.type")))
            continue
        field = CONDITION_FIELDS[kind]
        if kind == "custom_field":
            name = condition.get("field") or condition.get("key")
            if not name:
                message = "a custom_field condition needs a field"
                problems.append(Problem(where, message, lines.line_for(where)))
                continue
            field = f"custom_fields.{name}"
        rules.append(
            {
                "field": field,
                "operator": condition.get("operator", "equals"),
                "value": condition.get("value"),
            }
        )
    return rules
