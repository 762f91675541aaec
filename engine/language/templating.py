"""A locked-down Django template engine that renders plain dicts.

Workflow texts (messages, subjects, config values) use Django's template language. The engine here
has no loaders and only the tags and filters in ``engine.language.template_filters``; variables are
looked up in dicts and lists only (never as attributes, never called), the context must be plain
data, and the work of a render is bounded, not only its output (``Budget``): source size, tokens,
block nesting, ``{% if %}`` terms and filter-chain length when compiling (so validation reports
them), and loop iterations, the size of every filter result and the total text produced while
rendering. Every breach is a ``TemplateError``; nothing ever raises ``RecursionError``.
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
    Lexer,
    Node,
    TextNode,
    TokenType,
    Variable,
    VariableDoesNotExist,
    VariableNode,
    render_value_in_context,
)
from django.template.defaulttags import (
    CycleNode,
    FilterNode,
    FirstOfNode,
    ForNode,
    TemplateTagNode,
    WithNode,
)
from django.template.smartif import TokenBase
from django.utils import timezone

from engine.language import template_filters

# The render budget (docs/templating.md "Limits").
MAX_SOURCE_CHARS = 100_000
MAX_TOKENS = 5_000  # text pieces, {{ }} and {% %} in one template
MAX_NESTING = 20  # blocks inside blocks ({% if %} in {% for %} in {% with %} ...)
MAX_IF_TERMS = 40  # words in one {% if %} / {% elif %} condition
MAX_FILTERS = 10  # filters chained in one expression (a|f|g|...)
MAX_OUTPUT_CHARS = 256_000
MAX_VALUE_CHARS = MAX_OUTPUT_CHARS  # any string a filter builds, in characters
MAX_VALUE_ITEMS = 20_000  # any list a filter builds, in items
MAX_WORK_CHARS = 1_000_000  # all text produced during one render, loops included
MAX_LOOP_ITERATIONS = 20_000
MAX_CONTEXT_DEPTH = 32
CACHE_SIZE = 1024
_BLOCK_OPENERS = frozenset(
    {"if", "for", "with", "filter", "spaceless", "autoescape", "ifchanged", "comment"}
)

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


class Budget:
    """What one render may still do; a breach is kept so that ``{% if %}`` (which swallows
    errors in its condition) cannot hide it."""

    __slots__ = ("breach", "iterations", "work")

    def __init__(self) -> None:
        self.iterations = MAX_LOOP_ITERATIONS
        self.work = MAX_WORK_CHARS
        self.breach: TemplateError | None = None

    def fail(self, message: str) -> TemplateError:
        if self.breach is None:
            self.breach = TemplateError(f"template budget exceeded: {message}")
        return self.breach

    def charge_iterations(self, count: int) -> None:
        self.iterations -= count
        if self.iterations < 0:
            raise self.fail(f"loops ran more than {MAX_LOOP_ITERATIONS} iterations")

    def charge_work(self, text: str) -> str:
        self.work -= len(text)
        if self.work < 0:
            raise self.fail(f"rendering produced more than {MAX_WORK_CHARS} characters")
        return text


def _budget(context: Any) -> Budget:
    budget = getattr(context, "budget", None)
    if budget is None:  # a template rendered outside render(): give it a budget of its own
        budget = context.budget = Budget()
    return budget


def _size_problem(value: Any) -> str | None:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return f"a value of {len(value)} characters (limit {MAX_VALUE_CHARS})"
    if isinstance(value, (list, tuple)) and len(value) > MAX_VALUE_ITEMS:
        return f"a list of {len(value)} items (limit {MAX_VALUE_ITEMS})"
    return None


def _expected_size(name: str, value: Any, arg: Any) -> int:
    """Characters/items ``add`` and ``join`` would build, known before building them."""
    sized = (str, list, tuple)
    if name == "add" and isinstance(value, sized) and isinstance(arg, sized):
        return len(value) + len(arg)
    if name == "join" and isinstance(value, (list, tuple)) and isinstance(arg, str):
        items = sum(len(item) if isinstance(item, str) else 20 for item in value)
        return items + len(arg) * max(len(value) - 1, 0)
    return 0


@functools.cache
def _bounded_filter(name: str, func: Any) -> Any:
    """``func`` refusing to build an oversized string or list (checked before when it can be)."""

    @functools.wraps(func)  # keeps is_safe / needs_autoescape / expects_localtime
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        arg = args[0] if args else None
        if _expected_size(name, value, arg) > MAX_VALUE_CHARS:
            raise TemplateError(
                f"template budget exceeded: filter '{name}' would build more than "
                f"{MAX_VALUE_CHARS} characters or items"
            )
        result = func(value, *args, **kwargs)
        problem = _size_problem(result)
        if problem:
            raise TemplateError(f"template budget exceeded: filter '{name}' built {problem}")
        return result

    return bounded


class _BoundedExpression(FilterExpression):
    """A filter expression whose filters are bounded and whose breaches reach the render."""

    __slots__ = ()

    def resolve(self, context: Any, ignore_failures: bool = False) -> Any:
        try:
            return super().resolve(context, ignore_failures)
        except TemplateError as exc:
            budget = _budget(context)
            budget.breach = budget.breach or exc
            raise


class _BoundedSequence(_BoundedExpression):
    """The iterable of a ``{% for %}``: counts iterations against the render's budget."""

    __slots__ = ()

    def resolve(self, context: Any, ignore_failures: bool = False) -> Any:
        values = super().resolve(context, ignore_failures)
        if values is None:
            return values
        if not hasattr(values, "__len__"):  # pragma: no cover - no whitelisted filter gives one
            values = list(values)
        _budget(context).charge_iterations(len(values))
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
        return _budget(context).charge_work(render_value_in_context(output, context))


