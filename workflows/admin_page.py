"""What the workflow page shows beside its form: problems by step, the YAML, the graph, and the
lists its inputs suggest from (step ids, prompts, data-dictionary fields)."""

from __future__ import annotations

import re
from typing import Any

from engine.definition import DEFAULT_CONTACT_FIELDS, DefinitionError, Problem
from prompts.models import Prompt

from .admin_forms import (
    STEP_PREFIX,
    TRIGGER_PREFIX,
    step_config_fields,
    step_kinds,
    trigger_config_fields,
)
from .models import Workflow, WorkflowStep
from .selectors import workflow_export
from .services import DraftPreview, definition_validate, draft_definition

STEP_PATH = re.compile(r"^steps\[(\d+)\]")
# Paths of the trigger's event fields (docs/triggers.md), offered beside the contact's.
TRIGGER_FIELDS = [
    "trigger.tag",
    "trigger.channel",
    "trigger.content",
    "trigger.intent",
    "trigger.intent_confidence",
    "trigger.form",
]


def problems_by_step(*, workflow: Workflow) -> list[dict[str, Any]]:
    """The draft's errors and warnings, each with the step id it belongs to (or "")."""
    step_ids = list(workflow.steps.order_by("order", "id").values_list("step_id", flat=True))
    try:
        result = definition_validate(
            tenant=workflow.tenant, definition=draft_definition(workflow=workflow)
        )
        found = [("error", p) for p in result.errors] + [("warning", p) for p in result.warnings]
    except DefinitionError as exc:
        found = [("error", p) for p in exc.problems]
    return [_row(severity, problem, step_ids) for severity, problem in found]


def preview_rows(preview: DraftPreview) -> list[dict[str, Any]]:
    """The rows of the page's problem list for an unsaved draft (as ``problems_by_step``)."""
    found = [("error", p) for p in preview.errors] + [("warning", p) for p in preview.warnings]
    return [_row(severity, problem, preview.step_ids) for severity, problem in found]


def _row(severity: str, problem: Problem, step_ids: list[str]) -> dict[str, Any]:
    match = STEP_PATH.match(problem.path or "")
    index = int(match.group(1)) if match else None
    step = step_ids[index] if index is not None and index < len(step_ids) else ""
    return {"severity": severity, "step": step, "path": problem.path, "message": problem.message}


def field_suggestions(*, workflow: Workflow | None) -> list[str]:
    """Rule fields from the CRM data dictionary: contact fields, trigger fields, step results."""
    fields = [*sorted(DEFAULT_CONTACT_FIELDS), "custom_fields.", *TRIGGER_FIELDS]
    if workflow is not None and workflow.pk is not None:
        for step_id in workflow.steps.values_list("step_id", flat=True):
            fields += [f"steps.{step_id}.opened", f"steps.{step_id}.clicked"]
            fields += [f"steps.{step_id}.replied", f"steps.{step_id}.output"]
    return fields


def page_context(*, workflow: Workflow | None, tenant_ids: set[int] | None) -> dict[str, Any]:
    """Context for ``admin/workflows/workflow/change_form.html`` (``tenant_ids`` None: all)."""
    prompts = Prompt.objects.all()
    if tenant_ids is not None:
        prompts = prompts.filter(tenant_id__in=tenant_ids)
    if workflow is not None and workflow.pk is not None:
        prompts = prompts.filter(tenant_id=workflow.tenant_id)
    context: dict[str, Any] = {
        "studio_fields": field_suggestions(workflow=workflow),
        "studio_prompts": sorted(set(prompts.values_list("name", flat=True))),
        "studio_steps": ["end", "exit"],
        "studio_kinds": {
            "step_prefix": STEP_PREFIX,
            "trigger_prefix": TRIGGER_PREFIX,
            "steps": step_config_fields()[1],
            "triggers": trigger_config_fields()[1],
            "descriptions": {t: k["description"] for t, k in step_kinds().items()},
        },
    }
    if workflow is not None and workflow.pk is not None:
        step_ids = list(workflow.steps.order_by("order", "id").values_list("step_id", flat=True))
        context["studio_steps"] = [*step_ids, "end", "exit"]
        context["problems"] = problems_by_step(workflow=workflow)
        try:
            context["yaml_preview"] = workflow_export(workflow=workflow)
        except DefinitionError as exc:
            context["yaml_preview"] = "\n".join(f"# {p}" for p in exc.problems)
    return context


def _form_problems(form, *, step: str = "", at: str = "") -> list[dict[str, Any]]:
    """A bound form's errors as problem rows: "Field label: message" at ``{at}{field}``."""
    rows = []
    for name, messages in form.errors.items():
        field = form.fields.get(name)
        label = str(field.label) if field is not None and field.label else name
        for message in messages:
            text = message if name == "__all__" else f"{label}: {message}"
            path = at.rstrip(".") if name == "__all__" else f"{at}{name}"
            rows.append({"severity": "error", "step": step, "path": path, "message": text})
    return rows


def unsaved_draft(form, formsets) -> tuple[Workflow, list[WorkflowStep], list[dict[str, Any]]]:
    """The workflow and step rows a save of these bound forms would write (nothing is saved),
    and their form errors as problem rows. Cleaning runs exactly as on save: the forms turn
    the catalog fields into ``trigger_config`` / ``config``; a field with an error keeps its
    previous value, so the rest still previews."""
    form.is_valid()
    problems = _form_problems(form)
    kept: list[tuple[int, int, Any]] = []
    for formset in formsets:
        formset.is_valid()
        for index, step_form in enumerate(formset.forms):
            if step_form.instance.pk is None and not step_form.has_changed():
                continue  # an empty "add another" row: saving skips it too
            if formset.can_delete and formset._should_delete_form(step_form):
                continue
            order = step_form.cleaned_data.get("order") if step_form.is_bound else None
            kept.append((order if isinstance(order, int) else 0, index, step_form))
    kept.sort(key=lambda item: item[:2])
    steps = []
    for position, (_, _, step_form) in enumerate(kept):
        row = step_form.instance
        row.step_id = row.step_id or (step_form["step_id"].value() or "").strip()
        steps.append(row)
        problems += _form_problems(step_form, step=row.step_id, at=f"steps[{position}].")
    return form.instance, steps, problems
