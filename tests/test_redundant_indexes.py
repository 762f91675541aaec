"""No index our models declare is the leading part of another one.

Every index is written on every INSERT (and on every UPDATE that cannot stay on its page), and
the engine writes an enrollment, its step logs, tag links and webhook deliveries on every
journey: an index that a composite one already serves (``(enrollment_id)`` beside
``(enrollment_id, started_at)``) only costs writes. Django gives each ForeignKey an index of its
own unless told ``db_index=False``; these tests find every such duplicate, in the models and in
the database the migrations build.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection, models

OUR_APPS = ("crm", "engine", "prompts", "workflows", "studio", "api")


def _plain_column_lists(model: type[models.Model]) -> list[tuple[str, tuple[str, ...]]]:
    """(name, columns) of every index and unique rule on ``model`` that covers all its rows and
    only plain columns: such an index serves a lookup on any leading part of its columns."""
    meta = model._meta
    found: list[tuple[str, tuple[str, ...]]] = []
    for index in meta.indexes:
        if index.fields and not index.condition and not index.expressions:
            names = [name.lstrip("-") for name in index.fields]
            found.append((index.name, tuple(meta.get_field(n).column for n in names)))
    for constraint in meta.constraints:
        if (
            isinstance(constraint, models.UniqueConstraint)
            and constraint.fields
            and not constraint.condition
        ):
            columns = tuple(meta.get_field(name).column for name in constraint.fields)
            found.append((constraint.name, columns))
    for fields in meta.unique_together:
        found.append((f"unique_together{fields}", tuple(meta.get_field(n).column for n in fields)))
    return found


def _redundant_single_column_indexes() -> list[str]:
    problems = []
    for model in apps.get_models():
        if model._meta.app_label not in OUR_APPS or not model._meta.managed:
            continue
        composites = _plain_column_lists(model)
        for field in model._meta.concrete_fields:
            if not field.db_index or field.unique or field.primary_key:
                continue
            for name, columns in composites:
                if len(columns) > 1 and columns[0] == field.column:
                    problems.append(
                        f"{model._meta.label}.{field.name}: its own index duplicates the lead "
                        f"of {name} {columns}; declare it with db_index=False"
                    )
                    break
    return problems


def test_no_field_index_duplicates_the_lead_of_a_composite_index():
    assert _redundant_single_column_indexes() == []


@pytest.mark.usefixtures("require_postgres")
def test_the_database_has_no_index_that_is_the_prefix_of_another_on_our_tables():
    """The same rule read from the database the migrations built (PostgreSQL's catalog), so an
    index made by hand in a migration is held to it too."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, c.relname, i.indisunique, i.indpred IS NOT NULL,
                   i.indexprs IS NOT NULL, i.indkey::int2[]
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = current_schema()
            """
        )
        rows = cursor.fetchall()
    ours = tuple(f"{label}_" for label in OUR_APPS)
    plain = [
        (table, name, unique, tuple(keys))
        for table, name, unique, partial, expression, keys in rows
        if table.startswith(ours) and not partial and not expression
    ]
    redundant = sorted(
        f"{table}.{name} {keys} leads {other}"
        for table, name, unique, keys in plain
        if not unique
        for other_table, other, _unique, other_keys in plain
        if other_table == table
        and other != name
        and other_keys[: len(keys)] == keys
        and len(other_keys) > len(keys)
    )
    assert redundant == []


@pytest.mark.usefixtures("require_postgres")
@pytest.mark.django_db(transaction=True)
def test_dropping_a_field_index_leaves_its_foreign_key_constraint_alone():
    """crm.db_indexes: the migrations' DROP INDEX must not drop and re-add the constraint
    (which re-checks every row under a lock); reversed, the index comes back."""
    from django.apps import apps as live_apps
    from django.db import migrations

    from crm.db_indexes import field_index_drop
    from workflows.models import StepLog

    altered = migrations.AlterField("steplog", "enrollment", StepLog._meta.get_field("enrollment"))
    run = field_index_drop("workflows", [altered]).database_operations[0]

    def state() -> tuple[list[str], list[int]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'workflows_steplog' "
                "AND indexdef LIKE '%%(enrollment_id)'"
            )
            indexes = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                "SELECT oid FROM pg_constraint WHERE conrelid = 'workflows_steplog'::regclass "
                "AND contype = 'f' AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE "
                "attrelid = 'workflows_steplog'::regclass AND attname = 'enrollment_id')]"
            )
            return indexes, [row[0] for row in cursor.fetchall()]

    indexes, constraint = state()
    assert indexes == []
    assert len(constraint) == 1
    try:
        with connection.schema_editor() as editor:
            run.reverse_code(live_apps, editor)
        restored, same = state()
        assert len(restored) == 1
        assert same == constraint
        with connection.schema_editor() as editor:
            run.code(live_apps, editor)
        assert state() == ([], constraint)
    finally:
        with connection.schema_editor() as editor:
            run.code(live_apps, editor)  # leave the schema as the migrations made it
