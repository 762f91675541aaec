from django.conf import settings
from django.db import migrations, models


def number_enrollments(apps, schema_editor):
    # Rows from before: number each contact's enrollments of a workflow in enrolment order.
    # A later row without re-enrollment could only exist through the old per-version check;
    # it is kept, marked re-enrollable, since it really was a re-enrollment.
    Enrollment = apps.get_model("workflows", "Enrollment")
    seen: dict[tuple[int, int], int] = {}
    rows = Enrollment.objects.order_by("enrolled_at", "pk").values_list(
        "pk", "workflow_id", "contact_id", "reenrollable"
    )
    for pk, workflow_id, contact_id, reenrollable in rows.iterator():
        key = (workflow_id, contact_id)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            Enrollment.objects.filter(pk=pk).update(sequence=seen[key], reenrollable=True)


class Migration(migrations.Migration):

    dependencies = [
        ('workflows', '0005_held_actions'),
        migrations.swappable_dependency(settings.STUDIO_CONTACT_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='enrollment',
            name='enrollment_once_per_contact',
        ),
        # ADD COLUMN with a default, written out: on SQLite Django would rebuild the table,
        # which drops the same-tenant triggers other migrations put on it.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name='enrollment',
                    name='sequence',
                    field=models.PositiveIntegerField(default=1),
                ),
                migrations.AddField(
                    model_name='enrollment',
                    name='held',
                    field=models.BooleanField(default=False),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'ALTER TABLE workflows_enrollment ADD COLUMN "sequence" integer NOT NULL DEFAULT 1',
                    'ALTER TABLE workflows_enrollment DROP COLUMN "sequence"',
                ),
                migrations.RunSQL(
                    'ALTER TABLE workflows_enrollment ADD COLUMN "held" boolean NOT NULL DEFAULT false',
                    'ALTER TABLE workflows_enrollment DROP COLUMN "held"',
                ),
            ],
        ),
        migrations.RunPython(number_enrollments, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='enrollment',
            constraint=models.UniqueConstraint(condition=models.Q(('reenrollable', False), ('sequence', 1), _connector='OR'), fields=('workflow', 'contact'), name='enrollment_once_is_first'),
        ),
    ]
