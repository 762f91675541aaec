"""Drop the ForeignKey indexes that a composite index already serves (crm.db_indexes)."""

import django.db.models.deletion
from django.db import migrations, models

from crm.db_indexes import field_index_drop


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_no_redundant_fk_indexes"),
        ("prompts", "0002_ai_budget"),
    ]

    operations = [
        field_index_drop(
            "prompts",
            [
                migrations.AlterField(
                    model_name="aibudget",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ai_budgets",
                        to="crm.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="prompt",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="prompts",
                        to="crm.tenant",
                    ),
                ),
            ],
        )
    ]
