"""A locked-down Django template engine that renders plain dicts.

Workflow texts (messages, subjects, config values) use Django's template language. The engine here
has no loaders and only the tags and filters in ``engine.language.template_filters``; variables are
looked up in dicts and lists only (never as attributes, never called), the context must be plain
data, and source size, loop iterations and output size are bounded.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import (
    FilterExpression,
    Node,
    Variable,
    VariableDoesNotExist,
    VariableNode,
    render_value_in_context,
)
from django.template.defaulttags import FilterNode, ForNode, WithNode
from django.template.smartif import TokenBase
from django.utils import timezone

from engine.language import template_filters

MAX_SOURCE_CHARS = 100_000
MAX_OUTPUT_CHARS = 256_000
MAX_LOOP_ITERATIONS = 20_000
MAX_CONTEXT_DEPTH = 32
CACHE_SIZE = 1024

PLAIN_SCALARS = (str, int, float, bool, type(None), Decimal, datetime, date)
_BUILTIN_NAMES = frozenset({"True", "False", "None"})
_DICT_VIEWS = frozenset({"items", "keys", "values"})
_SINGLE_VARIABLE = re.compile(r"\{\{\s*([A-Za-z]\w*(?:\.[A-Za-z0-9]\w*)*)\s*\}\}")
_UNKNOWN_TAG = re.compile(r"Invalid block tag on line (\d+): '([^']*)'")


class TemplateError(ValueError):
    """A template that cannot be parsed or rendered, or a context that may not be rendered."""


def _missing(path: str) -> VariableDoesNotExist:
    return VariableDoesNotExist("Failed lookup for key [%s]", (path,))


def lookup(current: Any, bit: str) -> Any:
    """One lookup step on plain data: dict key, list index, or a dict's items/keys/values."""
    if isinstance(current, Mapping):
        if bit in current:
            return current[bit]
        if bit in _DICT_VIEWS:
            return list(getattr(current, bit)())
        raise _missing(bit)
    if isinstance(current, (list, tuple)):
        try:
            return current[int(bit)]
        except (ValueError, IndexError):
            raise _missing(bit) from None
    # attribute access on anything else is how sandbox escapes start: refuse it
    raise _missing(bit)


class _SafeVariable(Variable):
    """A Variable that reads dict keys and list items only and never calls anything."""

    __slots__ = ()

    def _resolve_lookup(self, context: Any) -> Any:
        bits = self.lookups
        try:
            current = context[bits[0]]
        except KeyError:
            raise _missing(self.var) from None
        for bit in bits[1:]:
            current = lookup(current, bit)
        return current


class _BoundedSequence(FilterExpression):
    """The iterable of a ``{% for %}``: counts iterations against the render's budget."""

    __slots__ = ()

    def resolve(self, context: Any, ignore_failures: bool = False) -> Any:
        values = super().resolve(context, ignore_failures)
        if values is None:
            return values
        if not hasattr(values, "__len__"):  # pragma: no cover - no whitelisted filter gives one
            values = list(values)
        budget = getattr(context, "loop_budget", None)
        if budget is not None:
            budget[0] -= len(values)
            if budget[0] < 0:
                raise TemplateError(
                    f"template loops ran more than {MAX_LOOP_ITERATIONS} iterations"
                )
        return values


class _PlainVariableNode(VariableNode):
    """``{{ ... }}`` output; dates and datetimes print as ISO 8601 so they can be read back."""

    def render(self, context: Any) -> str:
        output = self.filter_expression.resolve(context)
        if isinstance(output, datetime):
            aware = output if timezone.is_aware(output) else output.replace(tzinfo=UTC)
            output = timezone.localtime(aware).isoformat()
        elif isinstance(output, date):
            output = output.isoformat()
        return render_value_in_context(output, context)


