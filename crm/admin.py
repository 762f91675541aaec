from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from workflows.models import Enrollment

from .admin_actions import enroll_in_workflow
from .admin_members import MembershipForm, MembershipFormSet
from .admin_scoping import PUBLISH_ROLES, ScopedInlineMixin, TenantScopedAdmin, has_role
from .models import (
    Booking,
    Call,
    Contact,
    ContactTag,
    EmailTemplate,
    Message,
    Tag,
    Task,
    Tenant,
    TenantMembership,
    VoicemailDrop,
)

# Users and groups in the studio's theme (superusers manage them; staff have no auth perms).
admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


class MembershipInline(TabularInline):
    """Members and their roles; writes go through crm.services (see crm.admin_members)."""

    model = TenantMembership
    form = MembershipForm
    formset = MembershipFormSet
    extra = 0
    autocomplete_fields = ["user"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.actor = request.user
        return formset


@admin.register(Tenant)
class TenantAdmin(ModelAdmin):
    list_display = ["name", "slug", "timezone", "ai_monthly_cost_cap", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(memberships__user=request.user)

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        # Only the tenant's owners and admins change its settings and members.
        allowed = super().has_change_permission(request, obj)
        return allowed and has_role(request, None if obj is None else obj.pk, PUBLISH_ROLES)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(Tag)
class TagAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "created_at"]
    search_fields = ["name"]


class ContactTagInline(ScopedInlineMixin, TabularInline):
    model = ContactTag
    extra = 0
    autocomplete_fields = ["tag"]


class ReadOnlyInline(TabularInline):
    """Rows the contact page shows but never edits (they come from the CRM or the engine)."""

    extra = 0
    max_num = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ContactEnrollmentInline(ReadOnlyInline):
    model = Enrollment
    fk_name = "contact"
    verbose_name_plural = "Enrollments"
    fields = ["workflow", "version", "status", "current_step", "enrolled_at", "exit_reason"]
    readonly_fields = fields
    ordering = ["-enrolled_at"]


class ContactMessageInline(ReadOnlyInline):
    model = Message
    verbose_name_plural = "Messages"
    fields = ["created_at", "channel", "direction", "status", "subject", "body"]
    readonly_fields = fields
    ordering = ["-created_at"]


@admin.register(Contact)
class ContactAdmin(TenantScopedAdmin):
    list_display = ["__str__", "email", "phone", "stage", "source", "tenant", "created_at"]
    list_filter = ["stage", "source", "email_opt_out", "sms_opt_out", "whatsapp_opt_out"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    inlines = [ContactTagInline, ContactEnrollmentInline, ContactMessageInline]
    actions = [enroll_in_workflow]
    fieldsets = [
        (None, {"fields": ["tenant", ("first_name", "last_name"), ("email", "phone")]}),
        ("CRM", {"fields": ["stage", "source", "timezone", "custom_fields"]}),
        (
            "Opt-outs",
            {"fields": [("email_opt_out", "sms_opt_out", "whatsapp_opt_out", "voice_opt_out")]},
        ),
    ]


@admin.register(Message)
class MessageAdmin(TenantScopedAdmin):
    list_display = ["contact", "channel", "direction", "status", "intent", "created_at"]
    list_filter = ["channel", "direction", "status"]
    search_fields = ["body", "contact__email", "contact__phone", "external_id"]
    raw_id_fields = ["contact"]


@admin.register(Call)
class CallAdmin(TenantScopedAdmin):
    list_display = ["contact", "direction", "status", "duration_seconds", "created_at"]
    list_filter = ["direction", "status"]
    search_fields = ["contact__email", "contact__phone", "from_number", "to_number"]
    raw_id_fields = ["contact"]


@admin.register(Booking)
class BookingAdmin(TenantScopedAdmin):
    list_display = ["title", "contact", "starts_at", "status"]
    list_filter = ["status"]
    search_fields = ["title", "contact__email"]
    raw_id_fields = ["contact"]


@admin.register(Task)
class TaskAdmin(TenantScopedAdmin):
    list_display = ["title", "contact", "due_at", "status"]
    list_filter = ["status"]
    search_fields = ["title", "notes", "contact__email"]
    raw_id_fields = ["contact"]


@admin.register(EmailTemplate)
class EmailTemplateAdmin(TenantScopedAdmin):
    list_display = ["name", "slug", "subject", "tenant", "updated_at"]
    search_fields = ["name", "slug", "subject"]


@admin.register(VoicemailDrop)
class VoicemailDropAdmin(TenantScopedAdmin):
    list_display = ["name", "slug", "tenant", "updated_at"]
    search_fields = ["name", "slug", "transcript"]
