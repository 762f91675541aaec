"""Forms of the workflow page: kinds chosen from the catalog, never typed as free text."""

from __future__ import annotations

from django import forms

from engine.definition import step_catalog, trigger_catalog

from .models import Workflow, WorkflowStep


def trigger_choices() -> list[tuple[str, str]]:
    """(type, label) of every trigger kind in the catalog (the seeds' ten and ours)."""
    return [(kind["type"], kind["label"]) for kind in trigger_catalog()]


def step_choices() -> list[tuple[str, str]]:
    """(type, label) of every step kind in the catalog."""
    return [(kind["type"], kind["label"]) for kind in step_catalog()]


class WorkflowForm(forms.ModelForm):
    trigger_type = forms.ChoiceField(choices=trigger_choices, label="Trigger")

    class Meta:
        model = Workflow
        fields = [
            "tenant",
            "name",
            "description",
            "trigger_type",
            "trigger_config",
            "trigger_filters",
            "settings",
        ]


class WorkflowStepForm(forms.ModelForm):
    type = forms.ChoiceField(choices=step_choices, label="Kind")

    class Meta:
        model = WorkflowStep
        fields = ["order", "step_id", "type", "name", "prompt", "config", "delay", "next_step"]
        fields += ["on_error"]
