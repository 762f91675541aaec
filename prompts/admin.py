"""The prompt library in the admin: versions (an edit saves a new one), status actions, "Try it"."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from crm.admin_scoping import TenantScopedAdmin
from crm.admin_style import UnfoldStyled, count_of
from crm.text import LineEndingsForm
from prompts.selectors import month_cost, prompt_diff, prompt_versions
from prompts.services import (
    EDITABLE_FIELDS,
    PromptInvalid,
    prompt_activate,
    prompt_archive,
    prompt_check_variables,
    prompt_ignores_user_input,
    prompt_new_version,
    prompt_sample_variables,
    prompt_save_as_next_version,
    prompt_try,
    prompt_untrusted_references,
    prompt_validate,
)

from .models import Prompt


class PromptForm(LineEndingsForm, UnfoldStyled, forms.ModelForm):
    class Meta:
        model = Prompt
        fields = [
            "tenant",
            "name",
            "category",
            "status",
            "system_prompt_text",
            "user_prompt_text",
            "template_variables",
            "provider",
            "model_name",
            "generation_config",
        ]

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            prompt_validate(self.instance)
        except PromptInvalid as exc:
            self.add_error(None, str(exc))


class TryPromptForm(LineEndingsForm, UnfoldStyled, forms.Form):
    variables = forms.JSONField(
        initial=dict,
        required=False,
        help_text='Sample variables as JSON, e.g. {"contact": {"first_name": "Ann"}}',
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
    )
    user_input = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="The user message: {{ input }} in the prompt, or sent as is",
    )

    def clean_variables(self) -> dict:
        value = self.cleaned_data.get("variables") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError("Variables must be a JSON object of name → value.")
        return value


@admin.register(Prompt)
class PromptAdmin(TenantScopedAdmin):
    form = PromptForm
    change_form_template = "admin/prompts/prompt/change_form.html"
    list_display = [
        "name",
        "version",
        "category",
        "status",
        "model_name",
        "tenant",
        "updated_at",
        "try_it",
    ]
    list_filter = ["status", "category", "model_name"]
    search_fields = ["name", "category", "system_prompt_text"]
    readonly_fields = ["version", "undocumented_variables", "contact_text_in_instruction"]
    fieldsets = [
        (None, {"fields": ["tenant", ("name", "version"), "category", "status"]}),
        (
            "Prompt",
            {
                "fields": [
                    "system_prompt_text",
                    "user_prompt_text",
                    "template_variables",
                    "undocumented_variables",
                    "contact_text_in_instruction",
                ]
            },
        ),
        ("Model", {"fields": [("provider", "model_name"), "generation_config"]}),
    ]
    actions = ["new_version", "activate", "archive"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # A version belongs to its name and tenant for good; an edit makes the next version.
        return [*fields, "tenant", "name"] if obj is not None else fields

    @admin.display(description="Used but not documented")
    def undocumented_variables(self, obj: Prompt) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return ", ".join(prompt_check_variables(obj)) or "none"

    @admin.display(description="Contact text in the system text (sent in the user turn)")
    def contact_text_in_instruction(self, obj: Prompt) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return ", ".join(prompt_untrusted_references(obj)) or "none"

    @admin.display(description="Try it")
    def try_it(self, obj: Prompt) -> str:
        return format_html(
            '<a href="{}">Try it</a>', reverse("admin:prompts_prompt_try", args=[obj.pk])
        )

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser and obj.tenant_id not in self._tenant_ids(request):
            raise PermissionDenied("You are not a member of this tenant.")
        if not change:
            prompt_save_as_next_version(prompt=obj)
            return
        original = Prompt.objects.get(pk=obj.pk)
        # Compare values, not form.changed_data: JSON fields report reformatted text as a change.
        changed = sorted(f for f in EDITABLE_FIELDS if getattr(obj, f) != getattr(original, f))
        if changed:
            status = obj.status if obj.status != original.status else Prompt.Status.DRAFT
            new = prompt_new_version(
                prompt=original, status=status, **{name: getattr(obj, name) for name in changed}
            )
            # The admin then shows and redirects to the new version; the old row is untouched.
            obj.pk, obj.version, obj.status = new.pk, new.version, new.status
            self.message_user(
                request,
                f"Saved as {new} ({new.get_status_display().lower()}); {original} is unchanged.",
                messages.INFO,
            )
        else:
            obj.save()

    def response_change(self, request, obj):
        # An edit saved a new version (obj.pk now points at it): "Save and continue" must open
        # the new version, not reload the old URL and show the previous one.
        if "_continue" in request.POST:
            return HttpResponseRedirect(reverse("admin:prompts_prompt_change", args=[obj.pk]))
        return super().response_change(request, obj)

    @admin.action(description="New version (a draft copy)")
    def new_version(self, request, queryset):
        created = [prompt_new_version(prompt=prompt) for prompt in queryset]
        names = ", ".join(str(prompt) for prompt in created)
        self.message_user(request, f"Created {count_of(len(created), 'draft version')}: {names}.")

    @admin.action(description="Activate")
    def activate(self, request, queryset):
        for prompt in queryset:
            prompt_activate(prompt=prompt)
        self.message_user(request, f"Activated {count_of(queryset.count(), 'prompt version')}.")

    @admin.action(description="Archive")
    def archive(self, request, queryset):
        for prompt in queryset:
            prompt_archive(prompt=prompt)
        self.message_user(request, f"Archived {count_of(queryset.count(), 'prompt version')}.")

    def get_urls(self):
        view = self.admin_site.admin_view(self.try_view)
        versions = self.admin_site.admin_view(self.versions_view)
        return [
            path("<path:object_id>/try/", view, name="prompts_prompt_try"),
            path("<path:object_id>/versions/", versions, name="prompts_prompt_versions"),
            *super().get_urls(),
        ]

    def versions_view(self, request, object_id: str):
        """Every version of this prompt; two chosen ones side by side with their differences."""
        prompt = self.get_object(request, object_id)
        if prompt is None:
            raise Http404(f"no prompt with id {object_id!r}")
        versions = list(prompt_versions(prompt=prompt))
        by_number = {str(v.version): v for v in versions}
        older = versions[1] if len(versions) > 1 else prompt
        old = by_number.get(request.GET.get("old", ""), older)
        new = by_number.get(request.GET.get("new", ""), versions[0])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": prompt,
            "title": f"Versions of {prompt.name}",
            "versions": versions,
            "old": old,
            "new": new,
            "rows": prompt_diff(old=old, new=new),
        }
        return TemplateResponse(request, "admin/prompts/prompt/versions.html", context)

    def try_view(self, request, object_id: str):
        """A thin view over prompt_try: sample variables and input in, output and cost out."""
        prompt = self.get_object(request, object_id)
        if prompt is None:
            raise Http404(f"no prompt with id {object_id!r}")
        if not self.has_change_permission(request, prompt):
            raise PermissionDenied("Trying a prompt costs money: it needs change permission.")
        log = None
        if request.method == "POST":
            form = TryPromptForm(request.POST)
            if form.is_valid():
                if form.cleaned_data["user_input"] and prompt_ignores_user_input(prompt=prompt):
                    messages.warning(
                        request,
                        "This prompt's user template does not use {{ input }}, so the user "
                        "input you typed was not sent; put the values in the variables instead.",
                    )
                log = prompt_try(
                    prompt=prompt,
                    variables=form.cleaned_data["variables"],
                    user_input=form.cleaned_data["user_input"],
                    user=request.user,
                )
        else:
            form = TryPromptForm(initial={"variables": prompt_sample_variables(prompt=prompt)})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": prompt,
            "title": f"Try {prompt}",
            "form": form,
            "log": log,
            "parsed_json": json.dumps(log.parsed_output, indent=2, ensure_ascii=False)
            if log is not None
            else "",
            "month_cost": month_cost(tenant=prompt.tenant),
            "cost_cap": prompt.tenant.ai_monthly_cost_cap,
        }
        return TemplateResponse(request, "admin/prompts/prompt/try_it.html", context)
