"""Status changes in the admin: publish, pause, resume, archive — only through the services.

The status field itself is read-only on every form (issue 12: "status is never edited by
hand"); these helpers are what the list's bulk actions and the page's buttons call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from crm.admin_scoping import PUBLISH_ROLES, has_role
from crm.admin_style import count_of

from .models import Workflow
from .services import (
    Published,
    PublishRefused,
    WorkflowStateError,
    workflow_archive,
    workflow_pause,
    workflow_publish_outcome,
    workflow_restore,
    workflow_resume,
)


def _publish(workflow: Workflow, request) -> Published:
    return workflow_publish_outcome(workflow=workflow, user=request.user)


# name → (service call, past tense for the message, roles that may do it)
STATUS_CHANGES: dict[str, tuple[Callable[[Workflow, object], object], str, frozenset[str]]] = {
    "publish": (_publish, "published", PUBLISH_ROLES),
    "pause": (lambda w, _r: workflow_pause(workflow=w), "paused", PUBLISH_ROLES),
    "resume": (lambda w, _r: workflow_resume(workflow=w), "resumed", PUBLISH_ROLES),
    "archive": (lambda w, _r: workflow_archive(workflow=w), "archived", PUBLISH_ROLES),
    "restore": (lambda w, _r: workflow_restore(workflow=w), "restored", PUBLISH_ROLES),
}


def change_status(modeladmin, request, workflows: Iterable[Workflow], name: str) -> int:
    """Apply status change ``name`` to each workflow; report each refusal; return the done count.

    A refused publish lists the validation errors with their paths (``steps[2].config.then``).
    A user without the role in a workflow's tenant is told so, and nothing changes there.
    """
    call, done_word, roles = STATUS_CHANGES[name]
    done = 0
    for workflow in workflows:
        if not has_role(request, workflow.tenant_id, roles):
            needed = "an admin or owner" if roles == PUBLISH_ROLES else "an editor"
            modeladmin.message_user(
                request,
                f"'{workflow.name}': you must be {needed} of {workflow.tenant} to {name} it.",
                messages.ERROR,
            )
            continue
        try:
            outcome = call(workflow, request)
        except PublishRefused as exc:
            items = format_html_join("", "<li>{}</li>", ((str(p),) for p in exc.result.errors))
            modeladmin.message_user(
                request,
                format_html("'{}' was not published, fix these first:<ul>{}</ul>", workflow, items),
                messages.ERROR,
            )
        except WorkflowStateError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
        else:
            if isinstance(outcome, Published) and not outcome.created:
                # The service wrote nothing: the draft equals the live version.
                modeladmin.message_user(
                    request,
                    f"'{workflow.name}' is unchanged since its live version; nothing to publish.",
                    messages.INFO,
                )
                continue
            done += 1
    if done:
        modeladmin.message_user(
            request, f"{count_of(done, 'workflow')} {done_word}.", messages.SUCCESS
        )
    return done


STATUS_QUESTIONS = {
    "publish": "Validate the draft of '{workflow}' and publish it as the next version? "
    "New enrollments use it; running ones keep their version.",
    "pause": "Pause '{workflow}'? It stops enrolling and holds contacts already inside where "
    "they are (nothing is sent) until it is resumed.",
    "resume": "Resume '{workflow}'? It enrolls again from its published version, and held "
    "contacts carry on where they were.",
    "archive": "Archive '{workflow}'? It stops enrolling, leaves the active lists, and every "
    "contact still inside exits (workflow_archived): nothing more is sent.",
    "restore": "Restore '{workflow}'? It comes back paused (a draft if it was never published); "
    "contacts that exited when it was archived stay exited.",
}


def confirm_page(modeladmin, request, *, title: str, question: str, button: str, back_url: str):
    """A small POST-confirmation page in the admin's frame (``admin/studio/confirm.html``)."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": title,
        "question": question,
        "button": button,
        "back_url": back_url,
    }
    return TemplateResponse(request, "admin/studio/confirm.html", context)


# The status column of the list: the badge, then what the toggle does from that status.
BADGE = {"draft": "info", "active": "success", "paused": "warning", "archived": "danger"}
TOGGLE = {
    Workflow.Status.ACTIVE: ("pause", "Disable", "Pause: stop enrolling, hold contacts inside"),
    Workflow.Status.PAUSED: ("resume", "Enable", "Resume: enroll again, held contacts go on"),
}
# Asked in the browser before the toggle acts (static/studio/confirm.js, data-confirm).
TOGGLE_QUESTION = {"pause": STATUS_QUESTIONS["pause"], "resume": STATUS_QUESTIONS["resume"]}


def status_cell(workflow: Workflow) -> str:
    """The badge and the enable/disable toggle of one row (HTML).

    The changelist is itself one POST form (with its CSRF token), so the toggle is a submit
    button of that form aimed at the toggle view (``formaction``): no nested form, no script.
    A draft links to its Publish confirmation instead; an archived workflow has no toggle.
    """
    badge = render_to_string(
        "unfold/helpers/label.html", {"text": workflow.status, "type": BADGE.get(workflow.status)}
    )
    if workflow.status in TOGGLE:
        name, label, title = TOGGLE[workflow.status]
        url = reverse("admin:workflows_workflow_toggle", args=[workflow.pk])
        return format_html(
            '{} <button type="submit" name="toggle" value="{}" formaction="{}" '
            'formmethod="post" title="{} (admins and owners)" data-confirm="{}" '
            'class="studio-toggle ml-2 underline text-primary-600">{}</button>',
            badge,
            name,
            url,
            title,
            TOGGLE_QUESTION[name].format(workflow=workflow),
            label,
        )
    if workflow.status == Workflow.Status.DRAFT:
        url = reverse("admin:workflows_workflow_publish_one", args=[workflow.pk])
        return format_html(
            '{} <a href="{}" class="studio-toggle ml-2 underline" '
            'title="A draft is enabled by publishing it (admins and owners)">Publish to enable</a>',
            badge,
            url,
        )
    return badge


def toggle_view(modeladmin, request, object_id: str):
    """POST ``toggle=pause|resume`` from the list's status column; back to the list.

    The wanted change comes with the click, so a double click or a stale page cannot flip
    the workflow back: the service refuses a pause of a paused workflow, with its reason.
    """
    back = reverse("admin:workflows_workflow_changelist")
    workflow = modeladmin.get_object(request, object_id)
    if workflow is None or request.method != "POST":
        return HttpResponseRedirect(back)
    name = request.POST.get("toggle", "")
    if name not in ("pause", "resume"):
        modeladmin.message_user(
            request, f"'{workflow.name}': unknown toggle '{name}'.", messages.ERROR
        )
        return HttpResponseRedirect(back)
    change_status(modeladmin, request, [workflow], name)
    return HttpResponseRedirect(back)
