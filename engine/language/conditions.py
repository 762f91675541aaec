"""Condition rules: data-only rule groups and sandboxed CEL expressions.

A rule set is a list (all must hold), ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": rule}``, a
field rule ``{"field", "operator", "value"}`` or ``{"expression": "<CEL>"}``. The semantics of each
operator (coercion, case, None) are documented in docs/conditions.md.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import cel
from django.utils import timezone

from engine.language import templating
from engine.language.template_filters import to_datetime

NAMESPACES = frozenset({"contact", "trigger", "steps", "workflow", "enrollment", "now"})
MAX_EXPRESSION_CHARS = 4_000
# CEL's cost limit (docs/conditions.md): comprehensions (map, filter, all, exists, exists_one)
# nested at most 2 deep, at most 8 per expression, and at most 100,000 estimated element visits
# (comprehensions x largest list ** nesting), checked against literals when compiling and
# against the data's largest list before running.
MAX_COMPREHENSION_NESTING = 2
MAX_COMPREHENSIONS = 8
MAX_CEL_COST = 100_000
logger = logging.getLogger(__name__)
_CEL_STRING = re.compile(
    r"[rRbB]*(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", re.S
)
_COMPREHENSION = re.compile(r"\.\s*(?:map|filter|all|exists_one|exists)\s*\(")
_CONTACT_WORD = re.compile(r"(?<![\w.])contact\b")
_GROUP_KEYS = ("all", "any", "not", "field", "expression")
_TEMPLATE_FIELD = re.compile(r"\{\{\s*([^{}|]+?)\s*\}\}")
_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[\w-]+)*")
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


class ConditionError(ValueError):
    """Malformed rules: bad shape, unknown operator, bad field or a CEL syntax error."""


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return None
    text = str(value).strip()
    return Decimal(text) if _NUMERIC.fullmatch(text) else None


def _as_moment(value: Any) -> datetime | None:
    moment = to_datetime(value)
    if isinstance(moment, datetime) or moment is None:
        return moment
    # A date alone is midnight where the workflow is (the active zone).
    return datetime.combine(moment, time(0), tzinfo=timezone.get_current_timezone())


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value).casefold()
    return None


def _equals(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(actual, bool) or isinstance(expected, bool):
        left, right = _as_bool(actual), _as_bool(expected)
        return left is not None and left == right
    left_n, right_n = _as_number(actual), _as_number(expected)
    if left_n is not None and right_n is not None:
        return left_n == right_n
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    if isinstance(actual, date) or isinstance(expected, date):
        left_m, right_m = _as_moment(actual), _as_moment(expected)
        return left_m is not None and left_m == right_m
    return bool(actual == expected)


def _blank(value: Any) -> bool:
    """Missing, null, empty or whitespace-only text, an empty list or mapping."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, tuple, Mapping)) and not value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _order(actual: Any, expected: Any) -> int | None:
    """-1, 0 or 1, or None when the two are not comparable (the comparison does not hold).

    Blank, missing, null, booleans, lists and mappings are never ordered. When either side is
    a number (or numeric text), both must be numbers: ``"" < 50`` and ``"abc" < 50`` do not
    hold. Otherwise two moments compare as moments, two texts case-insensitively.
    """
    if _blank(actual) or _blank(expected):
        return None
    if any(isinstance(v, (bool, list, tuple, Mapping)) for v in (actual, expected)):
        return None
    left_n, right_n = _as_number(actual), _as_number(expected)
    if left_n is not None or right_n is not None or _is_number(actual) or _is_number(expected):
        if left_n is None or right_n is None:
            return None
        return (left_n > right_n) - (left_n < right_n)
    left_m, right_m = _as_moment(actual), _as_moment(expected)
    if left_m is not None and right_m is not None:
        return (left_m > right_m) - (left_m < right_m)
    if isinstance(actual, str) and isinstance(expected, str):
        left, right = actual.casefold(), expected.casefold()
        return (left > right) - (left < right)
    return None


