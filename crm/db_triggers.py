"""Database triggers that refuse cross-tenant links (PostgreSQL and SQLite).

Used by migrations: change only by adding, since applied migrations call these functions.
A relation is a ``SameTenant``: a row of ``table`` whose ``column`` is set must satisfy
``condition`` (SQL over ``NEW``), checked on insert and on update of ``watched`` columns.
A violation is an ``IntegrityError`` (PostgreSQL ``check_violation``, SQLite ``ABORT``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SameTenant:
    name: str
    table: str
    column: str
    watched: tuple[str, ...]
    condition: str
    message: str = "belongs to another tenant"


def create_sql(vendor: str, rule: SameTenant) -> list[str]:
    """The statements creating ``rule``'s trigger on ``vendor`` ('postgresql' or 'sqlite')."""
    guard = f"NEW.{rule.column} IS NOT NULL AND NOT ({rule.condition})"
    text = f"{rule.table}.{rule.column} % {rule.message}".replace("'", "''")
    watched = ", ".join(rule.watched)
    if vendor == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION {rule.name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF {guard} THEN
    RAISE EXCEPTION '{text}', NEW.{rule.column} USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$""",
            f"DROP TRIGGER IF EXISTS {rule.name} ON {rule.table}",
            f"CREATE TRIGGER {rule.name} BEFORE INSERT OR UPDATE OF {watched} ON {rule.table} "
            f"FOR EACH ROW EXECUTE FUNCTION {rule.name}()",
        ]
    if vendor == "sqlite":
        abort = f"SELECT RAISE(ABORT, '{text.replace('% ', '')}')"
        return [
            f"CREATE TRIGGER IF NOT EXISTS {rule.name}_insert BEFORE INSERT ON {rule.table} "
            f"FOR EACH ROW WHEN {guard} BEGIN {abort}; END",
            f"CREATE TRIGGER IF NOT EXISTS {rule.name}_update BEFORE UPDATE OF {watched} "
            f"ON {rule.table} FOR EACH ROW WHEN {guard} BEGIN {abort}; END",
        ]
    return []  # other databases: model validation only


def drop_sql(vendor: str, rule: SameTenant) -> list[str]:
    """The statements removing ``rule``'s trigger."""
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {rule.name} ON {rule.table}",
            f"DROP FUNCTION IF EXISTS {rule.name}()",
        ]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {rule.name}_insert",
            f"DROP TRIGGER IF EXISTS {rule.name}_update",
        ]
    return []


def installer(rules_for):
    """A RunPython pair (forward, backward) for the rules ``rules_for(apps)`` returns."""

    # A raw cursor: PL/pgSQL's own % placeholders must not be read as query parameters.
    def run(schema_editor, statements):
        with schema_editor.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def forward(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for rule in rules_for(apps):
            run(schema_editor, create_sql(vendor, rule))

    def backward(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for rule in rules_for(apps):
            run(schema_editor, drop_sql(vendor, rule))

    return forward, backward
