"""Forms of the workflow page: kinds chosen from the catalog, config as ordinary inputs.

No free-text kinds and no raw JSON boxes: the trigger kind and each step's kind are chosen from
the catalog; their config fields follow the kind (``admin_fields``); filters are rule rows.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from django import forms

from crm.admin_style import UnfoldStyled
from crm.text import LineEndingsForm
from engine.definition import step_catalog, trigger_catalog

from .admin_fields import (
    config_fields,
    config_from,
    config_initial,
    raw_field,
    rule_row_fields,
    rules_from,
    rules_initial,
    yaml_text,
)
from .models import Workflow, WorkflowStep

FILTER_ROWS = 5
STEP_PREFIX = "cfg_"
TRIGGER_PREFIX = "tcfg_"


@cache
def step_kinds() -> dict[str, dict]:
    """type → catalog entry of every step kind."""
    return {kind["type"]: kind for kind in step_catalog()}


@cache
def trigger_kinds() -> dict[str, dict]:
    """type → catalog entry of every trigger kind (the seeds' ten and ours)."""
    return {kind["type"]: kind for kind in trigger_catalog()}


def trigger_choices() -> list[tuple[str, str]]:
    return [(t, kind["label"]) for t, kind in trigger_kinds().items()]


def step_choices() -> list[tuple[str, str]]:
    return [(t, kind["label"]) for t, kind in step_kinds().items()]


@cache
def step_config_fields() -> tuple[dict[str, forms.Field], dict[str, list[str]]]:
    return config_fields(list(step_kinds().values()), STEP_PREFIX)


@cache
def trigger_config_fields() -> tuple[dict[str, forms.Field], dict[str, list[str]]]:
    return config_fields(list(trigger_kinds().values()), TRIGGER_PREFIX)


FILTERS_RAW = "filter_yaml"


def filters_initial(filters: Any) -> dict[str, Any]:
    """Initial values for stored trigger filters: the rule rows when they show them exactly
    (a plain list of at most FILTER_ROWS rules), else the whole filters as YAML."""
    shown = rules_initial("filter", filters)
    shown.pop("filter_match", None)
    try:
        fields = rule_row_fields("filter", FILTER_ROWS)
        cleaned = {key: field.clean(shown.get(key, "")) for key, field in fields.items()}
        exact = rules_from("filter", cleaned, FILTER_ROWS) == filters
    except forms.ValidationError:
        exact = False
    if exact or not filters:
        return shown
    return {FILTERS_RAW: yaml_text(filters)}


def filters_from(data: dict) -> Any:
    """The filters of the cleaned form: the raw YAML when given, else the rule rows."""
    text = data.get(FILTERS_RAW) or ""
    if text.strip():
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise forms.ValidationError(f"Not readable as YAML: {exc}") from None
        if not isinstance(value, list | dict):
            raise forms.ValidationError("Write rules: a list, or all:/any:/not: a group.")
        if rules_from("filter", data, FILTER_ROWS):
            raise forms.ValidationError("Use the rule rows or the YAML filters, not both.")
        return value
    return rules_from("filter", data, FILTER_ROWS)


class _WorkflowForm(LineEndingsForm, UnfoldStyled, forms.ModelForm):
    trigger_type = forms.ChoiceField(
        choices=trigger_choices, label="Trigger", help_text="What enrolls a contact"
    )

    class Meta:
        model = Workflow
        fields = ["tenant", "name", "description", "trigger_type", "settings"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Kept as written (the YAML may have surrounding spaces or blank lines).
        if "description" in self.fields:
            self.fields["description"].strip = False
        instance = self.instance
        if instance.pk is not None:
            kind = trigger_kinds().get(instance.trigger_type)
            if kind is not None:
                self.initial.update(
                    config_initial(kind, instance.trigger_config or {}, TRIGGER_PREFIX)
                )
            self.initial.update(filters_initial(instance.trigger_filters or []))

    def clean(self):
        data = super().clean()
        kind = trigger_kinds().get(data.get("trigger_type") or "")
        if kind is not None:
            previous = self.instance.trigger_config or {}
            config, errors = config_from(kind, data, TRIGGER_PREFIX, previous)
            for name, message in errors.items():
                self.add_error(name, message)
            self.instance.trigger_config = config
        try:
            self.instance.trigger_filters = filters_from(data)
        except forms.ValidationError as exc:
            self.add_error(FILTERS_RAW if data.get(FILTERS_RAW) else "filter_1_field", exc)
        return data


class _WorkflowStepForm(LineEndingsForm, UnfoldStyled, forms.ModelForm):
    type = forms.ChoiceField(choices=step_choices, label="Kind")

    class Meta:
        model = WorkflowStep
        fields = ["order", "step_id", "type", "name", "delay", "next_step", "on_error"]
        widgets = {
            "next_step": forms.TextInput(attrs={"list": "studio-steps"}),
            "on_error": forms.TextInput(attrs={"list": "studio-steps"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cfg_prompt"].widget.attrs["list"] = "studio-prompts"
        kind = step_kinds().get(self.instance.type or "")
        if self.instance.pk is not None and kind is not None:
            self.initial.update(config_initial(kind, self.instance.config or {}, STEP_PREFIX))

    def clean(self):
        data = super().clean()
        kind = step_kinds().get(data.get("type") or "")
        if kind is not None:
            previous = self.instance.config if self.instance.type == data.get("type") else {}
            config, errors = config_from(kind, data, STEP_PREFIX, previous)
            for name, message in errors.items():
                self.add_error(name, message)
            self.instance.config = config
        return data


# The catalog's fields are declared on the classes (not added per instance) so the admin's
# fieldsets may name them.
WorkflowForm = type(
    "WorkflowForm",
    (_WorkflowForm,),
    {
        "__module__": __name__,
        **trigger_config_fields()[0],
        **rule_row_fields(
            "filter", FILTER_ROWS, help_text="Only contacts passing every rule are enrolled"
        ),
        FILTERS_RAW: raw_field(
            "Filters (YAML)",
            "Filters the rule rows cannot show (any:/not: groups, expressions, more rows); "
            "kept as written. Leave empty to use the rule rows.",
        ),
    },
)
WorkflowStepForm = type(
    "WorkflowStepForm",
    (_WorkflowStepForm,),
    {"__module__": __name__, **step_config_fields()[0]},
)