def _contains(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return False
    if isinstance(actual, (list, tuple)):
        return any(_equals(item, expected) for item in actual)
    if isinstance(actual, Mapping):
        return expected in actual
    return _text_test(actual, expected, lambda left, right: right in left)


def _text_test(actual: Any, expected: Any, test: Callable[[str, str], bool]) -> bool:
    # An empty value in the rule (say a template that rendered nothing) matches nothing.
    left, right = _text(actual), _text(expected)
    return left is not None and bool(right and right.strip()) and test(left, right)


def _in(actual: Any, expected: Any) -> bool:
    if actual is None or not isinstance(expected, (str, list, tuple)):
        return False
    options = [o.strip() for o in expected.split(",")] if isinstance(expected, str) else expected
    values = actual if isinstance(actual, (list, tuple)) else [actual]
    return any(_equals(value, option) for value in values for option in options)


def _is_empty(actual: Any, expected: Any = None) -> bool:
    return _blank(actual)


def _order_test(actual: Any, expected: Any, test: Callable[[int, int], bool]) -> bool:
    result = _order(actual, expected)
    return result is not None and test(result, 0)


def _moment_test(actual: Any, expected: Any, test: Callable[[Any, Any], bool]) -> bool:
    left, right = _as_moment(actual), _as_moment(expected)
    return left is not None and right is not None and test(left, right)


COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _equals,
    "not_equals": lambda a, b: not _equals(a, b),
    "contains": _contains,
    "not_contains": lambda a, b: not _contains(a, b),
    "starts_with": lambda a, b: _text_test(a, b, str.startswith),
    "ends_with": lambda a, b: _text_test(a, b, str.endswith),
    "in": _in,
    "not_in": lambda a, b: not _in(a, b),
    "greater_than": lambda a, b: _order_test(a, b, operator.gt),
    "less_than": lambda a, b: _order_test(a, b, operator.lt),
    "gte": lambda a, b: _order_test(a, b, operator.ge),
    "lte": lambda a, b: _order_test(a, b, operator.le),
    "is_empty": _is_empty,
    "is_not_empty": lambda a, b: not _is_empty(a),
    "before": lambda a, b: _moment_test(a, b, operator.lt),
    "after": lambda a, b: _moment_test(a, b, operator.gt),
}
OPERATORS: frozenset[str] = frozenset(COMPARATORS)
UNARY = frozenset({"is_empty", "is_not_empty"})
_ALIASES: dict[str, str] = {name: name for name in COMPARATORS} | {
    "eq": "equals", "==": "equals", "is": "equals",
    "neq": "not_equals", "!=": "not_equals", "is_not": "not_equals",
    "gt": "greater_than", ">": "greater_than",
    "lt": "less_than", "<": "less_than",
    ">=": "gte", "greater_than_or_equal": "gte",
    "<=": "lte", "less_than_or_equal": "lte",
}  # fmt: skip