# Nodes whose output is new text (not only their children's): each is charged to the budget.
_PRODUCERS = (TextNode, CycleNode, FirstOfNode, TemplateTagNode, FilterNode)


@functools.cache
def _charged(cls: type) -> type:
    def render_annotated(self: Node, context: Any) -> str:
        return _budget(context).charge_work(cls.render_annotated(self, context))

    return type(f"Charged{cls.__name__}", (cls,), {"render_annotated": render_annotated})


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
        _bound_filters(obj)
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
        _bound_filters(obj.filter_expr)
        obj.__class__ = _charged(FilterNode)
        found.append((obj.filter_expr.var, scope | {"var"}))
        for _func, args in obj.filter_expr.filters:
            found.extend((arg, scope) for is_lookup, arg in args if is_lookup)
        _visit(obj.nodelist, scope, found, sequences, defined)
    elif isinstance(obj, (Node, TokenBase)):
        if type(obj) is VariableNode:
            obj.__class__ = _PlainVariableNode
        elif type(obj) in _PRODUCERS:
            obj.__class__ = _charged(type(obj))
        for name, value in vars(obj).items():
            if name in ("asvar", "variable_name") and isinstance(value, str):
                defined.add(value)
            elif name not in ("token", "origin"):
                _visit(value, scope, found, sequences, defined)


@functools.cache
def _filter_names() -> dict[Any, str]:
    return {func: name for name, func in template_filters.register.filters.items()}


def _bound_filters(expression: FilterExpression) -> None:
    if len(expression.filters) > MAX_FILTERS:
        raise TemplateError(
            f"template budget exceeded: {len(expression.filters)} filters chained in "
            f"'{expression.token[:60]}' (limit {MAX_FILTERS})"
        )
    names = _filter_names()
    expression.filters = [
        (_bounded_filter(names.get(func, getattr(func, "__name__", "filter")), func), args)
        for func, args in expression.filters
    ]
    if type(expression) is FilterExpression:
        expression.__class__ = _BoundedExpression


