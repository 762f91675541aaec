"""Journal every side effect recorded before the attempt journal existed.

``perform_once`` skips the SideEffect lookup for a key that was never journalled (every row
written since 0003 is journalled first), so older rows get their journal entry here.
PostgreSQL only, like the journal itself (on SQLite the lookup always runs).
"""

from django.db import migrations


def journal_existing(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    attempt = apps.get_model("engine", "SideEffectAttempt")._meta.db_table
    effect = apps.get_model("workflows", "SideEffect")._meta.db_table
    schema_editor.execute(
        f"INSERT INTO {attempt} (key, started_at) "  # noqa: S608 - table names from the models
        f"SELECT key, created_at FROM {effect} ON CONFLICT (key) DO NOTHING"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("engine", "0003_possible_duplicate"),
        ("workflows", "0007_possible_duplicate"),
    ]

    operations = [migrations.RunPython(journal_existing, migrations.RunPython.noop)]
