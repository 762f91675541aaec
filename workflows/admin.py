"""The studio's workflow screens: workflows (status only through actions), versions, and the
read-only runtime rows (enrollments, step logs, due work) with tenant-scoped filters.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from unfold.admin import StackedInline
from unfold.decorators import action

from crm.admin_filters import related_filter, values_filter
from crm.admin_scoping import (
    EDIT_ROLES,
    PUBLISH_ROLES,
    ReadOnlyScopedAdmin,
    ScopedInlineMixin,
    TenantScopedAdmin,
    has_role,
)
from crm.admin_style import count_of, human_duration

from .admin_enrollment import detail_context, exit_view, retry_view, skip_wait_view
from .admin_fields import RULE_ROWS
from .admin_forms import (
    FILTER_ROWS,
    FILTERS_RAW,
    WorkflowForm,
    WorkflowStepForm,
    step_config_fields,
    trigger_config_fields,
)
from .admin_run_now import run_now_url, run_now_view
from .admin_status import STATUS_QUESTIONS, change_status, confirm_page, status_cell, toggle_view
from .admin_views import WorkflowPagesMixin
from .models import (
    EnrollJob,
    Enrollment,
    ScheduledAction,
    StepLog,
    Workflow,
    WorkflowStep,
    WorkflowVersion,
)
from .selectors import webhook_endpoint, workflows_with_stats
from .services import workflow_duplicate

SECRET_FIELD = "webhook_signing_secret"  # noqa: S105 - a field name


def config_lines(names: list[str]) -> list:
    """Fieldset lines for generated config fields: one per field, rule rows three abreast."""
    lines: list = []
    for name in names:
        if name.endswith("_match"):
            base = name.removesuffix("_match")
            lines.append(name)
            rows = range(1, RULE_ROWS + 1)
            lines += [(f"{base}_{i}_field", f"{base}_{i}_op", f"{base}_{i}_value") for i in rows]
        elif not any(name.startswith(f"{prefix}_") for prefix in _rule_bases(names)):
            lines.append(name)
    return lines


def _rule_bases(names: list[str]) -> list[str]:
    return [n.removesuffix("_match") for n in names if n.endswith("_match")]


class WorkflowStepInline(ScopedInlineMixin, StackedInline):
    model = WorkflowStep
    form = WorkflowStepForm
    extra = 0
    ordering_field = "order"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("order", "step_id", "type"),
                    "name",
                    ("delay", "next_step", "on_error"),
                    *config_lines(list(step_config_fields()[0])),
                ]
            },
        )
    ]


@admin.register(Workflow)
class WorkflowAdmin(WorkflowPagesMixin, TenantScopedAdmin):
    form = WorkflowForm
    change_form_template = "admin/workflows/workflow/change_form.html"
    # Labels above the fields: a step row holds three fields side by side (order, id, kind;
    # delay, next, on error), and unfold's label column (14 rem each) cut the third one off.
    compressed_fields = False

    class Media:
        js = ["studio/confirm.js"]  # the list's Disable toggle asks first

    list_display = [
        "name",
        "status_badge",
        "trigger_type",
        "published_number",
        "enrolled",
        "live",
        "completed",
        "failed",
        "success_rate",
        "last_run",
    ]
    list_filter = ["status", values_filter("trigger_type", "trigger")]
    search_fields = ["name", "description"]
    readonly_fields = [
        "status",
        "published_version",
        "published_at",
        "webhook_endpoint",
        "webhook_signing_secret",
    ]
    inlines = [WorkflowStepInline]
    fieldsets = [
        ("General", {"fields": ["tenant", "name", "description", "status"], "classes": ["tab"]}),
        (
            "Trigger",
            {
                "fields": [
                    "trigger_type",
                    *trigger_config_fields()[0],
                    *[
                        (f"filter_{i}_field", f"filter_{i}_op", f"filter_{i}_value")
                        for i in range(1, FILTER_ROWS + 1)
                    ],
                    FILTERS_RAW,
                ],
                "classes": ["tab"],
            },
        ),
        ("Settings", {"fields": ["settings"], "classes": ["tab"]}),
        (
            "Publishing",
            {
                "fields": [
                    "published_version",
                    "published_at",
                    "webhook_endpoint",
                    "webhook_signing_secret",
                ],
                "classes": ["tab"],
            },
        ),
    ]
    actions_list = ["import_workflow"]
    actions = [
        "publish_selected",
        "pause_selected",
        "resume_selected",
        "archive_selected",
        "duplicate_selected",
        "run_now_selected",
    ]
    actions_row = ["run_now_row", "test_row", "export_row"]
    actions_detail = ["publish_one", "pause_one", "resume_one", "archive_one", "restore_one"]

    def get_queryset(self, request):
        return workflows_with_stats(queryset=super().get_queryset(request))

    def get_urls(self):
        own = [
            path(
                "run-now/",
                self.admin_site.admin_view(lambda request: run_now_view(self, request)),
                name="workflows_workflow_run_now",
            ),
            path(
                "<path:object_id>/toggle/",
                self.admin_site.admin_view(
                    lambda request, object_id: toggle_view(self, request, object_id)
                ),
                name="workflows_workflow_toggle",
            ),
        ]
        return own + super().get_urls()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        workflow = self.get_object(request, object_id) if object_id else None
        extra_context = {**(extra_context or {}), **self.studio_context(request, workflow)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    @action(description="Import YAML / JSON", url_path="import-workflow")
    def import_workflow(self, request):
        return HttpResponseRedirect(reverse("admin:workflows_workflow_import"))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and has_role(request, obj.tenant_id, PUBLISH_ROLES):
            return fieldsets
        # The signing secret lets anyone enroll contacts: admins and owners only.
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != SECRET_FIELD]})
            for name, options in fieldsets
        ]

    @admin.display(description="Webhook URL")
    def webhook_endpoint(self, obj: Workflow) -> str:
        endpoint = webhook_endpoint(workflow=obj)
        state = (
            "accepting deliveries"
            if endpoint["accepting"]
            else "not accepting deliveries: that needs a published Webhook trigger, active"
        )
        return format_html("<code>POST {}</code> ({})", endpoint["path"], state)

    @admin.display(description="Webhook signing secret")
    def webhook_signing_secret(self, obj: Workflow) -> str:
        endpoint = webhook_endpoint(workflow=obj)
        return format_html(
            "<code>{}</code><br><small>{}; headers {}. Rotate it with "
            "<code>POST /api/workflows/{}/webhook/rotate-secret</code>.</small>",
            endpoint["secret"],
            endpoint["signing"],
            ", ".join(endpoint["headers"]),
            obj.pk,
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # A workflow stays in its tenant: moving it would strand its enrollments.
        return [*fields, "tenant"] if obj is not None else fields

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Workflow) -> str:
        return status_cell(obj)

    @admin.display(description="Version", ordering="published_version__number")
    def published_number(self, obj: Workflow) -> str:
        version = obj.published_version
        return f"v{version.number}" if version else "—"

    @admin.display(description="Enrolled", ordering="enrolled")
    def enrolled(self, obj: Workflow) -> int:
        return obj.enrolled

    @admin.display(description="Active", ordering="live")
    def live(self, obj: Workflow) -> int:
        return obj.live

    @admin.display(description="Completed", ordering="completed")
    def completed(self, obj: Workflow) -> int:
        return obj.completed

    @admin.display(description="Failed", ordering="failed")
    def failed(self, obj: Workflow) -> int:
        return obj.failed

    @admin.display(description="Success")
    def success_rate(self, obj: Workflow) -> str:
        finished = obj.completed + obj.exited + obj.failed
        if not finished:
            return "—"
        return f"{(obj.completed + obj.exited) / finished:.0%}"

    @admin.display(description="Last run", ordering="last_run")
    def last_run(self, obj: Workflow):
        return obj.last_run or "—"

    # Bulk actions on the list.
    @admin.action(description="Publish the drafts of the selected workflows")
    def publish_selected(self, request, queryset):
        change_status(self, request, queryset, "publish")

    @admin.action(description="Pause selected workflows")
    def pause_selected(self, request, queryset):
        change_status(self, request, queryset, "pause")

    @admin.action(description="Resume selected workflows")
    def resume_selected(self, request, queryset):
        change_status(self, request, queryset, "resume")

    @admin.action(description="Archive selected workflows")
    def archive_selected(self, request, queryset):
        change_status(self, request, queryset, "archive")

    @admin.action(description="Duplicate selected workflows (as drafts)")
    def duplicate_selected(self, request, queryset):
        if not has_role(request, None, EDIT_ROLES):
            self.message_user(request, "Duplicating needs the editor role.", messages.ERROR)
            return
        copies = [
            workflow_duplicate(workflow=w)
            for w in queryset
            if has_role(request, w.tenant_id, EDIT_ROLES)
        ]
        names = ", ".join(f"'{c}'" for c in copies)
        self.message_user(
            request, f"Created {count_of(len(copies), 'draft')}: {names}.", messages.SUCCESS
        )

    @admin.action(description="Run now (manual trigger with sample data)…")
    def run_now_selected(self, request, queryset):
        return HttpResponseRedirect(run_now_url(queryset.values_list("pk", flat=True)))

    @action(description="Run now", url_path="run-now-row")
    def run_now_row(self, request, object_id: str):
        return HttpResponseRedirect(run_now_url([object_id]))

    @action(description="Test", url_path="test-row")
    def test_row(self, request, object_id: str):
        return HttpResponseRedirect(reverse("admin:workflows_workflow_test", args=[object_id]))

    @action(description="Export YAML", url_path="export-row")
    def export_row(self, request, object_id: str):
        return HttpResponseRedirect(reverse("admin:workflows_workflow_export", args=[object_id]))

    # Buttons on the workflow page: only those that apply to its status (a draft is not
    # paused or resumed). Publishing stays offered on a live workflow: it publishes the draft's
    # changes as the next version.
    DETAIL_ACTIONS = {
        Workflow.Status.DRAFT: ("publish_one",),
        Workflow.Status.ACTIVE: ("publish_one", "pause_one", "archive_one"),
        Workflow.Status.PAUSED: ("publish_one", "resume_one", "archive_one"),
        Workflow.Status.ARCHIVED: ("restore_one",),
    }

    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        workflow = self.get_object(request, object_id) if object_id else None
        if workflow is None:
            return actions
        wanted = {
            f"workflows_workflow_{name}" for name in self.DETAIL_ACTIONS.get(workflow.status, ())
        }
        return [a for a in actions if a.action_name in wanted]

    def _one(self, request, object_id: str, name: str):
        """GET asks for confirmation (a link must never change state); POST does it."""
        workflow = self.get_object(request, object_id)
        if workflow is None:
            return HttpResponseRedirect(reverse("admin:workflows_workflow_changelist"))
        back = reverse("admin:workflows_workflow_change", args=[workflow.pk])
        if request.method != "POST":
            return confirm_page(
                self,
                request,
                title=f"{name.title()} '{workflow}'",
                back_url=back,
                question=STATUS_QUESTIONS[name].format(workflow=workflow),
                button=name.title(),
            )
        change_status(self, request, [workflow], name)
        return HttpResponseRedirect(back)

    @action(description="Publish", url_path="publish")
    def publish_one(self, request, object_id: str):
        return self._one(request, object_id, "publish")

    @action(description="Pause", url_path="pause")
    def pause_one(self, request, object_id: str):
        return self._one(request, object_id, "pause")

    @action(description="Resume", url_path="resume")
    def resume_one(self, request, object_id: str):
        return self._one(request, object_id, "resume")

    @action(description="Archive", url_path="archive")
    def archive_one(self, request, object_id: str):
        return self._one(request, object_id, "archive")

    @action(description="Restore", url_path="restore")
    def restore_one(self, request, object_id: str):
        return self._one(request, object_id, "restore")


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(ReadOnlyScopedAdmin):
    """Versions come only from publishing; they are immutable and live with their workflow."""

    tenant_lookup = "workflow__tenant"
    list_display = ["workflow", "number", "note", "created_by", "created_at"]
    list_filter = [("workflow", related_filter)]
    search_fields = ["workflow__name", "note"]
    readonly_fields = ["workflow", "number", "note", "definition", "checksum", "created_by"]
    fields = readonly_fields


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyScopedAdmin):
    change_form_template = "admin/workflows/enrollment/change_form.html"
    list_display = [
        "contact",
        "workflow",
        "version",
        "status",
        "current_step",
        "enrolled_at",
        "ended_at",
        "exit_reason",
    ]

    list_filter = [
        "status",
        ("workflow", related_filter),
        ("version", related_filter),
        values_filter("current_step", "current step"),
        "enrolled_at",
    ]
    list_select_related = ["contact", "workflow", "version__workflow"]
    date_hierarchy = "enrolled_at"
    search_fields = [
        "contact__email",
        "contact__first_name",
        "contact__last_name",
        "contact__phone",
        "workflow__name",
        "exit_reason",
    ]

    def get_urls(self):
        site = self.admin_site
        own = [
            path(
                "<path:object_id>/exit/",
                site.admin_view(lambda request, object_id: exit_view(self, request, object_id)),
                name="workflows_enrollment_exit",
            ),
            path(
                "<path:object_id>/skip-wait/",
                site.admin_view(
                    lambda request, object_id: skip_wait_view(self, request, object_id)
                ),
                name="workflows_enrollment_skip_wait",
            ),
            path(
                "<path:object_id>/retry/",
                site.admin_view(lambda request, object_id: retry_view(self, request, object_id)),
                name="workflows_enrollment_retry",
            ),
        ]
        return own + super().get_urls()

    # completed_at is when the enrollment ended, however it ended (failed and exited too).
    @admin.display(description="Ended at", ordering="completed_at")
    def ended_at(self, obj: Enrollment):
        return obj.completed_at

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return ["ended_at" if name == "completed_at" else name for name in fields]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "ended_at"]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        enrollment = self.get_object(request, object_id) if object_id else None
        if enrollment is not None:
            extra_context = {**(extra_context or {}), **detail_context(enrollment)}
        return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(StepLog)
class StepLogAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "started_at",
        "step_id",
        "step_type",
        "status",
        "workflow",
        "enrollment_link",
        "attempt",
        "duration",
        "token_usage",
        "cost",
    ]
    list_filter = [
        "status",
        ("workflow", related_filter),
        values_filter("step_type", "step kind"),
        values_filter("step_id", "step"),
        "possible_duplicate",
        "started_at",
    ]
    list_select_related = ["workflow", "enrollment__contact"]
    date_hierarchy = "started_at"
    search_fields = [
        "step_id",
        "error_message",
        "enrollment__contact__email",
        "enrollment__contact__first_name",
        "enrollment__contact__last_name",
    ]

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, obj: StepLog) -> str:
        return human_duration(obj.duration_ms) or "—"

    @admin.display(description="Enrollment")
    def enrollment_link(self, obj: StepLog):
        if obj.enrollment_id is None:
            return "—"
        url = reverse("admin:workflows_enrollment_change", args=[obj.enrollment_id])
        return format_html('<a href="{}">{}</a>', url, obj.enrollment.contact)


@admin.register(ScheduledAction)
class ScheduledActionAdmin(ReadOnlyScopedAdmin):
    list_display = ["enrollment", "step_id", "kind", "due_at", "status", "attempts"]
    list_filter = ["status", "kind"]
    list_select_related = ["enrollment__contact", "enrollment__workflow"]


@admin.register(EnrollJob)
class EnrollJobAdmin(ReadOnlyScopedAdmin):
    """Background enrollments (large bulk selections) and how far they got."""

    list_display = ["created_at", "workflow", "status", "progress", "enrolled", "requested_by"]
    list_filter = ["status", ("workflow", related_filter)]
    readonly_fields = ["workflow", "status", "progress", "enrolled", "error", "finished_at"]
    fields = readonly_fields

    @admin.display(description="Progress")
    def progress(self, obj: EnrollJob) -> str:
        if not obj.total:
            return f"{obj.processed} processed"
        return f"{obj.processed} of {obj.total} ({obj.processed / obj.total:.0%})"
