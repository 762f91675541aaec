"""Admin action "Enroll in workflow…": pick an active workflow, enroll the selected contacts."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from engine.triggers.api import EnrollmentRefused, ManualEnrollError
from workflows.models import Workflow
from workflows.services import workflow_enroll

from .admin_style import UnfoldStyled
from .text import LineEndingsForm


class EnrollForm(LineEndingsForm, UnfoldStyled, forms.Form):
    workflow = forms.ModelChoiceField(queryset=Workflow.objects.none(), label="Workflow")

    def __init__(self, *args, tenant_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workflow"].queryset = Workflow.objects.filter(
            tenant_id=tenant_id, status=Workflow.Status.ACTIVE
        ).order_by("name")


@admin.action(description="Enroll in workflow…")
def enroll_in_workflow(modeladmin, request, queryset):
    """First call shows the workflow picker; the confirmed POST enrolls, in bulk."""
    tenant_ids = set(queryset.values_list("tenant_id", flat=True))
    if len(tenant_ids) != 1:
        modeladmin.message_user(
            request, "Select contacts of one tenant to enroll them together.", messages.ERROR
        )
        return None
    tenant_id = tenant_ids.pop()
    form = EnrollForm(request.POST if "apply" in request.POST else None, tenant_id=tenant_id)
    if form.is_valid():
        workflow = form.cleaned_data["workflow"]
        try:
            # Large selections become a background job (workflow_enroll decides the size).
            outcome = workflow_enroll(
                workflow=workflow,
                contact_ids=list(queryset.values_list("pk", flat=True)),
                user=request.user,
                via="admin",
            )
        except (EnrollmentRefused, ManualEnrollError) as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
            return None
        if outcome.job is not None:
            url = reverse("admin:workflows_enrolljob_change", args=[outcome.job.pk])
            modeladmin.message_user(
                request,
                format_html(
                    "Enrolling {} contacts in '{}' in the background: "
                    '<a href="{}">follow its progress</a>.',
                    outcome.job.total,
                    workflow.name,
                    url,
                ),
                messages.SUCCESS,
            )
            return None
        skipped = outcome.selected - outcome.enrolled
        modeladmin.message_user(
            request,
            f"Enrolled {outcome.enrolled} of {outcome.selected} contacts in '{workflow.name}'"
            f" ({skipped} were already in it).",
            messages.SUCCESS,
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Enroll contacts in a workflow",
        "form": form,
        "contacts": queryset,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "action_name": "enroll_in_workflow",
    }
    return TemplateResponse(request, "admin/crm/contact/enroll_in_workflow.html", context)
