"""Reading definitions: YAML or JSON text (or plain data) into a checked WorkflowDefinition."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from pydantic import ValidationError

from engine.definition.legacy import convert_legacy, is_legacy
from engine.definition.limits import check_steps
from engine.definition.problems import DefinitionError, LineMap, Problem
from engine.definition.schema import WorkflowDefinition
from engine.definition.translate import problems_from_validation_error
from engine.definition.yamlio import load_json, load_yaml

Format = Literal["yaml", "json"]
DEFAULT_MAX_BYTES = 1_000_000


@dataclass
class ParsedDefinition:
    """A parsed document: the definition, the format it came in, and whether it was converted."""

    definition: WorkflowDefinition
    format: Format
    legacy: bool = False
    lines: LineMap = field(default_factory=LineMap)


def parse_definition(text: str | bytes, *, format: Format | None = None) -> ParsedDefinition:
    """Parse YAML or JSON (sniffed when ``format`` is None); raises DefinitionError on problems."""
    text = _as_text(text)
    fmt: Format = format or sniff_format(text)
    if fmt not in ("yaml", "json"):
        raise DefinitionError([Problem("", f"unknown format '{fmt}': use yaml or json")])
    data, lines = load_json(text) if fmt == "json" else load_yaml(text)
    legacy = isinstance(data, dict) and is_legacy(data)
    definition = load_definition(data, lines=lines)
    return ParsedDefinition(
        definition=definition, format=fmt, legacy=legacy, lines=definition.lines
    )


def load_definition(data: Any, *, lines: LineMap | None = None) -> WorkflowDefinition:
    """A definition from plain data (canonical or TypeScript shape); raises DefinitionError."""
    lines = lines if lines is not None else LineMap()
    if not isinstance(data, dict):
        got = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"[:60]
        message = f"a workflow must be a mapping with name, trigger and steps, got {got}"
        raise DefinitionError([Problem("", message, 1 if lines else None)])
    check_steps(data)
    if is_legacy(data):
        data, lines = convert_legacy(data, lines)
    try:
        definition = WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation_error(
            exc, data=data, lines=lines, root=WorkflowDefinition
        )
        raise DefinitionError(problems) from None
    definition._lines = lines
    return definition


def sniff_format(text: str) -> Format:
    """JSON when the text starts with { or [, else YAML."""
    return "json" if text.lstrip()[:1] in ("{", "[") else "yaml"


def max_bytes() -> int:
    return int(getattr(settings, "STUDIO_DEFINITION_MAX_BYTES", DEFAULT_MAX_BYTES))


def _as_text(text: str | bytes) -> str:
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    limit = max_bytes()
    if size > limit:
        raise DefinitionError(
            [Problem("", f"document is {_mb(size)}, over the {_mb(limit)} limit")]
        )
    if isinstance(text, str):
        return text
    try:
        return text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DefinitionError(
            [Problem("", f"document is not UTF-8 text (bad byte at offset {exc.start})")]
        ) from None


def _mb(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{size / 1000:.1f} KB" if size >= 1000 else f"{size} bytes"
