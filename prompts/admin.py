from django.contrib import admin

from crm.admin_scoping import TenantScopedAdmin

from .models import Prompt


@admin.register(Prompt)
class PromptAdmin(TenantScopedAdmin):
    list_display = ["name", "version", "category", "status", "model_name", "tenant", "updated_at"]
    list_filter = ["status", "category", "model_name"]
    search_fields = ["name", "category", "system_prompt_text"]
    fieldsets = [
        (None, {"fields": ["tenant", ("name", "version"), "category", "status"]}),
        ("Prompt", {"fields": ["system_prompt_text", "user_prompt_text", "template_variables"]}),
        ("Model", {"fields": [("provider", "model_name"), "generation_config"]}),
    ]
