"""Each of a contact's enrollments in a workflow gets its own ``sequence``.

Two re-enrollments that raced could share a number (the second computed it before the first
committed). Such pairs are renumbered first — every enrollment of that contact in that
workflow, in the order they were made (``enrolled_at``, then id) — and then the unique
constraint takes over from the plain index on the same columns.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count

# Above any real sequence: the first pass parks each row here so that the second never
# meets a number still held by another row of the group (sequence 1 is also unique per
# workflow and contact: enrollment_once_is_first).
PARKED = 1_000_000


def renumber_shared_sequences(apps, schema_editor):
    Enrollment = apps.get_model("workflows", "Enrollment")
    shared = {
        (workflow_id, contact_id)
        for workflow_id, contact_id, _sequence in Enrollment.objects.values(
            "workflow_id", "contact_id", "sequence"
        )
        .annotate(rows=Count("id"))
        .filter(rows__gt=1)
        .values_list("workflow_id", "contact_id", "sequence")
    }
    for workflow_id, contact_id in sorted(shared):
        group = Enrollment.objects.filter(workflow_id=workflow_id, contact_id=contact_id)
        ids = list(group.order_by("enrolled_at", "id").values_list("id", flat=True))
        for number, pk in enumerate(ids, start=1):
            Enrollment.objects.filter(pk=pk).update(sequence=PARKED + number)
        for number, pk in enumerate(ids, start=1):
            Enrollment.objects.filter(pk=pk).update(sequence=number)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_no_redundant_fk_indexes"),
        ("workflows", "0012_enrollment_contact_workflow_index"),
        migrations.swappable_dependency(settings.STUDIO_CONTACT_MODEL),
    ]

    operations = [
        migrations.RunPython(renumber_shared_sequences, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="enrollment",
            constraint=models.UniqueConstraint(
                fields=("contact", "workflow", "sequence"), name="enrollment_sequence_unique"
            ),
        ),
        migrations.RemoveIndex(
            model_name="enrollment",
            name="enrollment_contact_workflow",
        ),
    ]
