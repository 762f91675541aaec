""" "Run now" on the workflow list (row and bulk action): a manual trigger with sample data.

GET asks which contact (the tenant's sample contact unless one is chosen); POST really
enrolls it into each selected workflow's published version through ``workflow_run_now`` and
answers with a message linking each enrollment. Editors and up.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from crm.admin_scoping import PUBLISH_ROLES, has_role
from crm.admin_style import UnfoldStyled
from crm.text import LineEndingsForm
from engine.effects.contacts import contact_model
from engine.runtime.enrollment import EnrollmentRefused

from .models import Workflow
from .services import RUN_NOW_DATA, workflow_run_now


class RunNowForm(LineEndingsForm, UnfoldStyled, forms.Form):
    contact = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="The tenant's sample contact",
        help_text="Who to enroll; left empty, the tenant's sample contact (made on first use).",
    )

    def __init__(self, *args, tenant_ids: set[int], **kwargs):
        super().__init__(*args, **kwargs)
        contacts = contact_model().objects.filter(tenant_id__in=tenant_ids)
        self.fields["contact"].queryset = contacts.order_by("first_name", "last_name", "pk")


def run_now_url(ids) -> str:
    return reverse("admin:workflows_workflow_run_now") + "?ids=" + ",".join(map(str, ids))


def _selected(modeladmin, request) -> list[Workflow]:
    raw = request.GET.get("ids", "")
    ids = [int(part) for part in raw.split(",") if part.strip().isdigit()]
    # The admin's queryset is already limited to the user's tenants.
    return list(modeladmin.get_queryset(request).filter(pk__in=ids).order_by("name"))


def run_now_view(modeladmin, request):
    """Ask for the contact (GET), then enroll it into each selected workflow (POST)."""
    back = reverse("admin:workflows_workflow_changelist")
    workflows = _selected(modeladmin, request)
    if not workflows:
        modeladmin.message_user(request, "Select the workflows to run.", messages.WARNING)
        return HttpResponseRedirect(back)
    form = RunNowForm(request.POST or None, tenant_ids={w.tenant_id for w in workflows})
    if request.method == "POST" and form.is_valid():
        for workflow in workflows:
            _run_one(modeladmin, request, workflow, form.cleaned_data["contact"])
        return HttpResponseRedirect(back)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Run now",
        "workflows": workflows,
        "form": form,
        "sample_data": RUN_NOW_DATA,
        "back_url": back,
    }
    return TemplateResponse(request, "admin/workflows/workflow/run_now.html", context)


def _run_one(modeladmin, request, workflow: Workflow, contact) -> None:
    # A real run sends messages: the same role as publishing, and as POST /api/workflows/run.
    if not has_role(request, workflow.tenant_id, PUBLISH_ROLES):
        modeladmin.message_user(
            request,
            f"'{workflow.name}': you must be an admin or owner of {workflow.tenant} to run it.",
            messages.ERROR,
        )
        return
    try:
        started = workflow_run_now(workflow=workflow, contact=contact, user=request.user)
    except EnrollmentRefused as exc:
        modeladmin.message_user(request, f"Not run: {exc}.", messages.ERROR)
        return
    if started.enrollment is None:
        listed = reverse("admin:workflows_enrollment_changelist")
        modeladmin.message_user(
            request,
            format_html(
                "'{}': {} is already in it and re-enrollment is off; "
                '<a href="{}?workflow__id__exact={}">see its enrollments</a>.',
                workflow.name,
                started.contact,
                listed,
                workflow.pk,
            ),
            messages.WARNING,
        )
        return
    url = reverse("admin:workflows_enrollment_change", args=[started.enrollment.pk])
    modeladmin.message_user(
        request,
        format_html(
            "'{}' runs now for {}: <a href=\"{}\">enrollment {}</a>.",
            workflow.name,
            started.contact,
            url,
            started.enrollment.pk,
        ),
        messages.SUCCESS,
    )
