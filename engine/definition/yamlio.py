"""Safe YAML/JSON reading with source lines for every key and item, and readable YAML writing."""

from __future__ import annotations

import json
from typing import Any

import yaml

from engine.definition.problems import DefinitionError, LineMap, Problem, join_path

MAX_DEPTH = 64


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


# Dates stay text: definitions travel as JSON, which has no date type.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> tuple[Any, LineMap]:
    """Parse YAML text into plain data plus the line of every key and list item."""
    loader = _Loader(text)
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
    """Parse JSON text; lines come from reading it again as YAML (JSON is nearly a subset)."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            [Problem("", f"invalid JSON: {exc.msg} at column {exc.colno}", exc.lineno)]
        ) from None
    except RecursionError:
        raise DefinitionError([_too_deep()]) from None
    try:
        _, lines = load_yaml(text)
    except DefinitionError:
        lines = LineMap()  # JSON that YAML cannot read (tabs, \/ escapes): no line numbers
    return data, lines


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DefinitionError([Problem("", f"duplicate key '{key}'")])
        out[key] = value
    return out


def _walk(node: Any, path: str, lines: LineMap, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise DefinitionError([_too_deep()])
    if isinstance(node, yaml.MappingNode):
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
