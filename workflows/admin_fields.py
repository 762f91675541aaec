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
# The raw field beside the generated ones: config the fields cannot show exactly.
EXTRA = "_extra"
EXTRA_HELP = (
    "Config the fields above cannot show exactly (nested all/any groups, expressions, more "
    "rules than rows, keys of another kind), as YAML. Kept as written; edit it here."
)
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
    # Text that would read back as something else ("true", "3", " x") is shown JSON-quoted.
    if isinstance(value, str) and _parse_value(value.strip()) == value:
        return value
    return json.dumps(value)


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
    elif isinstance(rules, dict) and "field" in rules:
        rules = [rules]  # a single rule is row 1 (and saved back as a single rule)
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


def raw_field(label: str, help_text: str = EXTRA_HELP) -> forms.CharField:
    """A YAML text area for what the generated fields cannot show exactly."""
    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})
    return forms.CharField(
        required=False, strip=False, label=label, help_text=help_text, widget=widget
    )


def config_fields(kinds: list[dict], prefix: str) -> tuple[dict[str, forms.Field], dict]:
    """Form fields for every config field of ``kinds`` (catalog entries), named
    ``{prefix}{field}``, and kind → the form field names it uses (for showing and saving).
    ``{prefix}_extra`` (YAML, shown for every kind) holds what the fields cannot show."""
    fields: dict[str, forms.Field] = {f"{prefix}{EXTRA}": raw_field("More config (YAML)")}
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
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=False, **common)
    return forms.CharField(strip=False, **common)


def config_initial(kind: dict, config: dict, prefix: str) -> dict[str, Any]:
    """Initial form values for a stored ``config`` of catalog entry ``kind``.

    A value is put in its field only when saving the page unchanged gives it back exactly;
    anything else (and keys the kind does not have) goes to ``{prefix}_extra`` as YAML, so a
    save never drops or reshapes what the fields cannot show."""
    initial: dict[str, Any] = {}
    kept: dict[str, Any] = {}
    for spec in kind["fields"]:
        name = f"{prefix}{spec['name']}"
        if spec["name"] not in config:
            continue
        value = config[spec["name"]]
        shown = _initial_of(spec, name, value)
        if _round_trips(spec, name, shown, value):
            initial.update(shown)
        else:
            kept[spec["name"]] = value
    known = {spec["name"] for spec in kind["fields"]}
    kept.update({key: value for key, value in config.items() if key not in known})
    if kept:
        initial[f"{prefix}{EXTRA}"] = yaml_text(kept)
    return initial


def yaml_text(value: Any) -> str:
    """Block-style YAML of ``value`` for a raw field."""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True).strip()


def _initial_of(spec: dict, name: str, value: Any) -> dict[str, Any]:
    if spec["type"] == "rules":
        return rules_initial(name, value)
    if spec["type"] in STRUCTURED:
        return {name: yaml_text(value)}
    if spec["type"] == "list of text":
        return {name: ", ".join(map(str, value or []))}
    if spec["type"] == "true/false":
        return {name: bool(value)}
    return {name: "" if value is None else str(value)}


def _round_trips(spec: dict, name: str, shown: dict[str, Any], value: Any) -> bool:
    """Whether submitting ``shown`` as a browser would gives ``value`` back."""
    fields = rule_row_fields(name) if spec["type"] == "rules" else {name: _field_for(spec)}
    if spec["type"] == "rules":
        fields[f"{name}_match"] = _match_field(spec)
    cleaned: dict[str, Any] = {}
    try:
        for key, field in fields.items():
            sent = shown.get(key, "")
            if isinstance(field, forms.BooleanField):
                sent = "on" if sent else ""
            cleaned[key] = field.clean(sent)
        back = _convert(spec, name, cleaned, previous=value)
    except (ValueError, TypeError, forms.ValidationError, yaml.YAMLError):
        return False
    if back is None:
        return value == spec.get("default") or value in (None, "")
    return back == value and type(back) is type(value)


def config_from(
    kind: dict, data: dict, prefix: str, previous: dict | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The config of catalog entry ``kind`` from cleaned form ``data``, and field → error.
    ``previous`` (the stored config) keeps a single rule or an ``all:`` group in its shape."""
    config: dict[str, Any] = {}
    errors: dict[str, str] = {}
    previous = previous or {}
    for spec in kind["fields"]:
        name = f"{prefix}{spec['name']}"
        try:
            value = _convert(spec, name, data, previous=previous.get(spec["name"]))
        except (ValueError, forms.ValidationError, yaml.YAMLError) as exc:
            message = exc.messages[0] if isinstance(exc, forms.ValidationError) else str(exc)
            errors[name if spec["type"] != "rules" else f"{name}_1_field"] = message
            continue
        if value is not None:
            config[spec["name"]] = value
    extra_name = f"{prefix}{EXTRA}"
    try:
        extra = raw_mapping(data.get(extra_name))
    except ValueError as exc:
        errors[extra_name] = str(exc)
        return config, errors
    for key, value in extra.items():
        if key in config:
            errors[extra_name] = f"'{key}' is set both in its own field and here; keep one."
        config[key] = value
    return config, errors


def raw_mapping(text: str | None) -> dict[str, Any]:
    """The YAML mapping typed in a raw field ({} when empty); ValueError saying what is wrong."""
    if not (text or "").strip():
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"Not readable as YAML: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("Write one 'name: value' per line.")
    return value


def _convert(spec: dict, name: str, data: dict, previous: Any = None) -> Any:
    kind = spec["type"]
    if kind == "rules":
        rules = rules_from(name, data)
        if not rules:
            return None
        if data.get(f"{name}_match") == "any":
            return {"any": rules}
        if isinstance(previous, dict) and "field" in previous and len(rules) == 1:
            return rules[0]  # it was written as a single rule; keep it so
        if isinstance(previous, dict) and list(previous) == ["all"]:
            return {"all": rules}
        return rules
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
    return raw  # text as typed, surrounding blank lines included
