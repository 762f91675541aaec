"""Drop the ForeignKey indexes that a composite index already serves (crm.db_indexes)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from crm.db_indexes import field_index_drop


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_phone_e164"),
    ]

    operations = [
        field_index_drop(
            "crm",
            [
                migrations.AlterField(
                    model_name="contact",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contacts",
                        to="crm.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="contacttag",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to=settings.STUDIO_CONTACT_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="emailtemplate",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="email_templates",
                        to="crm.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to=settings.STUDIO_CONTACT_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="tag",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tags",
                        to="crm.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="tenantmembership",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="crm.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="voicemaildrop",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="voicemail_drops",
                        to="crm.tenant",
                    ),
                ),
            ],
        )
    ]
