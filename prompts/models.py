"""The prompt library: versioned prompts that staff edit and workflows call by name."""

from __future__ import annotations

from django.db import models

# ``db_index=False`` on a ForeignKey: its column leads one of the model's composite indexes or
# unique rules, which serves lookups by it as well; an index of its own would only cost every
# INSERT a write (tests/test_redundant_indexes.py finds any that come back).

DEFAULT_MODEL = "gemini-2.5-flash"


class Prompt(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    class Provider(models.TextChoices):
        DEFAULT = "", "Default (Gemini, or offline without a key)"
        GEMINI = "gemini", "Gemini"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible (OpenRouter …)"
        OFFLINE = "offline", "Offline (no network)"

    tenant = models.ForeignKey(
        "crm.Tenant", db_index=False, on_delete=models.CASCADE, related_name="prompts"
    )
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True)
    version = models.PositiveIntegerField(default=1)
    system_prompt_text = models.TextField(help_text="A template: {{contact.first_name}} works")
    user_prompt_text = models.TextField(
        blank=True, help_text="Optional user message template; defaults to the step's input"
    )
    model_name = models.CharField(max_length=100, default=DEFAULT_MODEL)
    provider = models.CharField(
        max_length=30, choices=Provider.choices, default=Provider.DEFAULT, blank=True
    )
    generation_config = models.JSONField(
        default=dict,
        blank=True,
        help_text="temperature, max_output_tokens, top_p, json_output, response_schema",
    )
    template_variables = models.JSONField(
        default=list, blank=True, help_text="The variables the prompt expects, documented"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name", "version"], name="prompt_unique_name_version"
            )
        ]
        indexes = [models.Index(fields=["tenant", "name", "status"], name="prompt_lookup")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class AiBudget(models.Model):
    """A tenant's AI spend in one of its calendar months: the hard cost cap's ledger row.

    Every paid call first reserves its most possible cost here under a row lock
    (``prompts.budget``) and settles the real cost after, so concurrent calls cannot all slip
    under the cap at once. ``spent`` starts from the month's StepLogs when the row is created.
    """

    tenant = models.ForeignKey(
        "crm.Tenant", db_index=False, on_delete=models.CASCADE, related_name="ai_budgets"
    )
    month = models.DateField(help_text="First day of the month, in the tenant's time zone")
    spent = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    reserved = models.DecimalField(
        max_digits=14, decimal_places=6, default=0, help_text="Held by calls in flight (USD)"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="ai_budget_unique_month")
        ]

    def __str__(self) -> str:
        return f"AI budget {self.month:%Y-%m}"
