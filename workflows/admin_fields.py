"""Form fields generated from the catalog (engine/definition/catalog.py): one per config field.

A step's or trigger's ``config`` is shown as ordinary inputs whose kind follows the catalog's
field type (text, number, yes/no, duration text, a target chosen from the workflow's steps,
rule rows), with the catalog's help text; the page's script shows only the chosen kind's.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from django import forms

from engine.language.conditions import OPERATORS, UNARY

RULE_ROWS = 3
# YAML is the friendliest way to type a small mapping or list ("first_name: Ann").
STRUCTURED = {"mapping", "list of mapping", "any"}


def _choices_of(type_name: str) -> list[tuple[str, str]] | None:
    if not type_name.startswith("one of "):
        return None
    return [("", "—"), *((v, v) for v in type_name.removeprefix("one of ").split("/"))]


def operator_choices() -> list[tuple[str, str]]:
    """Every condition operator (engine.conditions), readable: ``is_not_empty`` → is not empty."""
    return [("", "—"), *((op, op.replace("_", " ")) for op in sorted(OPERATORS))]


def rule_row_fields(prefix: str, rows: int = RULE_ROWS, *, help_text: str = "") -> dict:
    """``rows`` rule rows: ``{prefix}_{i}_field`` (a data-dictionary path), ``_op``, ``_value``."""
    fields: dict[str, forms.Field] = {}
    for i in range(1, rows + 1):
        fields[f"{prefix}_{i}_field"] = forms.CharField(
            required=False,
            label=f"Rule {i}: field",
            help_text=help_text if i == 1 else "",
            widget=forms.TextInput(attrs={"list": "studio-fields", "placeholder": "e.g. email"}),
        )
        fields[f"{prefix}_{i}_op"] = forms.ChoiceField(
            required=False, label="operator", choices=operator_choices
        )
        fields[f"{prefix}_{i}_value"] = forms.CharField(required=False, label="value")
    return fields


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _parse_value(text: str) -> Any:
    # true, 3, ["a", "b"] mean what they say; anything else is text.
    try:
        return json.loads(text)
    except ValueError:
        return text


def rules_initial(prefix: str, rules: Any) -> dict[str, Any]:
    """Initial values of the rule rows (and ``{prefix}_match``) for stored rules."""
    match = "all"
    if isinstance(rules, dict) and len(rules) == 1 and next(iter(rules)) in ("all", "any"):
        match, rules = next(iter(rules.items()))
    initial: dict[str, Any] = {f"{prefix}_match": match}
    for i, rule in enumerate(rules if isinstance(rules, list) else [], start=1):
        if isinstance(rule, dict):
            initial[f"{prefix}_{i}_field"] = rule.get("field", "")
            initial[f"{prefix}_{i}_op"] = rule.get("operator", "")
            if "value" in rule:
                initial[f"{prefix}_{i}_value"] = _value_text(rule["value"])
    return initial


def rules_from(prefix: str, data: dict, rows: int = RULE_ROWS) -> list[dict[str, Any]]:
    """The filled rule rows as ``[{field, operator, value}]``; forms.ValidationError when a row
    has a field without an operator (or the reverse), naming the row."""
    rules = []
    for i in range(1, rows + 1):
        field = (data.get(f"{prefix}_{i}_field") or "").strip()
        op = data.get(f"{prefix}_{i}_op") or ""
        value = (data.get(f"{prefix}_{i}_value") or "").strip()
        if not field and not op:
            continue
        if not field or not op:
            raise forms.ValidationError(f"Rule {i}: choose both a field and an operator.")
        rule: dict[str, Any] = {"field": field, "operator": op}
        if op not in UNARY:
            rule["value"] = _parse_value(value)
        rules.append(rule)
    return rules


def config_fields(kinds: list[dict], prefix: str) -> tuple[dict[str, forms.Field], dict]:
    """Form fields for every config field of ``kinds`` (catalog entries), named
    ``{prefix}{field}``, and kind → the form field names it uses (for showing and saving)."""
    fields: dict[str, forms.Field] = {}
    used: dict[str, list[str]] = {}
    for kind in kinds:
        names = used.setdefault(kind["type"], [])
        for spec in kind["fields"]:
            name = f"{prefix}{spec['name']}"
            names.append(name)
            if spec["type"] == "rules":
                fields.setdefault(f"{name}_match", _match_field(spec))
                for key, field in rule_row_fields(name).items():
                    fields.setdefault(key, field)
                continue
            fields.setdefault(name, _field_for(spec))
    return fields, used


def _match_field(spec: dict) -> forms.Field:
    return forms.ChoiceField(
        required=False,
        label=spec["name"].replace("_", " ").capitalize(),
        choices=[("all", "all rules must hold"), ("any", "any rule is enough")],
        help_text=spec.get("help", ""),
    )


def _field_for(spec: dict) -> forms.Field:
    kind, label, help_text = spec["type"], spec["name"].replace("_", " ").capitalize(), spec["help"]
    common = {"required": False, "label": label, "help_text": help_text}
    choices = _choices_of(kind)
    if choices is not None:
        return forms.ChoiceField(choices=choices, **common)
    if kind == "true/false":
        return forms.BooleanField(**common)
    if kind in STRUCTURED:
        example = "e.g. first_name: Ann" if kind == "mapping" else "YAML"
        widget = forms.Textarea(attrs={"rows": 3, "placeholder": example})
        return forms.CharField(widget=widget, **common)
    if kind == "target":
        widget = forms.TextInput(attrs={"list": "studio-steps", "placeholder": "a step id"})
        return forms.CharField(widget=widget, **common)
    if kind == "duration":
        return forms.CharField(widget=forms.TextInput(attrs={"placeholder": "e.g. 2d"}), **common)
    if spec["name"] in {"body", "message", "html"}:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    return forms.CharField(**common)


def config_initial(kind: dict, config: dict, prefix: str) -> dict[str, Any]:
    """Initial form values for a stored ``config`` of catalog entry ``kind``."""
    initial: dict[str, Any] = {}
    for spec in kind["fields"]:
        name = f"{prefix}{spec['name']}"
        if spec["name"] not in config:
            continue
        value = config[spec["name"]]
        if spec["type"] == "rules":
            initial.update(rules_initial(name, value))
        elif spec["type"] in STRUCTURED:
            initial[name] = yaml.safe_dump(value, sort_keys=False, allow_unicode=True).strip()
        elif spec["type"] == "list of text":
            initial[name] = ", ".join(map(str, value or []))
        elif spec["type"] == "true/false":
            initial[name] = bool(value)
        else:
            initial[name] = "" if value is None else str(value)
    return initial


def config_from(kind: dict, data: dict, prefix: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The config of catalog entry ``kind`` from cleaned form ``data``, and field → error."""
    config: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in kind["fields"]:
        name = f"{prefix}{spec['name']}"
        try:
            value = _convert(spec, name, data)
        except (ValueError, forms.ValidationError, yaml.YAMLError) as exc:
            message = exc.messages[0] if isinstance(exc, forms.ValidationError) else str(exc)
            errors[name if spec["type"] != "rules" else f"{name}_1_field"] = message
            continue
        if value is not None:
            config[spec["name"]] = value
    return config, errors


def _convert(spec: dict, name: str, data: dict) -> Any:
    kind = spec["type"]
    if kind == "rules":
        rules = rules_from(name, data)
        if not rules:
            return None
        return {"any": rules} if data.get(f"{name}_match") == "any" else rules
    raw = data.get(name)
    if kind == "true/false":
        return True if raw else None
    text = (raw or "").strip()
    if not text:
        return None
    if kind in STRUCTURED:
        value = yaml.safe_load(text)
        if kind == "mapping" and not isinstance(value, dict):
            raise ValueError("Write one 'name: value' per line.")
        if kind == "list of mapping" and not isinstance(value, list):
            raise ValueError("Write a list: one '- name: …' item per entry.")
        return value
    if kind == "list of text":
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind == "whole number":
        return int(text)
    if kind in ("number", "whole number or number"):
        number = float(text)
        return int(number) if number.is_integer() else number
    if kind == "text or whole number":
        return int(text) if text.isdigit() else text
    return text
