"""API tokens in the admin: make one (its key is shown once), see use, revoke.

Minimal on purpose; the studio's styling may wrap it later.
"""

from __future__ import annotations

from django.contrib import admin, messages
from unfold.admin import ModelAdmin

from crm.admin_style import count_of

from .models import ApiToken
from .services import api_token_assign_key, api_token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "expires_at", "last_used_at", "state")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    # Revoking is the "Revoke" action (it also stamps the time); never a hand-edited date.
    readonly_fields = ("revoked_at", "prefix", "created_at", "last_used_at")
    fields = ("user", "name", "expires_at", "revoked_at", "prefix", "created_at", "last_used_at")
    actions = ["revoke"]

    @admin.display(description="state")
    def state(self, obj: ApiToken) -> str:
        if obj.revoked_at:
            return "revoked"
        return "usable" if obj.is_usable else "expired"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user")
        # Staff see their own tokens; superusers everyone's.
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def get_changeform_initial_data(self, request):
        return {"user": request.user.pk}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and not request.user.is_superuser:
            field.queryset = field.queryset.filter(pk=request.user.pk)
        return field

    def save_model(self, request, obj, form, change):
        if not change:
            key = api_token_assign_key(token=obj)
            super().save_model(request, obj, form, change)
            self.message_user(
                request,
                f"API token '{obj.name}' made. Copy its key now, it is not shown again: {key}",
                messages.WARNING,
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(
            request, f"{count_of(queryset.count(), 'token')} revoked.", messages.SUCCESS
        )
