"""Drop the ForeignKey indexes that a composite index already serves (crm.db_indexes)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from crm.db_indexes import field_index_drop


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_no_redundant_fk_indexes"),
        ("workflows", "0009_steplog_cancelled"),
        migrations.swappable_dependency(settings.STUDIO_CONTACT_MODEL),
    ]

    operations = [
        field_index_drop(
            "workflows",
            [
                migrations.AlterField(
                    model_name="enrollment",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="enrollments",
                        to=settings.STUDIO_CONTACT_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="enrollment",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="enrollments",
                        to="crm.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="enrollment",
                    name="workflow",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="enrollments",
                        to="workflows.workflow",
                    ),
                ),
                migrations.AlterField(
                    model_name="scheduledaction",
                    name="enrollment",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scheduled_actions",
                        to="workflows.enrollment",
                    ),
                ),
                migrations.AlterField(
                    model_name="steplog",
                    name="enrollment",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="logs",
                        to="workflows.enrollment",
                    ),
                ),
                migrations.AlterField(
                    model_name="steplog",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="step_logs",
                        to="crm.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="steplog",
                    name="workflow",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="logs",
                        to="workflows.workflow",
                    ),
                ),
                migrations.AlterField(
                    model_name="workflow",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="workflows",
                        to="crm.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="workflowstep",
                    name="workflow",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="steps",
                        to="workflows.workflow",
                    ),
                ),
                migrations.AlterField(
                    model_name="workflowversion",
                    name="workflow",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="versions",
                        to="workflows.workflow",
                    ),
                ),
            ],
        )
    ]
