"""CEL expressions are bounded and never raise (issue 14, item 2)."""

from __future__ import annotations

import pytest

from engine.language import conditions
from engine.language.conditions import ConditionError, evaluate, reads_contact, validate_rules

TEN = "[0,1,2,3,4,5,6,7,8,9]"


def nested_maps(depth: int) -> str:
    expression = "1"
    for level in range(depth):
        expression = f"{TEN}.map(v{level}, {expression})"
    return f"size({expression}) > 0"


CONTEXT = {"contact": {"tags": ["vip"]}, "trigger": {"tag": "vip", "items": list(range(1000))}}


@pytest.mark.parametrize(
    "expression",
    [
        "1/0 == 1",
        "1 % 0 == 1",
        "9223372036854775807 + 1 > 0",
        "uint(-1) > 0u",
        "contact.tags[100] == 'x'",
        "trigger.tag.size() / 0 == 1",
        "-9223372036854775807 - 2 < 0",
        "contact.nope.deeper == 1",
        "int('x') == 1",
        "true && 1/0 == 1",
    ],
)
def test_a_runtime_error_does_not_hold_and_is_reported_with_the_expression(expression):
    errors: list[str] = []

    assert evaluate([{"expression": expression}], CONTEXT, errors=errors) is False
    if expression != "contact.nope.deeper == 1":
        assert len(errors) == 1
        assert errors[0].startswith(f"[0].expression: {expression!r} failed at run time (")


def test_a_failing_expression_inside_not_is_still_does_not_hold_for_that_rule():
    errors: list[str] = []

    held = evaluate(
        {"any": [{"expression": "1/0 == 1"}, {"expression": "true"}]}, CONTEXT, errors=errors
    )

    assert held is True
    assert errors[0].startswith("any[0].expression:")


@pytest.mark.parametrize("depth", [3, 6, 7])
def test_deeply_nested_comprehensions_are_refused_at_validation(depth):
    problems = validate_rules([{"expression": nested_maps(depth)}])

    assert [p.path for p in problems] == ["[0].expression"]
    assert (
        f"nests comprehensions (map, filter, all, exists) {depth} deep (limit 2)"
        in problems[0].message
    )


def test_a_too_deep_expression_already_published_is_malformed_not_slow():
    with pytest.raises(ConditionError, match="nests comprehensions"):
        evaluate([{"expression": nested_maps(6)}], CONTEXT)


def test_two_nested_comprehensions_over_small_lists_run():
    assert evaluate([{"expression": nested_maps(2)}], CONTEXT) is True


def test_too_many_comprehensions_are_refused():
    expression = " && ".join(f"{TEN}.all(x, x >= 0)" for _ in range(9))

    problems = validate_rules([{"expression": expression}])

    assert "9 comprehensions (limit 8)" in problems[0].message


def test_a_big_literal_list_squared_is_over_the_cost_limit():
    big = "[" + ",".join(["1"] * 400) + "]"

    problems = validate_rules([{"expression": f"{big}.all(a, {big}.all(b, a == b))"}])

    assert f"(limit {conditions.MAX_CEL_COST})" in problems[0].message


def test_nested_comprehensions_over_big_data_do_not_hold_at_run_time():
    errors: list[str] = []
    expression = "trigger.items.all(a, trigger.items.exists(b, b == a))"

    assert evaluate([{"expression": expression}], CONTEXT, errors=errors) is False
    assert "would visit about 2000000 elements" in errors[0]


def test_comprehension_words_inside_strings_are_not_counted():
    expression = "'.map(.map(.map(.map(' == trigger.tag"

    assert validate_rules([{"expression": expression}]) == []
    assert evaluate([{"expression": expression}], CONTEXT) is False


@pytest.mark.parametrize(
    ("rules", "reads"),
    [
        ([{"expression": "'vip' in contact.tags"}], True),
        (
            {
                "any": [
                    {"expression": "trigger.tag == 'x'"},
                    {"expression": "contact.stage == 'lead'"},
                ]
            },
            True,
        ),
        ([{"expression": "trigger.tag == 'contact'"}], False),
        ([{"expression": "trigger.contact_id > 0"}], False),
        ([{"field": "trigger.tag", "value": "x"}], False),
        ([{"field": "tags", "operator": "contains", "value": "vip"}], True),
    ],
)
def test_reads_contact_sees_expressions_too(rules, reads):
    assert reads_contact(rules) is reads