def _check_shape(text: str) -> None:
    """Refuse, before parsing, what would make Django's parser recurse or work too long."""
    tokens = Lexer(text).tokenize()
    if len(tokens) > MAX_TOKENS:
        raise TemplateError(
            f"template budget exceeded: {len(tokens)} tags, variables and text pieces "
            f"(limit {MAX_TOKENS})"
        )
    depth = 0
    for token in tokens:
        if token.token_type is not TokenType.BLOCK:
            continue
        words = token.contents.split()
        command = words[0] if words else ""
        if command in _BLOCK_OPENERS:
            depth += 1
            if depth > MAX_NESTING:
                raise TemplateError(
                    f"template budget exceeded: line {token.lineno}: blocks nested more than "
                    f"{MAX_NESTING} deep"
                )
        elif command.startswith("end"):
            depth -= 1
        if command in ("if", "elif") and len(words) - 1 > MAX_IF_TERMS:
            raise TemplateError(
                f"template budget exceeded: line {token.lineno}: {{% {command} %}} with "
                f"{len(words) - 1} terms (limit {MAX_IF_TERMS})"
            )


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile_cached(text: str) -> _Compiled:
    _check_shape(text)
    try:
        template = Template(text, engine=ENGINE)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc) from None
    except RecursionError:  # pragma: no cover - _check_shape refuses what could recurse
        raise TemplateError("template budget exceeded: nested too deeply to read") from None
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


def _path_text(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _check_plain(value: Any, path: tuple, depth: int) -> None:
    # The path is a tuple, turned into text only for an error: this runs over the whole
    # context of every step, and building a string per item cost more than the check.
    if depth > MAX_CONTEXT_DEPTH:
        raise TemplateError(
            f"context is nested deeper than {MAX_CONTEXT_DEPTH} levels at '{_path_text(path)}'"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TemplateError(f"context key {key!r} at '{_path_text(path)}' is not a string")
            if key.startswith("_"):
                raise TemplateError(
                    f"context key '{key}' at '{_path_text(path)}' may not start with '_'"
                )
            if not isinstance(item, PLAIN_SCALARS):
                _check_plain(item, (*path, key), depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if not isinstance(item, PLAIN_SCALARS):
                _check_plain(item, (*path, index), depth + 1)
    elif not isinstance(value, PLAIN_SCALARS):
        raise TemplateError(
            f"context value at '{_path_text(path)}' is a {type(value).__name__}; only plain "
            "data (dict, list, str, number, bool, None, Decimal, date, datetime) can be rendered"
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
    _check_plain(data, (), 0)
    # a shallow copy: {% firstof ... as x %} and {% cycle ... as x %} write into the top dict
    return data


def _render_compiled(compiled: _Compiled, data: dict[str, Any], html: bool) -> str:
    context = Context(dict(data), autoescape=html)
    budget = context.budget = Budget()
    try:
        output = compiled.template.render(context)
    except TemplateError as exc:
        raise (budget.breach or exc) from None
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc) from None
    except RecursionError:  # pragma: no cover - nesting is bounded when compiling
        raise TemplateError("template budget exceeded: nested too deeply to render") from None
    except Exception as exc:
        raise TemplateError(f"template rendering failed: {type(exc).__name__}: {exc}") from None
    if budget.breach is not None:  # swallowed by an {% if %} condition: still a breach
        raise budget.breach
    if len(output) > MAX_OUTPUT_CHARS:
        raise TemplateError(
            f"rendered text is too long: {len(output)} characters (limit {MAX_OUTPUT_CHARS})"
        )
    # Django returns a SafeString; callers (and SDKs) get a plain str.
    return "".join([output])


def render(text: str, context: Mapping[str, Any], *, html: bool = False) -> str:
    """Render ``text`` with plain-data ``context``; ``html=True`` turns autoescaping on."""
    if isinstance(text, str) and "{" not in text and len(text) <= MAX_SOURCE_CHARS:
        # No variable, tag or comment can start without a brace, and literal text is never
        # escaped: the text is its own rendering (a tag name, a subject line). Django's
        # render of it cost ~40 µs a step here; the context is still checked as before.
        _plain_context(context)
        return "".join([text])  # a plain str, as rendering gives (not a SafeString or an enum)
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
        if not reads_context(value):
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


def reads_context(value: Any) -> bool:
    """True when a string inside ``value`` (a str, or dicts and lists of them) has ``{{`` or
    ``{%``: rendering it reads the context. Other text renders as itself."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(reads_context(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(reads_context(item) for item in value)
    return False


# What text that reads nothing is rendered over: its context need not be built or checked.
NO_CONTEXT = CheckedContext()


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
