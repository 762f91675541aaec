"""Status changes in the admin: publish, pause, resume, archive — only through the services.

The status field itself is read-only on every form (issue 12: "status is never edited by
hand"); these helpers are what the list's bulk actions and the page's buttons call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import messages
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from crm.admin_scoping import PUBLISH_ROLES, has_role

from .models import Workflow
from .services import (
    PublishRefused,
    WorkflowStateError,
    workflow_archive,
    workflow_pause,
    workflow_publish,
    workflow_resume,
)


def _publish(workflow: Workflow, request) -> None:
    workflow_publish(workflow=workflow, user=request.user)


# name → (service call, past tense for the message, roles that may do it)
STATUS_CHANGES: dict[str, tuple[Callable[[Workflow, object], None], str, frozenset[str]]] = {
    "publish": (_publish, "published", PUBLISH_ROLES),
    "pause": (lambda w, _r: workflow_pause(workflow=w), "paused", PUBLISH_ROLES),
    "resume": (lambda w, _r: workflow_resume(workflow=w), "resumed", PUBLISH_ROLES),
    "archive": (lambda w, _r: workflow_archive(workflow=w), "archived", PUBLISH_ROLES),
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
            call(workflow, request)
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
            done += 1
    if done:
        modeladmin.message_user(request, f"{done} workflow(s) {done_word}.", messages.SUCCESS)
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