class _SandboxEngine(Engine):
    # Engine prepends Django's default libraries; this engine has only the whitelisted one
    default_builtins: list[str] = []

    def get_template_builtins(self, builtins: list[str]) -> list[Any]:
        return [template_filters.register]

    def get_template_libraries(self, libraries: dict[str, str]) -> dict[str, Any]:
        return {}


ENGINE = _SandboxEngine(
    dirs=[], app_dirs=False, loaders=[], libraries={}, builtins=[], string_if_invalid=""
)


@dataclass(frozen=True)
class _Compiled:
    template: Template
    paths: tuple[str, ...]


def _syntax_error(exc: Exception) -> TemplateError:
    message = str(exc).replace(" Did you forget to register or load this tag?", "")
    found = _UNKNOWN_TAG.match(message)
    if found and "expected" not in message:
        message = (
            f"line {found.group(1)}: tag '{found.group(2)}' is not allowed "
            f"(allowed tags: {', '.join(template_filters.SAFE_TAGS)})"
        )
    return TemplateError(f"template syntax error: {message}")


def _visit(
    obj: Any,
    scope: frozenset[str],
    found: list[tuple[Variable, frozenset[str]]],
    sequences: list[FilterExpression],
    defined: set[str],
) -> None:
    """Collect every Variable (with the loop/with names in scope) and every for-loop iterable."""
    if isinstance(obj, (list, tuple)):
        for item in obj:
            _visit(item, scope, found, sequences, defined)
    elif isinstance(obj, dict):
        for item in obj.values():
            _visit(item, scope, found, sequences, defined)
    elif isinstance(obj, FilterExpression):
        if isinstance(obj.var, Variable):
            found.append((obj.var, scope))
        for _func, args in obj.filters:
            for is_lookup, arg in args:
                if is_lookup:
                    found.append((arg, scope))
    elif isinstance(obj, ForNode):
        sequences.append(obj.sequence)
        _visit(obj.sequence, scope, found, sequences, defined)
        inner = scope | set(obj.loopvars) | {"forloop"}
        _visit(obj.nodelist_loop, inner, found, sequences, defined)
        _visit(obj.nodelist_empty, scope, found, sequences, defined)
    elif isinstance(obj, WithNode):
        _visit(obj.extra_context, scope, found, sequences, defined)
        _visit(obj.nodelist, scope | set(obj.extra_context), found, sequences, defined)
    elif isinstance(obj, FilterNode):
        # the filter tag reads its own body as "var"; only its filter arguments are references
        found.append((obj.filter_expr.var, scope | {"var"}))
        for _func, args in obj.filter_expr.filters:
            found.extend((arg, scope) for is_lookup, arg in args if is_lookup)
        _visit(obj.nodelist, scope, found, sequences, defined)
    elif isinstance(obj, (Node, TokenBase)):
        if type(obj) is VariableNode:
            obj.__class__ = _PlainVariableNode
        for name, value in vars(obj).items():
            if name in ("asvar", "variable_name") and isinstance(value, str):
                defined.add(value)
            elif name not in ("token", "origin"):
                _visit(value, scope, found, sequences, defined)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile_cached(text: str) -> _Compiled:
    try:
        template = Template(text, engine=ENGINE)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc) from None
    found: list[tuple[Variable, frozenset[str]]] = []
    sequences: list[FilterExpression] = []
    defined: set[str] = set()
    _visit(template.nodelist, frozenset(), found, sequences, defined)
    paths: set[str] = set()
    for variable, scope in found:
        variable.__class__ = _SafeVariable
        if not variable.lookups:
            continue
        head = variable.lookups[0]
        if head not in scope and head not in defined and head not in _BUILTIN_NAMES:
            paths.add(".".join(variable.lookups))
    for sequence in sequences:
        sequence.__class__ = _BoundedSequence
    return _Compiled(template, tuple(sorted(paths)))


def _compile(text: str) -> _Compiled:
    if not isinstance(text, str):
        raise TemplateError(f"template must be a string, not {type(text).__name__}")
    if len(text) > MAX_SOURCE_CHARS:
        raise TemplateError(
            f"template is too long: {len(text)} characters (limit {MAX_SOURCE_CHARS})"
        )
    return _compile_cached(text)


