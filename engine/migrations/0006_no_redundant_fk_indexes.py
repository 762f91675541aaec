"""Drop the ForeignKey indexes that a composite index already serves (crm.db_indexes)."""

import django.db.models.deletion
from django.db import migrations, models

from crm.db_indexes import field_index_drop


class Migration(migrations.Migration):
    dependencies = [
        ("engine", "0005_webhook_delivery_outcome"),
        ("workflows", "0010_no_redundant_fk_indexes"),
    ]

    operations = [
        field_index_drop(
            "engine",
            [
                migrations.AlterField(
                    model_name="webhookdelivery",
                    name="workflow",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhook_deliveries",
                        to="workflows.workflow",
                    ),
                ),
            ],
        )
    ]
