"""StepLog.prompt and .parent, set on few rows, indexed only where set (crm.db_indexes)."""

import django.db.models.deletion
from django.db import migrations, models

from crm.db_indexes import field_index_drop


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_no_redundant_fk_indexes"),
        ("prompts", "0003_no_redundant_fk_indexes"),
        ("workflows", "0010_no_redundant_fk_indexes"),
    ]

    operations = [
        field_index_drop(
            "workflows",
            [
                migrations.AlterField(
                    model_name="steplog",
                    name="parent",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="children",
                        to="workflows.steplog",
                    ),
                ),
                migrations.AlterField(
                    model_name="steplog",
                    name="prompt",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="logs",
                        to="prompts.prompt",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="steplog",
            index=models.Index(
                condition=models.Q(("prompt__isnull", False)),
                fields=["prompt"],
                name="steplog_prompt",
            ),
        ),
        migrations.AddIndex(
            model_name="steplog",
            index=models.Index(
                condition=models.Q(("parent__isnull", False)),
                fields=["parent"],
                name="steplog_parent",
            ),
        ),
    ]
