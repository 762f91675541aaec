"""Enrollment pages: read-only rows with a timeline, and the only ways to change one — exit
with a reason, skip the wait it is in, or retry the step it failed at — each through a
service."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from crm.admin_scoping import EDIT_ROLES, has_role
from crm.admin_style import UnfoldStyled
from crm.text import LineEndingsForm
from engine.runtime.enrollment import enrollment_exit
from engine.runtime.retry import RetryRefused

from .models import Enrollment, StepLog
from .services import WorkflowStateError, enrollment_retry, enrollment_skip_wait


class ExitForm(LineEndingsForm, UnfoldStyled, forms.Form):
    reason = forms.CharField(
        max_length=200, initial="manual", help_text="Recorded as the enrollment's exit reason"
    )


def timeline(enrollment: Enrollment) -> list[dict]:
    """Each step log of ``enrollment`` in order, with its input and output made readable."""
    rows = []
    for log in enrollment.logs.select_related("prompt").order_by("started_at", "id")[:500]:
        rows.append(
            {
                "log": log,
                "input": _pretty(log.input_context),
                "output": _pretty(
                    log.parsed_output if log.parsed_output is not None else log.raw_output
                ),
            }
        )
    return rows


def why_entered(enrollment: Enrollment) -> str:
    """The trigger that enrolled the contact, from the payload kept in the context."""
    trigger = (enrollment.context or {}).get("trigger") or {}
    kind = trigger.get("type") or enrollment.workflow.trigger_type
    details = ", ".join(
        f"{k}={v}" for k, v in trigger.items() if k != "type" and v not in ("", None)
    )
    return f"{kind}" + (f" ({details})" if details else "")


def why_ended(enrollment: Enrollment) -> str:
    if enrollment.status in Enrollment.LIVE_STATUSES:
        return f"still {enrollment.status} at '{enrollment.current_step or '—'}'"
    if enrollment.status == Enrollment.Status.FAILED:
        return f"failed: {enrollment.error or 'no error recorded'}"
    if enrollment.status == Enrollment.Status.EXITED:
        return f"exited: {enrollment.exit_reason or 'no reason recorded'}"
    return "completed: reached the end of the workflow"


def _pretty(value) -> str:
    if value in (None, "", {}, []):
        return ""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def detail_context(enrollment: Enrollment) -> dict:
    """Extra context of the enrollment page (``admin/workflows/enrollment/change_form.html``)."""
    logs = enrollment.logs.all()
    return {
        "timeline": timeline(enrollment),
        "why_entered": why_entered(enrollment),
        "why_ended": why_ended(enrollment),
        "failed_logs": logs.filter(status=StepLog.Status.FAILED).count(),
    }


def exit_view(modeladmin, request, object_id: str):
    """Ask for a reason (GET), then exit the enrollment through the engine (POST)."""
    enrollment = modeladmin.get_object(request, object_id)
    back = reverse("admin:workflows_enrollment_changelist")
    if enrollment is None:
        return HttpResponseRedirect(back)
    back = reverse("admin:workflows_enrollment_change", args=[enrollment.pk])
    if not has_role(request, enrollment.tenant_id, EDIT_ROLES):
        modeladmin.message_user(request, "Exiting needs the editor role.", messages.ERROR)
        return HttpResponseRedirect(back)
    form = ExitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if enrollment_exit(enrollment_id=enrollment.pk, reason=form.cleaned_data["reason"]):
            modeladmin.message_user(request, "The enrollment has exited.", messages.SUCCESS)
        else:
            modeladmin.message_user(
                request, f"The enrollment had already {enrollment.status}.", messages.WARNING
            )
        return HttpResponseRedirect(back)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": f"Exit {enrollment}",
        "form": form,
        "back_url": back,
    }
    return TemplateResponse(request, "admin/workflows/enrollment/exit.html", context)


def _editor_post(modeladmin, request, object_id: str, doing: str):
    """(enrollment, redirect) for a POST-only editor action on an enrollment's page. The
    enrollment is None when the action must not run: not the user's (redirect to the list), a
    GET, or a role below editor (said in a message); the redirect goes back to its page."""
    enrollment = modeladmin.get_object(request, object_id)
    if enrollment is None:
        return None, HttpResponseRedirect(reverse("admin:workflows_enrollment_changelist"))
    back = HttpResponseRedirect(reverse("admin:workflows_enrollment_change", args=[enrollment.pk]))
    if request.method != "POST":
        return None, back
    if not has_role(request, enrollment.tenant_id, EDIT_ROLES):
        modeladmin.message_user(request, f"{doing} needs the editor role.", messages.ERROR)
        return None, back
    return enrollment, back


def skip_wait_view(modeladmin, request, object_id: str):
    """Make the current wait due now (POST only; GET just returns to the page)."""
    enrollment, back = _editor_post(modeladmin, request, object_id, "Skipping a wait")
    if enrollment is None:
        return back
    try:
        enrollment_skip_wait(enrollment=enrollment)
    except WorkflowStateError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
    else:
        modeladmin.message_user(
            request, "The wait ends now; the next step runs within seconds.", messages.SUCCESS
        )
    return back


def retry_view(modeladmin, request, object_id: str):
    """Retry the failed step (POST only, editors and up; GET just returns to the page)."""
    enrollment, back = _editor_post(modeladmin, request, object_id, "Retrying")
    if enrollment is None:
        return back
    try:
        started = enrollment_retry(enrollment=enrollment, actor=request.user)
    except RetryRefused as exc:
        modeladmin.message_user(request, f"Not retried: {exc}.", messages.ERROR)
    else:
        when = "it runs when the workflow is resumed" if started.held else "it runs within seconds"
        modeladmin.message_user(
            request,
            f"Retrying step '{started.step_id}' (attempt {started.attempt}); {when}.",
            messages.SUCCESS,
        )
    return back
