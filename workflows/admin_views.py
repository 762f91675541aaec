"""The workflow page's own screens: YAML editor, versions (diff, roll back), export, import.

Thin views: each reads a form, calls one service or selector, and renders the answer.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from crm.admin_scoping import EDIT_ROLES, has_role
from crm.admin_style import UnfoldStyled, count_of
from crm.models import Tenant
from crm.text import LineEndingsForm
from engine.definition import DefinitionError, parse_definition

from .admin_page import page_context, preview_rows, unsaved_draft
from .admin_test_view import run_test
from .graph_svg import draw
from .models import Workflow
from .selectors import step_counts, version_diff, workflow_export
from .services import (
    definition_validate,
    draft_definition,
    draft_preview,
    draft_save,
    workflow_import,
    workflow_rollback,
)

MAX_UPLOAD_BYTES = 1_000_000


class YamlForm(LineEndingsForm, UnfoldStyled, forms.Form):
    text = forms.CharField(
        label="Definition (YAML or JSON)",
        widget=forms.Textarea(attrs={"class": "studio-yaml", "spellcheck": "false"}),
    )


class ImportForm(LineEndingsForm, UnfoldStyled, forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none())
    file = forms.FileField(required=False, help_text="A .yaml, .yml or .json file")
    text = forms.CharField(
        required=False,
        label="…or paste it here",
        widget=forms.Textarea(attrs={"class": "studio-yaml", "spellcheck": "false"}),
    )

    def __init__(self, *args, tenants, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants
        if tenants.count() == 1:
            self.fields["tenant"].initial = tenants.first()

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_UPLOAD_BYTES:
                raise forms.ValidationError(
                    f"The file is {upload.size:,} bytes; the limit is {MAX_UPLOAD_BYTES:,}."
                )
            data["text"] = upload.read().decode("utf-8", "replace")
        if not (data.get("text") or "").strip():
            raise forms.ValidationError("Upload a file or paste a definition.")
        return data


class WorkflowPagesMixin:
    """URLs and views added to WorkflowAdmin (``admin:workflows_workflow_<name>``)."""

    def get_urls(self):
        site = self.admin_site
        own = [
            path("import/", site.admin_view(self.import_view), name="workflows_workflow_import"),
            path(
                "preview/",
                site.admin_view(self.preview_view),
                name="workflows_workflow_preview_new",
            ),
            path(
                "<path:object_id>/preview/",
                site.admin_view(self.preview_view),
                name="workflows_workflow_preview",
            ),
            path(
                "<path:object_id>/yaml/",
                site.admin_view(self.yaml_view),
                name="workflows_workflow_yaml",
            ),
            path(
                "<path:object_id>/versions/",
                site.admin_view(self.versions_view),
                name="workflows_workflow_versions",
            ),
            path(
                "<path:object_id>/test/",
                site.admin_view(self.test_view),
                name="workflows_workflow_test",
            ),
            path(
                "<path:object_id>/export/",
                site.admin_view(self.export_view),
                name="workflows_workflow_export",
            ),
        ]
        return own + super().get_urls()

    def _workflow(self, request, object_id: str, *, edit: bool = False) -> Workflow:
        workflow = self.get_object(request, object_id)
        if workflow is None:
            raise Http404(f"no workflow with id {object_id!r}")
        if edit and not has_role(request, workflow.tenant_id, EDIT_ROLES):
            raise PermissionDenied("Changing a workflow needs the editor role in its tenant.")
        return workflow

    def _render(self, request, template: str, title: str, workflow=None, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": workflow,
            "title": title,
            **context,
        }
        return TemplateResponse(request, f"admin/workflows/workflow/{template}", context)

    def yaml_view(self, request, object_id: str):
        """The raw YAML editor: saved over the draft only when it parses, errors with lines."""
        workflow = self._workflow(request, object_id, edit=request.method == "POST")
        problems, warnings = [], []
        if request.method == "POST":
            form = YamlForm(request.POST)
            if form.is_valid():
                try:
                    definition = parse_definition(form.cleaned_data["text"]).definition
                except DefinitionError as exc:
                    problems = list(exc.problems)
                else:
                    if (
                        definition.name != workflow.name
                        and Workflow.objects.filter(tenant=workflow.tenant, name=definition.name)
                        .exclude(pk=workflow.pk)
                        .exists()
                    ):
                        problems = [f"name: another workflow is called '{definition.name}'"]
                    else:
                        workflow.source_text = form.cleaned_data["text"]
                        draft_save(workflow=workflow, definition=definition)
                        result = definition_validate(tenant=workflow.tenant, definition=definition)
                        self.message_user(
                            request,
                            f"Draft saved from YAML: {count_of(len(result.errors), 'error')}, "
                            f"{count_of(len(result.warnings), 'warning')}.",
                            messages.SUCCESS if result.ok else messages.WARNING,
                        )
                        return HttpResponseRedirect(
                            reverse("admin:workflows_workflow_change", args=[workflow.pk])
                        )
        else:
            form = YamlForm(initial={"text": workflow_export(workflow=workflow)})
        return self._render(
            request,
            "yaml.html",
            f"YAML of '{workflow}'",
            workflow,
            form=form,
            problems=problems,
            warnings=warnings,
        )

    def preview_view(self, request, object_id: str | None = None):
        """The live preview: POST the unsaved workflow form (with its CSRF token); answers JSON
        ``{yaml, problems: [{severity, step, path, message}], errors, warnings}`` built by the
        save path's forms and ``draft_preview``. Nothing is saved. Editors of the workflow's
        tenant only (404 for another tenant's workflow, 403 without the role, then 405 for GET)."""
        # Another tenant's id is a 404 whatever the method: the answer must not tell it exists.
        workflow = self._workflow(request, object_id, edit=True) if object_id else None
        if request.method != "POST":
            return JsonResponse({"error": "POST the workflow form to preview it."}, status=405)
        if workflow is None and not self.has_add_permission(request):
            raise PermissionDenied("Building a workflow needs the editor role.")
        change = workflow is not None
        form = self.get_form(request, workflow, change=change)(
            request.POST, request.FILES, instance=workflow or Workflow()
        )
        formsets, _ = self._create_formsets(request, form.instance, change=change)
        draft, steps, problems = unsaved_draft(form, formsets)
        tenant = draft.tenant if draft.tenant_id else None
        if tenant is not None and not has_role(request, tenant.pk, EDIT_ROLES):
            raise PermissionDenied("Building a workflow needs the editor role in its tenant.")
        preview = draft_preview(workflow=draft, steps=steps, tenant=tenant)
        problems += preview_rows(preview)
        return JsonResponse(
            {
                "yaml": preview.yaml,
                "problems": problems,
                "errors": sum(p["severity"] == "error" for p in problems),
                "warnings": sum(p["severity"] == "warning" for p in problems),
            }
        )

    def versions_view(self, request, object_id: str):
        """Versions with a diff between any two, and a roll back (into the draft) button."""
        workflow = self._workflow(request, object_id)
        versions = list(workflow.versions.order_by("-number"))
        if request.method == "POST":
            workflow = self._workflow(request, object_id, edit=True)
            number = int(request.POST.get("rollback", "0"))
            if not workflow.versions.filter(number=number).exists():
                raise Http404(f"workflow '{workflow}' has no version {number}")
            workflow_rollback(workflow=workflow, number=number)
            self.message_user(
                request,
                f"The draft is now version {number}; publish it to make it live.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:workflows_workflow_change", args=[workflow.pk])
            )
        diff = None
        old, new = request.GET.get("old"), request.GET.get("new")
        if old and new:
            try:
                diff = version_diff(workflow=workflow, old=int(old), new=int(new))
            except (ValueError, workflow.versions.model.DoesNotExist) as exc:
                self.message_user(request, str(exc), messages.ERROR)
        return self._render(
            request,
            "versions.html",
            f"Versions of '{workflow}'",
            workflow,
            versions=versions,
            diff=diff,
            diff_lines=_diff_lines(diff["text"]) if diff else [],
            old=old,
            new=new,
        )

    def test_view(self, request, object_id: str):
        """The dry-run form and its result (editors and up may test)."""
        workflow = self._workflow(request, object_id, edit=request.method == "POST")
        context = run_test(request, self, object_id)
        context.pop("original")
        return self._render(request, "test.html", f"Test '{workflow}'", workflow, **context)

    def export_view(self, request, object_id: str):
        """The draft or ``?version=N`` as ``?format=yaml`` (default) or json, downloaded."""
        workflow = self._workflow(request, object_id)
        fmt = request.GET.get("format", "yaml")
        version = request.GET.get("version")
        if fmt not in ("yaml", "json"):
            raise Http404(f"unknown export format '{fmt}': use yaml or json")
        try:
            number = int(version) if version else None
            text = workflow_export(workflow=workflow, version=number, fmt=fmt)
        except (ValueError, workflow.versions.model.DoesNotExist):
            raise Http404(f"workflow '{workflow}' has no version {version!r}") from None
        content_type = "application/json" if fmt == "json" else "application/yaml"
        response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
        suffix = f"-v{number}" if number else ""
        filename = f"{_slug(workflow.name)}{suffix}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def import_view(self, request):
        """Upload or paste YAML/JSON; unreadable text shows its errors with their lines."""
        if not self.has_add_permission(request):
            raise PermissionDenied("Importing a workflow needs the editor role.")
        tenants = Tenant.objects.order_by("name")
        if not request.user.is_superuser:
            tenants = tenants.filter(id__in=list(self._tenant_ids(request)))
        form = ImportForm(request.POST or None, request.FILES or None, tenants=tenants)
        problems = []
        if request.method == "POST" and form.is_valid():
            tenant = form.cleaned_data["tenant"]
            if not has_role(request, tenant.pk, EDIT_ROLES):
                raise PermissionDenied("Importing a workflow needs the editor role.")
            try:
                imported = workflow_import(tenant=tenant, text=form.cleaned_data["text"])
            except DefinitionError as exc:
                problems = list(exc.problems)
            else:
                result = imported.result
                verb = "Imported" if imported.created else "Updated the draft of"
                self.message_user(
                    request,
                    f"{verb} '{imported.workflow}': {count_of(len(result.errors), 'error')}, "
                    f"{count_of(len(result.warnings), 'warning')} — see them above the form.",
                    messages.SUCCESS if result.ok else messages.WARNING,
                )
                return HttpResponseRedirect(
                    reverse("admin:workflows_workflow_change", args=[imported.workflow.pk])
                )
        return self._render(
            request, "import.html", "Import a workflow", None, form=form, problems=problems
        )

    def graph_for(self, workflow: Workflow, path: list[str] | None = None):
        """The SVG of the draft with live counts (an unreadable draft draws nothing)."""
        try:
            definition = draft_definition(workflow=workflow)
        except DefinitionError:
            return ""
        return draw(definition, counts=step_counts(workflow=workflow), path=path or [])

    def studio_context(self, request, workflow: Workflow | None) -> dict:
        ids = None if request.user.is_superuser else self._tenant_ids(request)
        context = page_context(workflow=workflow, tenant_ids=ids)
        if workflow is not None:
            context["graph_svg"] = self.graph_for(workflow)
        return context


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "workflow"


def _diff_lines(text: str) -> list[tuple[str, str]]:
    """(css class, line) for a unified diff: additions, removals and context."""
    lines = []
    for line in text.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            lines.append(("studio-diff-add", line))
        elif line.startswith("-") and not line.startswith("---"):
            lines.append(("studio-diff-del", line))
        else:
            lines.append(("", line))
    return lines