def cel_value(value: Any) -> Any:
    """Plain data as CEL takes it: naive datetimes are in the active (workflow) zone, dates
    ISO strings."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
        return value.replace(tzinfo=timezone.get_current_timezone())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): cel_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [cel_value(item) for item in value]
    return value


@dataclass(frozen=True)
class RuleProblem:
    """One problem in a rule set; ``path`` is relative, like ``if[1].operator``."""

    path: str
    message: str


def normalize_operator(op: str) -> str:
    """Canonical operator name for ``op`` or an alias (``eq``, ``>=``, ``is_not``, ...)."""
    canonical = _ALIASES.get(op) or _ALIASES.get(str(op).strip().lower())
    if canonical is None:
        raise ConditionError(f"unknown operator '{op}'")
    return canonical


@functools.lru_cache(maxsize=4096)
def _field_path(field: str) -> str:
    templated = _TEMPLATE_FIELD.fullmatch(field.strip())
    text = templated.group(1) if templated else field.strip()
    if not _PATH.fullmatch(text):
        raise ConditionError(
            f"bad field '{field}': use a path like tags or contact.custom_fields.goal"
        )
    head = text.split(".", 1)[0]
    return text if head in NAMESPACES else f"contact.{text}"


def field_path(field: str) -> str:
    """Canonical dotted path: ``tags`` → ``contact.tags``, ``{{ trigger.x }}`` → ``trigger.x``."""
    if not isinstance(field, str):
        raise ConditionError(f"field must be a string, not {type(field).__name__}")
    return _field_path(field)


def _walk(current: Any, bits: list[str]) -> Any:
    for bit in bits:
        if isinstance(current, Mapping):
            current = current.get(bit)
        elif isinstance(current, (list, tuple)) and re.fullmatch(r"-?\d+", bit):
            current = current[int(bit)] if -len(current) <= int(bit) < len(current) else None
        else:
            return None
    return current


def resolve_field(field: str, context: Mapping) -> Any:
    """The value at ``field`` in ``context`` (dicts and list indexes only); missing gives None."""
    return _walk(context, field_path(field).split("."))


@dataclass(frozen=True)
class _Shape:
    """What an expression may cost: comprehension count and nesting, largest literal list."""

    comprehensions: int
    nesting: int
    largest_literal: int
    reads_data: bool  # names a namespace: the data's lists may be walked, not only literals

    def cost(self, largest_list: int) -> int:
        if not self.comprehensions:
            return 0
        return self.comprehensions * max(largest_list, self.largest_literal, 1) ** self.nesting


def _shape(expression: str) -> _Shape:
    code = _CEL_STRING.sub("''", expression)
    starts = {match.end() - 1 for match in _COMPREHENSION.finditer(code)}
    stack: list[bool] = []
    commas: list[int] = []
    nesting = largest = 0
    for index, char in enumerate(code):
        if char in "([{":
            stack.append(index in starts)
            nesting = max(nesting, sum(stack))
            commas.append(0)
        elif char in ")]}":
            if stack:
                stack.pop()
            items = commas.pop() + 1 if commas else 0
            if char == "]":
                largest = max(largest, items)
        elif char == "," and commas:
            commas[-1] += 1
    reads_data = any(re.search(rf"(?<![\w.]){name}\b", code) for name in NAMESPACES)
    return _Shape(len(starts), nesting, largest, reads_data)


def _check_cost(shape: _Shape) -> None:
    if shape.nesting > MAX_COMPREHENSION_NESTING:
        raise ConditionError(
            f"expression nests comprehensions (map, filter, all, exists) {shape.nesting} deep "
            f"(limit {MAX_COMPREHENSION_NESTING})"
        )
    if shape.comprehensions > MAX_COMPREHENSIONS:
        raise ConditionError(
            f"expression has {shape.comprehensions} comprehensions (limit {MAX_COMPREHENSIONS})"
        )
    if shape.cost(0) > MAX_CEL_COST:
        raise ConditionError(
            f"expression would visit about {shape.cost(0)} list elements (limit {MAX_CEL_COST})"
        )


@dataclass(frozen=True)
class _Program:
    program: Any
    shape: _Shape


@functools.lru_cache(maxsize=2048)
def _program(expression: str) -> _Program:
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ConditionError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    shape = _shape(expression)
    _check_cost(shape)
    try:
        return _Program(cel.compile(expression), shape)
    except (ValueError, RuntimeError) as exc:
        raise ConditionError(f"expression syntax error: {exc}") from None


def _largest_collection(value: Any, depth: int = 0) -> int:
    """The most items in any list or map inside ``value`` (what a comprehension could walk)."""
    if depth > 64 or not isinstance(value, (dict, list)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return max([len(value), *(_largest_collection(item, depth + 1) for item in items)])


def _cel_context(context: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {name: {} for name in NAMESPACES if name != "now"}
    data.update(cel_value({k: v for k, v in context.items() if not str(k).startswith("_")}))
    return data


_SHAPE_HINT = "a rule needs one of 'field', 'expression', 'all', 'any' or 'not'"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class _Evaluation:
    """One evaluate() call: the CEL data (built once, when first needed) and runtime errors."""

    cel_data: dict[str, Any] | None = None
    largest: int | None = None
    errors: list[str] | None = None


def _run(rules: Any, context: Mapping[str, Any], path: str, cel_data: _Evaluation) -> bool:
    if isinstance(rules, list):
        return all(_run(rule, context, f"{path}[{i}]", cel_data) for i, rule in enumerate(rules))
    if not isinstance(rules, Mapping):
        raise ConditionError(f"{path or 'rules'}: a rule must be a mapping or a list")
    if "field" in rules:
        return _field_rule(rules, context, path)
    for key, combine in (("all", all), ("any", any)):
        if key in rules:
            group, where = rules[key], _join(path, key)
            if not isinstance(group, list):
                raise ConditionError(f"{where}: must be a list of rules")
            return combine(_run(r, context, f"{where}[{i}]", cel_data) for i, r in enumerate(group))
    if "not" in rules:
        return not _run(rules["not"], context, _join(path, "not"), cel_data)
    if "expression" in rules:
        return _expression(rules["expression"], context, _join(path, "expression"), cel_data)
    raise ConditionError(f"{path or 'rules'}: {_SHAPE_HINT}")


def _field_rule(rule: Mapping[str, Any], context: Mapping[str, Any], path: str) -> bool:
    try:
        op = normalize_operator(rule.get("operator", "equals"))
        actual = resolve_field(rule["field"], context)
    except ConditionError as exc:
        raise ConditionError(f"{path or 'rules'}: {exc}") from None
    expected = rule.get("value")
    if isinstance(expected, str) and templating.has_template_syntax(expected):
        try:
            expected = templating.render_value(expected, context)
        except templating.TemplateError as exc:
            raise ConditionError(f"{_join(path, 'value')}: {exc}") from None
    return COMPARATORS[op](actual, expected)


def _expression_text(expression: Any) -> str:
    if not isinstance(expression, str) or not expression.strip():
        raise ConditionError("must be a non-empty CEL expression")
    return expression


def _expression(expression: Any, context: Mapping, path: str, run: _Evaluation) -> bool:
    try:
        compiled = _program(_expression_text(expression))
    except ConditionError as exc:
        raise ConditionError(f"{path}: {exc}") from None
    if run.cel_data is None:
        run.cel_data = _cel_context(context)  # built once per evaluate(), only when needed
    if compiled.shape.comprehensions and compiled.shape.reads_data:
        if run.largest is None:
            run.largest = _largest_collection(run.cel_data)
        cost = compiled.shape.cost(run.largest)
        if cost > MAX_CEL_COST:
            why = f"would visit about {cost} elements (limit {MAX_CEL_COST})"
            return _does_not_hold(run, path, expression, why)
    try:
        result = compiled.program.execute(run.cel_data)
    except Exception as exc:  # any runtime error of the Rust core: 1/0, overflow, index…
        # a missing key, a type mismatch or an arithmetic error means "does not hold"
        return _does_not_hold(run, path, expression, f"{type(exc).__name__}: {exc}")
    return bool(result)


def _does_not_hold(run: _Evaluation, path: str, expression: str, why: str) -> bool:
    """A runtime error means "does not hold"; it is logged and handed to the caller to record."""
    message = f"{path or 'expression'}: {expression[:200]!r} failed at run time ({why})"
    logger.warning("condition does not hold: %s", message)
    if run.errors is not None:
        run.errors.append(message)
    return False


def evaluate(rules: Any, context: Mapping[str, Any], *, errors: list[str] | None = None) -> bool:
    """True when ``rules`` hold for ``context``; None or [] hold. Malformed rules raise.

    A CEL expression that fails at run time (1/0, overflow, index out of range, over the cost
    limit for this data) does not hold; its message, naming the rule path and the expression,
    is logged and appended to ``errors`` when given, so callers can record it.
    """
    return True if rules is None else _run(rules, context, "", _Evaluation(errors=errors))


def reads_contact(rules: Any) -> bool:
    """Whether ``rules`` read the contact: a contact field rule or an expression naming it."""
    if any(not f.startswith(("trigger.", "now")) for f in rule_fields(rules)):
        return True
    return any(_CONTACT_WORD.search(_CEL_STRING.sub("''", e)) for e in _expressions(rules))


def _expressions(rules: Any) -> list[str]:
    if isinstance(rules, list):
        return [e for rule in rules for e in _expressions(rule)]
    if not isinstance(rules, Mapping):
        return []
    found = [rules["expression"]] if isinstance(rules.get("expression"), str) else []
    for key in ("all", "any", "not"):
        if key in rules:
            found.extend(_expressions(rules[key]))
    return found


def _problems(rules: Any, path: str, out: list[RuleProblem]) -> None:
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            _problems(rule, f"{path}[{index}]", out)
        return
    present = [key for key in _GROUP_KEYS if key in rules] if isinstance(rules, Mapping) else None
    if present is None or len(present) != 1:
        found = f", exactly one (found {', '.join(present)})" if present else ""
        shape = "a rule must be a mapping or a list" if present is None else _SHAPE_HINT + found
        out.append(RuleProblem(path or "rules", shape))
        return
    key = present[0]
    where, value = _join(path, key), rules[key]
    if key in ("all", "any") and not isinstance(value, list):
        out.append(RuleProblem(where, "must be a list of rules"))
    elif key == "any" and not value:
        out.append(RuleProblem(where, "needs at least one rule (an empty 'any' never holds)"))
    elif key in ("all", "any", "not"):
        _problems(value, where, out)
    elif key == "expression":
        try:
            _program(_expression_text(value))
        except ConditionError as exc:
            out.append(RuleProblem(where, str(exc)))
    else:
        _field_rule_problems(rules, path, out)


def _field_rule_problems(rule: Mapping[str, Any], path: str, out: list[RuleProblem]) -> None:
    try:
        field_path(rule["field"])
    except ConditionError as exc:
        out.append(RuleProblem(_join(path, "field"), str(exc)))
    try:
        op = normalize_operator(rule.get("operator", "equals"))
    except ConditionError as exc:
        out.append(RuleProblem(_join(path, "operator"), str(exc)))
        return
    value, where = rule.get("value"), _join(path, "value")
    if op not in UNARY and "value" not in rule:
        out.append(RuleProblem(where, f"operator '{op}' needs a value"))
    elif op in ("in", "not_in") and not isinstance(value, (list, tuple, str)):
        out.append(RuleProblem(where, f"operator '{op}' needs a list or a comma list"))
    elif isinstance(value, str) and templating.has_template_syntax(value):
        try:
            templating.referenced_paths(value)
        except templating.TemplateError as exc:
            out.append(RuleProblem(where, str(exc)))


def validate_rules(rules: Any, *, path: str = "") -> list[RuleProblem]:
    """Every structural, operator, field and CEL-compile problem in ``rules``; [] when fine."""
    out: list[RuleProblem] = []
    if rules is not None:
        _problems(rules, path, out)
    return out


def _fields(rules: Any, out: dict[str, None]) -> None:
    if isinstance(rules, list):
        for rule in rules:
            _fields(rule, out)
    elif isinstance(rules, Mapping):
        if "field" in rules:
            with contextlib.suppress(ConditionError):
                out[field_path(rules["field"])] = None
        for key in ("all", "any", "not"):
            if key in rules:
                _fields(rules[key], out)


def rule_fields(rules: Any) -> list[str]:
    """Canonical dotted paths read by the field rules, in first-seen order (bad fields skipped)."""
    out: dict[str, None] = {}
    _fields(rules, out)
    return list(out)
