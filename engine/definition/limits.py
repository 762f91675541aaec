"""Limits on a definition document (docs/workflow-format.md "Limits").

Checked before the expensive work (YAML parsing, schema validation), so an oversized or
hostile file is refused in milliseconds with a message saying which limit and where.
"""

from __future__ import annotations

import re
from typing import Any

from engine.definition.bounded_json import JsonLimits
from engine.definition.problems import DefinitionError, Problem

MAX_STEPS = 500  # steps (or TypeScript actions) in one workflow
MAX_KEYS = 10_000  # keys in the whole document
MAX_MAPPING_KEYS = 1_000  # keys in any one mapping (settings, config, …)
MAX_DEPTH = 64  # mappings and lists inside each other
MAX_INT_DIGITS = 20  # digits of any integer (beyond 64 bits nothing in a workflow is a number)
JSON_LIMITS = JsonLimits(
    max_depth=MAX_DEPTH,
    max_keys=MAX_KEYS,
    max_int_digits=MAX_INT_DIGITS,
    max_object_keys=MAX_MAPPING_KEYS,
)

# Control characters other than tab, newline and carriage return are never part of a workflow.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Upper bounds, counted without parsing: every YAML key is followed by ": " or ":\n".
_KEY_MARK = re.compile(r":(?=[ \t\r\n]|$)")
_STEP_ITEM = re.compile(r"""(?m)^[ \t]*-[ \t]+["']?id["']?[ \t]*:""")


def line_of(text: str, offset: int) -> int:
    """1-based line of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1


def check_text(text: str, *, yaml: bool) -> None:
    """Refuse control characters, and (YAML) too many keys or steps, before parsing."""
    bad = _CONTROL.search(text)
    if bad:
        line = line_of(text, bad.start())
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise DefinitionError(
            [
                Problem(
                    "",
                    f"control character U+{ord(bad.group()):04X} at column {column} is not "
                    "allowed in a workflow file",
                    line,
                )
            ]
        )
    if not yaml:
        return
    keys = len(_KEY_MARK.findall(text))
    if keys > MAX_KEYS:
        raise DefinitionError([Problem("", f"more than {MAX_KEYS} keys in the document")])
    steps = len(_STEP_ITEM.findall(text))
    if steps > MAX_STEPS:
        raise DefinitionError(
            [Problem("steps", f"{steps} steps, more than the {MAX_STEPS} a workflow may have")]
        )


def check_steps(data: Any) -> None:
    """Refuse more than MAX_STEPS steps (or actions) before the schema looks at them."""
    if not isinstance(data, dict):
        return
    for key in ("steps", "actions"):
        items = data.get(key)
        if isinstance(items, list) and len(items) > MAX_STEPS:
            raise DefinitionError(
                [
                    Problem(
                        key,
                        f"{len(items)} {key}, more than the {MAX_STEPS} a workflow may have",
                    )
                ]
            )
