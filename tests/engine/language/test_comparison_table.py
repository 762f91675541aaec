"""Every operator against every kind of value: the table in docs/conditions.md, as tests.

Empty, blank, missing and null values never hold in an ordering comparison, and neither does a
value that is not a number compared with a number (no text fallback: ``"" < 50`` is false).
"""

from __future__ import annotations

import pytest

from engine.language.conditions import evaluate

MISSING = object()
KINDS = {
    "missing": MISSING,
    "null": None,
    "empty": "",
    "blank": "  ",
    "numeric text": "42",
    "text": "abc",
    "number": 42,
    "boolean": True,
    "list": ["a", "b"],
    "empty list": [],
    "date text": "2025-03-01",
}
ORDER = list(KINDS)

# operator, rule value, then the expected result for each kind in ORDER:
#        missing null  empty blank  "42"  "abc"  42   True  [a,b]  []   date
T, F = True, False
TABLE = [
    ("equals", 42, [F, F, F, F, T, F, T, F, F, F, F]),
    ("not_equals", 42, [T, T, T, T, F, T, F, T, T, T, T]),
    ("contains", "b", [F, F, F, F, F, T, F, F, T, F, F]),
    ("not_contains", "b", [T, T, T, T, T, F, T, T, F, T, T]),
    ("starts_with", "a", [F, F, F, F, F, T, F, F, F, F, F]),
    ("ends_with", "c", [F, F, F, F, F, T, F, F, F, F, F]),
    ("in", ["42", "b"], [F, F, F, F, T, F, T, F, T, F, F]),
    ("not_in", ["42", "b"], [T, T, T, T, F, T, F, T, F, T, T]),
    ("greater_than", 40, [F, F, F, F, T, F, T, F, F, F, F]),
    ("less_than", 50, [F, F, F, F, T, F, T, F, F, F, F]),
    ("gte", 42, [F, F, F, F, T, F, T, F, F, F, F]),
    ("lte", 42, [F, F, F, F, T, F, T, F, F, F, F]),
    ("is_empty", None, [T, T, T, T, F, F, F, F, F, T, F]),
    ("is_not_empty", None, [F, F, F, F, T, T, T, T, T, F, T]),
    ("before", "2025-06-01", [F, F, F, F, F, F, F, F, F, F, T]),
    ("after", "2025-01-01", [F, F, F, F, F, F, F, F, F, F, T]),
]
CASES = [
    pytest.param(op, value, kind, expected, id=f"{op}-{kind}")
    for op, value, row in TABLE
    for kind, expected in zip(ORDER, row, strict=True)
]


def holds(op: str, value, actual) -> bool:
    fields = {} if actual is MISSING else {"score": actual}
    rule = {"field": "custom_fields.score", "operator": op, "value": value}
    return evaluate(rule, {"contact": {"custom_fields": fields}})


@pytest.mark.parametrize(("op", "value", "kind", "expected"), CASES)
def test_each_operator_against_each_kind_of_value(op, value, kind, expected):
    assert holds(op, value, KINDS[kind]) is expected


@pytest.mark.parametrize("score", ["", "  ", None, MISSING, "n/a", True, ["1"]])
@pytest.mark.parametrize("op", ["less_than", "lte", "greater_than", "gte"])
def test_no_ordering_comparison_with_a_number_holds_for_a_non_number(op, score):
    assert holds(op, 50, score) is False
    assert holds(op, "50", score) is False


def test_a_number_never_orders_against_text_even_as_the_rule_value():
    assert holds("less_than", "zzz", "42") is False
    assert holds("greater_than", "abc", 42) is False


def test_texts_order_case_insensitively_and_moments_as_moments():
    assert holds("greater_than", "ABB", "abc") is True
    assert holds("less_than", "2025-03-02T00:00:00+00:00", "2025-03-01T23:00:00-02:00") is False
    assert holds("less_than", "2025-03-02", "2025-03-01") is True


def test_an_empty_rule_value_matches_no_text():
    for op in ("contains", "starts_with", "ends_with"):
        assert holds(op, "", "abc") is False
        assert holds(op, "  ", "abc") is False