def _check_plain(value: Any, where: str, depth: int) -> None:
    if isinstance(value, PLAIN_SCALARS):
        return
    if depth > MAX_CONTEXT_DEPTH:
        raise TemplateError(
            f"context is nested deeper than {MAX_CONTEXT_DEPTH} levels at '{where}'"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TemplateError(f"context key {key!r} at '{where}' is not a string")
            if key.startswith("_"):
                raise TemplateError(f"context key '{key}' at '{where}' may not start with '_'")
            _check_plain(item, f"{where}.{key}" if where else key, depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]", depth + 1)
    else:
        raise TemplateError(
            f"context value at '{where}' is a {type(value).__name__}; only plain data "
            "(dict, list, str, number, bool, None, Decimal, date, datetime) can be rendered"
        )


class CheckedContext(dict):
    """A context already checked to hold plain data only; rendering skips the re-check."""


def check_context(context: Mapping[str, Any]) -> CheckedContext:
    """Check once (O(size)) and reuse for every render of one step."""
    return CheckedContext(_plain_context(context))


def _plain_context(context: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(context, CheckedContext):
        return context
    if not isinstance(context, Mapping):
        raise TemplateError(f"context must be a mapping, not {type(context).__name__}")
    data = dict(context)
    _check_plain(data, "", 0)
    # a shallow copy: {% firstof ... as x %} and {% cycle ... as x %} write into the top dict
    return data


def _render_compiled(compiled: _Compiled, data: dict[str, Any], html: bool) -> str:
    context = Context(dict(data), autoescape=html)
    context.loop_budget = [MAX_LOOP_ITERATIONS]
    try:
        output = compiled.template.render(context)
    except TemplateError:
        raise
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc) from None
    except Exception as exc:
        raise TemplateError(f"template rendering failed: {type(exc).__name__}: {exc}") from None
    if len(output) > MAX_OUTPUT_CHARS:
        raise TemplateError(
            f"rendered text is too long: {len(output)} characters (limit {MAX_OUTPUT_CHARS})"
        )
    # Django returns a SafeString; callers (and SDKs) get a plain str.
    return "".join([output])


def render(text: str, context: Mapping[str, Any], *, html: bool = False) -> str:
    """Render ``text`` with plain-data ``context``; ``html=True`` turns autoescaping on."""
    compiled = _compile(text)
    return _render_compiled(compiled, _plain_context(context), html)


def _raw_value(path: str, data: dict[str, Any]) -> Any:
    bits = path.split(".")
    if bits[0] in _BUILTIN_NAMES:
        return {"True": True, "False": False, "None": None}[bits[0]] if len(bits) == 1 else ""
    try:
        current = data[bits[0]]
        for bit in bits[1:]:
            current = lookup(current, bit)
    except (KeyError, VariableDoesNotExist):
        return ""
    return current


def _render_tree(value: Any, data: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        single = _SINGLE_VARIABLE.fullmatch(value)
        if single:
            return _raw_value(single.group(1), data)
        return _render_compiled(_compile(value), data, html=False)
    if isinstance(value, dict):
        return {key: _render_tree(item, data) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_render_tree(item, data) for item in value]
    return value


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside ``value``; ``"{{ a.b }}"`` alone gives the raw value of a.b.

    A missing raw value gives "" (as it would when rendered as text). Tuples come back as lists.
    """
    return _render_tree(value, _plain_context(context))


def referenced_paths(text: str) -> list[str]:
    """Sorted dotted paths the template reads, without names bound by for/with/cycle/firstof."""
    return list(_compile(text).paths)


def has_template_syntax(text: str) -> bool:
    """True when ``text`` is a string containing ``{{``, ``{%`` or ``{#``."""
    return isinstance(text, str) and ("{{" in text or "{%" in text or "{#" in text)
