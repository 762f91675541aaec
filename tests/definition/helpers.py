"""Small workflow documents for the definition tests."""

from __future__ import annotations

import textwrap

HEAD = """\
name: Test
trigger:
  type: manual
steps:
"""


def workflow(steps: str, head: str = HEAD) -> str:
    """A YAML workflow whose ``steps:`` list is ``steps`` (written without indentation)."""
    return head + textwrap.indent(textwrap.dedent(steps), "  ")
