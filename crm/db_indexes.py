"""Dropping a ForeignKey's own index in a migration without touching its constraint.

Django's ``AlterField`` to ``db_index=False`` drops the foreign key constraint, drops the index
and adds the constraint back, which re-checks every row of the table under a lock: minutes on a
large step-log table. The index alone is what goes, so the migrations that drop redundant
indexes (tests/test_redundant_indexes.py) change the model state with ``AlterField`` and the
database with :func:`field_index_drop`: ``DROP INDEX`` of the index Django made for the column
and nothing else (PostgreSQL and SQLite). Used by migrations: change only by adding.
"""

from __future__ import annotations

from django.db import migrations
from django.db.models import Index


def _single_column_indexes(schema_editor, model, column: str) -> list[str]:
    """Names of the plain indexes on exactly ``column`` that the model's Meta did not declare
    (the one Django makes for a ForeignKey with ``db_index=True``)."""
    declared = {index.name for index in model._meta.indexes}
    return schema_editor._constraint_names(
        model, [column], index=True, type_=Index.suffix, exclude=declared
    )


def field_index_drop(
    app_label: str, alter_fields: list[migrations.AlterField]
) -> migrations.SeparateDatabaseAndState:
    """``alter_fields`` (``AlterField``s to ``db_index=False``) for the model state; for the
    database, ``DROP INDEX`` of each altered field's own index, and ``CREATE INDEX`` of it back
    when the migration is reversed."""
    fields = [(operation.model_name, operation.name) for operation in alter_fields]

    def forward(apps, schema_editor) -> None:
        for model_name, field_name in fields:
            model = apps.get_model(app_label, model_name)
            column = model._meta.get_field(field_name).column
            for name in _single_column_indexes(schema_editor, model, column):
                schema_editor.execute(schema_editor._delete_index_sql(model, name))

    def backward(apps, schema_editor) -> None:
        for model_name, field_name in fields:
            model = apps.get_model(app_label, model_name)
            field = model._meta.get_field(field_name)
            if not _single_column_indexes(schema_editor, model, field.column):
                schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))

    return migrations.SeparateDatabaseAndState(
        state_operations=alter_fields,
        database_operations=[migrations.RunPython(forward, backward)],
    )
