"""JSON reading with limits: nesting depth, number size, key count, duplicate keys, NaN.

Python's ``json`` happily builds a 4,000-digit integer, turns ``1e999`` into infinity, keeps
the last of two equal keys, and raises ``RecursionError`` (not a decode error) on very deep
input. Every caller that reads JSON from outside (definition files, webhook bodies) goes
through ``loads_bounded`` so each of those is a ``JsonLimitError`` naming the line.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

# Integers beyond 64 bits have no use in a workflow and cost quadratic time to convert.
MAX_INT_DIGITS = 20
MAX_NUMBER_CHARS = 40


@dataclass(frozen=True)
class JsonLimits:
    """Bounds for one kind of document (depth in nested containers, keys over the document)."""

    max_depth: int = 64
    max_keys: int = 20_000
    max_int_digits: int = MAX_INT_DIGITS
    max_object_keys: int = 5_000


class JsonLimitError(ValueError):
    """Unreadable or over-limit JSON; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class _TooBig(Exception):
    def __init__(self, message: str, pattern: str) -> None:
        self.message = message
        self.pattern = pattern


def loads_bounded(text: str, limits: JsonLimits | None = None) -> Any:
    """Parse ``text`` as JSON within ``limits``; raises JsonLimitError saying what and where."""
    limits = limits or JsonLimits()
    keys = 0

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal keys
        keys += len(pairs)
        if keys > limits.max_keys:
            raise _TooBig(f"more than {limits.max_keys} keys in the document", "")
        if len(pairs) > limits.max_object_keys:
            raise _TooBig(f"an object has more than {limits.max_object_keys} keys", "")
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _Duplicate(key)
            out[key] = value
        return out

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > limits.max_int_digits:
            raise _TooBig(
                f"number {digits[:12]}… has more than {limits.max_int_digits} digits",
                rf"-?\d{{{limits.max_int_digits + 1},}}",
            )
        return int(digits)

    def parse_float(literal: str) -> float:
        if len(literal) > MAX_NUMBER_CHARS:
            raise _TooBig(
                f"number {literal[:12]}… is longer than {MAX_NUMBER_CHARS} characters",
                rf"[-0-9.eE+]{{{MAX_NUMBER_CHARS + 1},}}",
            )
        value = float(literal)
        if not math.isfinite(value):
            raise _TooBig(
                f"number {literal[:12]} is out of range", re.escape(literal[:MAX_NUMBER_CHARS])
            )
        return value

    def parse_constant(name: str) -> float:
        raise _TooBig(f"{name} is not a JSON number", re.escape(name))

    _check_depth(text, limits.max_depth)
    try:
        return json.loads(
            text,
            object_pairs_hook=pairs_hook,
            parse_int=parse_int,
            parse_float=parse_float,
            parse_constant=parse_constant,
        )
    except json.JSONDecodeError as exc:
        raise JsonLimitError(f"invalid JSON: {exc.msg} at column {exc.colno}", exc.lineno) from None
    except _Duplicate as exc:
        raise JsonLimitError(f"duplicate key '{exc.key}'", _duplicate_line(text, exc.key)) from None
    except _TooBig as exc:
        raise JsonLimitError(exc.message, _line_of(text, exc.pattern)) from None
    except RecursionError:  # unbalanced and deep: json gives up before we could count
        raise JsonLimitError(f"nested more than {limits.max_depth} levels deep") from None


# Strings (with escapes) first, so brackets inside them are not counted.
_STRING = r'"(?:[^"\\]|\\.)*"'
_TOKENS = re.compile(_STRING + r"|[\[\]{}]", re.DOTALL)
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_NOT_STRUCTURE = re.compile(r'[^\[\]{}"]+')
_QUOTED = re.compile(r'"[^"]*"')
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")


def _brackets(text: str) -> str:
    """The brackets of ``text`` outside strings, in order (escapes, then all but brackets and
    quotes, then quoted spans removed: three C-speed passes)."""
    return _QUOTED.sub("", _NOT_STRUCTURE.sub("", _ESCAPE.sub("", text)))


_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _check_depth(text: str, max_depth: int) -> None:
    # Brackets inside strings only add depth: when all of them together stay within the limit,
    # the document does (the usual case, one fast pass); else count again without strings.
    if _nesting_within(_NOT_BRACKET.sub("", text), max_depth, unbalanced=False):
        return
    if _nesting_within(_brackets(text), max_depth, unbalanced=True):
        return
    raise JsonLimitError(f"nested more than {max_depth} levels deep", _deep_line(text, max_depth))


def _nesting_within(brackets: str, max_depth: int, *, unbalanced: bool) -> bool:
    """Whether bracket nesting stays within ``max_depth``; an unbalanced rest gives
    ``unbalanced`` (True where json.loads will report it with its position)."""
    for _ in range(max_depth):
        if not brackets:
            return True
        brackets, removed = _EMPTY_PAIR.subn("", brackets)
        if not removed:
            return unbalanced
    return not (brackets and _EMPTY_PAIR.search(brackets))


def _deep_line(text: str, max_depth: int) -> int | None:
    depth = 0
    for match in _TOKENS.finditer(text):
        piece = match.group()
        if piece in ("[", "{"):
            depth += 1
            if depth > max_depth:
                return text.count("\n", 0, match.start()) + 1
        elif piece in ("]", "}"):
            depth -= 1
    return None


def _line_of(text: str, pattern: str) -> int | None:
    if not pattern:
        return None
    match = re.search(pattern, text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _duplicate_line(text: str, key: str) -> int | None:
    """The line of the second ``key`` inside one object (found again only on this error path)."""
    quoted = json.dumps(key)
    stack: list[set[str]] = []
    for match in _TOKENS.finditer(text):
        piece = match.group()
        if piece in ("[", "{"):
            stack.append(set())
        elif piece in ("]", "}"):
            stack.pop()
        elif stack and _is_key(text, match.end()):
            seen = stack[-1]
            if piece in seen and piece == quoted:
                return text.count("\n", 0, match.start()) + 1
            seen.add(piece)
    return None


def _is_key(text: str, end: int) -> bool:
    rest = text[end : end + 64].lstrip()
    return rest.startswith(":")
