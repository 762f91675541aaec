"""The workflow page's "Test (dry-run)" screen: a sample contact, trigger data and injected
events in; the path on the graph, each step's rendered input and output, and the outbox out."""

from __future__ import annotations

import json
from typing import Any

import yaml
from django import forms
from django.http import Http404

from crm.admin_style import UnfoldStyled
from crm.text import LineEndingsForm
from engine.definition import DefinitionError, load_definition
from engine.dryrun import DryRunError

from .graph_svg import draw
from .models import Workflow
from .selectors import step_counts
from .services import draft_definition, workflow_test

EVENTS_HELP = (
    "Events that happen during the run, one per item, e.g.\n"
    "- after: 3h\n  type: email_opened\n  step: welcome_email"
)


def _yaml_value(text: str, *, want: type, what: str) -> Any:
    if not (text or "").strip():
        return want()
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise forms.ValidationError(f"{what} is not readable YAML{where}.") from None
    if not isinstance(value, want):
        shape = "'name: value' lines" if want is dict else "a list of '- …' items"
        raise forms.ValidationError(f"{what} must be {shape}.")
    return value


class DryRunForm(LineEndingsForm, UnfoldStyled, forms.Form):
    contact = forms.ModelChoiceField(
        queryset=None,
        required=False,
        help_text="A real contact to start from (nothing is written to it)",
    )
    contact_fields = forms.CharField(
        required=False,
        label="…or type a contact",
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "first_name: Ann\nemail: ann@example.com"}
        ),
        help_text="Fields as 'name: value' lines; they override the chosen contact's",
    )
    trigger = forms.CharField(
        required=False,
        label="Trigger data",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "tag: vip"}),
        help_text="What the event carried, as trigger.* (e.g. tag, channel, content)",
    )
    events = forms.CharField(
        required=False,
        label="Injected events",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=EVENTS_HELP,
    )
    version = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, *args, workflow: Workflow, contacts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = contacts
        numbers = workflow.versions.order_by("-number").values_list("number", flat=True)
        self.fields["version"].choices = [("", "the draft"), *((n, f"v{n}") for n in numbers)]

    def clean_contact_fields(self) -> dict:
        return _yaml_value(self.cleaned_data["contact_fields"], want=dict, what="The contact")

    def clean_trigger(self) -> dict:
        return _yaml_value(self.cleaned_data["trigger"], want=dict, what="Trigger data")

    def clean_events(self) -> list:
        return _yaml_value(self.cleaned_data["events"], want=list, what="Events")


def run_test(request, modeladmin, object_id: str) -> dict[str, Any]:
    """Context of ``admin/workflows/workflow/test.html`` (GET: the form; POST: the result)."""
    workflow = modeladmin.get_object(request, object_id)
    if workflow is None:
        raise Http404(f"no workflow with id {object_id!r}")
    contacts = workflow.tenant.contacts.order_by("first_name", "last_name")
    form = DryRunForm(request.POST or None, workflow=workflow, contacts=contacts)
    context: dict[str, Any] = {"form": form, "original": workflow, "report": None}
    path: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = workflow_test(
                workflow=workflow,
                contact_id=data["contact"].pk if data["contact"] else None,
                contact=data["contact_fields"],
                trigger=data["trigger"],
                events=data["events"],
                version=data["version"],
            )
        except (DefinitionError, DryRunError) as exc:
            form.add_error(None, str(exc))
        else:
            path = report["path"]
            context["report"] = report
            context["steps"] = [_readable(step) for step in report["steps"]]
            context["outbox"] = [_pretty(item) for item in report["outbox"]]
            context["changes"] = [_pretty(item) for item in report["changes"]]
    context["graph_svg"] = _graph(workflow, form, path)
    return context


def _graph(workflow: Workflow, form: DryRunForm, path: list[str]):
    version = form.cleaned_data.get("version") if form.is_bound and form.is_valid() else None
    try:
        if version is not None:
            definition = load_definition(workflow.versions.get(number=version).definition)
        else:
            definition = draft_definition(workflow=workflow)
    except DefinitionError:
        return ""
    return draw(definition, counts=step_counts(workflow=workflow), path=path)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _readable(step: dict[str, Any]) -> dict[str, Any]:
    return {
        **step,
        "input_text": _pretty(step.get("input")),
        "output_text": _pretty(step.get("output")),
    }
