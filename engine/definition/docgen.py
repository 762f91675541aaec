"""Generate docs/step-kinds.md from the catalog: ``python -m engine.definition.docgen > FILE``."""

from __future__ import annotations

import json
import sys
from typing import Any

from engine.definition.catalog import step_catalog, trigger_catalog

GROUP_TITLES = {
    "messaging": "Messaging",
    "ai": "AI",
    "crm": "CRM",
    "integration": "Integration",
    "flow": "Flow",
}


def render_step_kinds() -> str:
    """The Markdown reference of every step and trigger kind with its config fields."""
    out = [
        "# Step kinds",
        "",
        "Generated from the definition schema by `python -m engine.definition.docgen`; "
        "do not edit by hand (a test keeps it in sync). The format itself is described in "
        "[workflow-format.md](workflow-format.md).",
        "",
    ]
    catalog = step_catalog()
    for group, title in GROUP_TITLES.items():
        out += [f"## {title}", ""]
        for entry in (e for e in catalog if e["group"] == group):
            out += _kind_section(entry)
    out += ["## Triggers", ""]
    for entry in trigger_catalog():
        out += _kind_section(entry)
    return "\n".join(out).rstrip() + "\n"


def _kind_section(entry: dict[str, Any]) -> list[str]:
    lines = [f"### `{entry['type']}` — {entry['label']}", "", entry["description"], ""]
    if entry["aliases"]:
        lines += ["Also accepted as: " + ", ".join(f"`{a}`" for a in entry["aliases"]) + ".", ""]
    if entry.get("has_side_effects"):
        lines += ["Has side effects (sent once per step visit).", ""]
    if not entry["fields"]:
        return [*lines, "No config.", ""]
    lines += ["| field | type | required | default | help |", "| --- | --- | --- | --- | --- |"]
    for field in entry["fields"]:
        default = "" if field["default"] is None else f"`{json.dumps(field['default'])}`"
        required = "yes" if field["required"] else ""
        help_text = field["help"].replace("|", "\\|")
        lines.append(
            f"| `{field['name']}` | {field['type']} | {required} | {default} | {help_text} |"
        )
    return [*lines, ""]


if __name__ == "__main__":
    sys.stdout.write(render_step_kinds())
