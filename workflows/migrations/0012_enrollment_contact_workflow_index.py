"""The contact's enrollments indexed by (contact, workflow, sequence), not (contact, status).

The new index leads with the contact as the old one did (the contact's enrollments, its
foreign key) and also serves the next ``sequence`` of a contact in a workflow, which the old
one could only serve AND-ed with (workflow, status): every enrollment of the workflow read
per new enrollment. The contact's few enrollments are filtered by status as cheaply.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("workflows", "0011_steplog_partial_fk_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="enrollment",
            index=models.Index(
                fields=["contact", "workflow", "sequence"], name="enrollment_contact_workflow"
            ),
        ),
        migrations.RemoveIndex(model_name="enrollment", name="enrollment_contact_status"),
    ]
