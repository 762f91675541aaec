from django.contrib import admin

from crm.admin_scoping import TenantScopedAdmin

from .models import Enrollment, ScheduledAction, StepLog, Workflow, WorkflowStep, WorkflowVersion


class WorkflowStepInline(admin.StackedInline):
    model = WorkflowStep
    extra = 0
    fields = [("order", "step_id", "type"), "name", "config", ("delay", "next_step", "on_error")]


@admin.register(Workflow)
class WorkflowAdmin(TenantScopedAdmin):
    list_display = ["name", "status", "trigger_type", "published_version", "tenant", "updated_at"]
    list_filter = ["status", "trigger_type"]
    search_fields = ["name", "description"]
    readonly_fields = ["published_version", "published_at", "webhook_token"]
    inlines = [WorkflowStepInline]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "description", "status"]}),
        ("Trigger", {"fields": ["trigger_type", "trigger_config", "trigger_filters"]}),
        ("Settings", {"fields": ["settings"]}),
        ("Publishing", {"fields": ["published_version", "published_at", "webhook_token"]}),
    ]


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(TenantScopedAdmin):
    tenant_lookup = "workflow__tenant"
    list_display = ["workflow", "number", "checksum", "created_at"]
    search_fields = ["workflow__name"]
    readonly_fields = ["workflow", "number", "definition", "checksum", "created_by", "created_at"]

    def has_change_permission(self, request, obj=None):
        # Published versions are immutable.
        return False

    def has_delete_permission(self, request, obj=None):
        # Enrollments pin their version; it lives as long as the workflow.
        return False


@admin.register(Enrollment)
class EnrollmentAdmin(TenantScopedAdmin):
    list_display = ["contact", "workflow", "status", "current_step", "enrolled_at", "completed_at"]
    list_filter = ["status"]
    search_fields = ["contact__email", "workflow__name", "exit_reason"]
    raw_id_fields = ["contact", "workflow", "version"]


@admin.register(StepLog)
class StepLogAdmin(TenantScopedAdmin):
    list_display = [
        "step_id",
        "step_type",
        "status",
        "enrollment",
        "duration_ms",
        "cost",
        "started_at",
    ]
    list_filter = ["status", "step_type"]
    search_fields = ["step_id", "error_message"]
    raw_id_fields = ["enrollment", "workflow", "version", "prompt", "parent"]


@admin.register(ScheduledAction)
class ScheduledActionAdmin(TenantScopedAdmin):
    list_display = ["enrollment", "step_id", "kind", "due_at", "status", "attempts"]
    list_filter = ["status", "kind"]
    raw_id_fields = ["enrollment"]
