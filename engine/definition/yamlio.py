"""Safe YAML/JSON reading with source lines for every key and item, and readable YAML writing."""

from __future__ import annotations

import math
from typing import Any

import yaml

from engine.definition.bounded_json import JsonLimitError, loads_bounded
from engine.definition.limits import (
    JSON_LIMITS,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_MAPPING_KEYS,
    check_steps,
    check_text,
    line_of,
)
from engine.definition.problems import DefinitionError, LineMap, Problem, join_path


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases, duplicate keys, non-text keys or implicit timestamps."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise DefinitionError(
                [Problem("", "YAML aliases are not allowed", event.start_mark.line + 1)]
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            key = key_node.value
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise DefinitionError(
                    [Problem("", f"keys must be text, got {key!r}", key_node.start_mark.line + 1)]
                )
            if key in seen:
                raise DefinitionError(
                    [Problem("", f"duplicate key '{key}'", key_node.start_mark.line + 1)]
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    digits = node.value.replace("_", "").lstrip("+-")
    if len(digits) > MAX_INT_DIGITS:
        raise DefinitionError(
            [
                Problem(
                    "",
                    f"number {node.value[:12]}… has more than {MAX_INT_DIGITS} digits",
                    node.start_mark.line + 1,
                )
            ]
        )
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        raise DefinitionError(
            [Problem("", f"'{node.value}' is not a finite number", node.start_mark.line + 1)]
        )
    return value


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)

# Dates stay text: definitions travel as JSON, which has no date type.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> tuple[Any, LineMap]:
    """Parse YAML text into plain data plus the line of every key and list item.

    Raises DefinitionError for unreadable YAML and for documents over the limits
    (``engine.definition.limits``), the cheap ones checked before parsing.
    """
    check_text(text, yaml=True)
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        message = f"invalid YAML: character #x{exc.character:04x} is not allowed"
        raise DefinitionError([Problem("", message, line_of(text, exc.position))]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise DefinitionError([Problem("", "the document is empty")])
        lines = LineMap({"": node.start_mark.line + 1})
        _walk(node, "", lines, 0)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable YAML"
        where = f" at column {mark.column + 1}" if mark else ""
        line = mark.line + 1 if mark else None
        raise DefinitionError([Problem("", f"invalid YAML: {problem}{where}", line)]) from None
    except yaml.YAMLError as exc:
        raise DefinitionError([Problem("", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise DefinitionError([_too_deep()]) from None
    finally:
        loader.dispose()


def load_json(text: str) -> tuple[Any, LineMap]:
    """Parse JSON text; lines come from reading it again as YAML (JSON is nearly a subset).

    Limits (depth, keys, number sizes, duplicate keys, steps) are checked on the fast JSON
    parse, before the slower pass that finds lines.
    """
    check_text(text, yaml=False)
    try:
        data = loads_bounded(text, JSON_LIMITS)
    except JsonLimitError as exc:
        raise DefinitionError([Problem("", exc.message, exc.line)]) from None
    check_steps(data)
    try:
        _, lines = load_yaml(text)
    except DefinitionError:
        lines = LineMap()  # JSON that YAML cannot read (tabs, \/ escapes): no line numbers
    return data, lines


def _walk(node: Any, path: str, lines: LineMap, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise DefinitionError([_too_deep()])
    if isinstance(node, yaml.MappingNode):
        if len(node.value) > MAX_MAPPING_KEYS:
            message = f"more than {MAX_MAPPING_KEYS} keys in one mapping"
            raise DefinitionError([Problem(path, message, node.start_mark.line + 1)])
        for key_node, value_node in node.value:
            child = join_path(path, str(key_node.value))
            lines.setdefault(child, key_node.start_mark.line + 1)
            _walk(value_node, child, lines, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = f"{path}[{index}]"
            lines.setdefault(child, item.start_mark.line + 1)
            _walk(item, child, lines, depth + 1)


def _too_deep() -> Problem:
    return Problem("", f"the document is nested more than {MAX_DEPTH} levels deep")


class _Dumper(yaml.SafeDumper):
    """Block style, indented lists, no aliases, multi-line text as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml_data(data: Any) -> str:
    """Readable block-style YAML of plain data."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,
    )
