from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engine.language.conditions import (
    OPERATORS,
    ConditionError,
    RuleProblem,
    cel_value,
    evaluate,
    field_path,
    normalize_operator,
    resolve_field,
    rule_fields,
    validate_rules,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def context():
    return {
        "contact": {
            "email": "ann@example.com",
            "stage": "Lead",
            "tags": ["VIP", "new-lead"],
            "custom_fields": {"score": "9", "goal": "marathon", "paid": "true"},
            "created_at": "2024-04-01T10:00:00Z",
            "phone": "",
        },
        "trigger": {"tag": "vip", "channel": "whatsapp", "intent_confidence": 0.92},
        "steps": {"welcome_email": {"opened": True}},
        "workflow": {"name": "Nurture"},
        "now": NOW,
    }


def rule(field, operator, value=None):
    return {"field": field, "operator": operator, "value": value}


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("eq", "equals"),
        ("==", "equals"),
        ("is", "equals"),
        ("neq", "not_equals"),
        ("!=", "not_equals"),
        ("is_not", "not_equals"),
        ("gt", "greater_than"),
        (">", "greater_than"),
        ("lt", "less_than"),
        ("<", "less_than"),
        (">=", "gte"),
        ("greater_than_or_equal", "gte"),
        ("<=", "lte"),
        ("less_than_or_equal", "lte"),
        (" GREATER_THAN ", "greater_than"),
    ],
)
def test_aliases_normalize_to_the_canonical_operator(alias, canonical):
    assert normalize_operator(alias) == canonical


def test_every_canonical_operator_normalizes_to_itself():
    assert {normalize_operator(op) for op in OPERATORS} == OPERATORS
    assert len(OPERATORS) == 16


def test_an_unknown_operator_is_refused():
    with pytest.raises(ConditionError, match="unknown operator 'bigger'"):
        normalize_operator("bigger")
    with pytest.raises(ConditionError, match="unknown operator 'None'"):
        normalize_operator(None)


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("tags", "contact.tags"),
        ("custom_fields.goal", "contact.custom_fields.goal"),
        ("contact.email", "contact.email"),
        ("{{contact.tags}}", "contact.tags"),
        ("{{ steps.welcome_email.opened }}", "steps.welcome_email.opened"),
        (" {{ trigger.tag }} ", "trigger.tag"),
        ("workflow.name", "workflow.name"),
        ("enrollment.status", "enrollment.status"),
        ("now", "now"),
        ("custom_fields.my-field", "contact.custom_fields.my-field"),
    ],
)
def test_field_paths_are_canonical(field, path):
    assert field_path(field) == path


@pytest.mark.parametrize("field", ["", "{{ contact.tags|first }}", "a..b", "x y", 5])
def test_bad_fields_are_refused(field):
    with pytest.raises(ConditionError, match="field"):
        field_path(field)


def test_resolve_field_reads_dicts_and_list_indexes(context):
    assert resolve_field("tags", context) == ["VIP", "new-lead"]
    assert resolve_field("tags.1", context) == "new-lead"
    assert resolve_field("tags.-1", context) == "new-lead"
    assert resolve_field("tags.5", context) is None
    assert resolve_field("{{ trigger.channel }}", context) == "whatsapp"
    assert resolve_field("custom_fields.nothing.deeper", context) is None
    assert resolve_field("email.upper", context) is None
    assert resolve_field("tags.x", context) is None


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        # equals: case-insensitive text, numeric and boolean coercion
        ("stage", "equals", "lead", True),
        ("stage", "equals", "customer", False),
        ("custom_fields.score", "eq", 9, True),
        ("custom_fields.score", "==", "9.0", True),
        ("custom_fields.paid", "is", True, True),
        ("{{ steps.welcome_email.opened }}", "equals", "true", True),
        ("{{ steps.welcome_email.opened }}", "equals", "yes", True),
        ("{{ steps.welcome_email.opened }}", "equals", False, False),
        ("{{ steps.welcome_email.opened }}", "equals", "maybe", False),
        ("{{ steps.welcome_email.opened }}", "equals", 1, True),
        ("{{ steps.welcome_email.opened }}", "equals", ["x"], False),
        ("missing", "equals", "x", False),
        ("missing", "equals", None, True),
        ("created_at", "equals", datetime(2024, 4, 1, 10, tzinfo=UTC), True),
        ("tags", "equals", ["VIP", "new-lead"], True),
        ("stage", "not_equals", "customer", True),
        ("stage", "neq", "LEAD", False),
        ("missing", "!=", "x", True),
        ("missing", "is_not", "x", True),
        # contains: membership on lists, substring on text, both case-insensitive
        ("tags", "contains", "vip", True),
        ("tags", "contains", "booked", False),
        ("email", "contains", "EXAMPLE", True),
        ("custom_fields", "contains", "goal", True),
        ("custom_fields.score", "contains", 9, True),
        ("missing", "contains", "x", False),
        ("email", "contains", None, False),
        ("tags", "not_contains", "booked", True),
        ("tags", "not_contains", "VIP", False),
        ("missing", "not_contains", "x", True),
        ("email", "starts_with", "ANN@", True),
        ("email", "starts_with", "bob", False),
        ("email", "ends_with", ".COM", True),
        ("tags", "ends_with", "lead", False),
        ("missing", "starts_with", "a", False),
        # in / not_in: a list or a comma-separated string
        ("trigger.channel", "in", ["sms", "WhatsApp"], True),
        ("trigger.channel", "in", "sms, whatsapp", True),
        ("trigger.channel", "in", "sms,email", False),
        ("tags", "in", ["vip", "gold"], True),
        ("trigger.channel", "in", 5, False),
        ("missing", "in", ["x"], False),
        ("trigger.channel", "not_in", ["sms"], True),
        ("trigger.channel", "not_in", "whatsapp", False),
        ("missing", "not_in", ["x"], True),
        # ordering: numbers after coercion, then datetimes, then text
        ("custom_fields.score", "greater_than", 5, True),
        ("custom_fields.score", "gt", "10", False),
        ("trigger.intent_confidence", ">", 0.8, True),
        ("custom_fields.score", "less_than", 10, True),
        ("custom_fields.score", "lt", 9, False),
        ("custom_fields.score", "<", ["x"], False),
        ("stage", "lt", "m", True),
        ("custom_fields.score", "gte", 9, True),
        ("custom_fields.score", ">=", Decimal("9.5"), False),
        ("custom_fields.score", "greater_than_or_equal", "8", True),
        ("custom_fields.score", "lte", 9, True),
        ("custom_fields.score", "<=", 8, False),
        ("custom_fields.score", "less_than_or_equal", 100, True),
        ("created_at", "gt", "2024-03-01", True),
        ("stage", "gt", "K", True),
        ("missing", "gt", 1, False),
        ("missing", "lt", 1, False),
        ("tags", "gt", 1, False),
        # emptiness
        ("phone", "is_empty", None, True),
        ("missing", "is_empty", None, True),
        ("tags", "is_empty", None, False),
        ("custom_fields.none", "is_not_empty", None, False),
        ("email", "is_not_empty", None, True),
        ("steps.welcome_email.opened", "is_empty", None, False),
        # before / after: aware datetimes, ISO strings, dates; naive means UTC
        ("created_at", "before", "2024-04-02", True),
        ("created_at", "before", date(2024, 4, 1), False),
        ("created_at", "after", datetime(2024, 4, 1, 9, 59), True),
        ("now", "after", "2024-05-01T11:59:00+00:00", True),
        ("now", "before", "{{ now|add_days:1 }}", True),
        ("now", "after", "not a date", False),
        ("missing", "before", "2024-01-01", False),
    ],
)
def test_each_operator(context, field, operator, value, expected):
    assert evaluate([rule(field, operator, value)], context) is expected


def test_is_empty_needs_no_value(context):
    assert evaluate({"field": "phone", "operator": "is_empty"}, context)
    assert validate_rules({"field": "phone", "operator": "is_empty"}) == []


def test_a_missing_operator_means_equals(context):
    assert evaluate({"field": "stage", "value": "lead"}, context)


def test_all_any_not_nest(context):
    rules = {
        "all": [
            rule("tags", "contains", "vip"),
            {"any": [rule("stage", "equals", "customer"), rule("custom_fields.score", ">", 5)]},
            {"not": rule("email", "is_empty")},
            {"not": {"any": [rule("tags", "contains", "unsubscribed")]}},
        ]
    }
    assert evaluate(rules, context)
    assert not evaluate({"any": [rule("stage", "equals", "x"), {"not": rules}]}, context)
    assert evaluate([], context)
    assert evaluate(None, context)
    assert not evaluate({"any": []}, context)


def test_cel_expressions(context):
    expression = "int(contact.custom_fields.score) > 5 && 'VIP' in contact.tags"
    assert evaluate({"expression": expression}, context)
    assert evaluate({"expression": "trigger.intent_confidence >= 0.9"}, context)
    assert evaluate({"expression": "now > timestamp('2024-01-01T00:00:00Z')"}, context)
    assert not evaluate({"expression": "workflow.name == 'Other'"}, context)
    assert evaluate({"expression": "has(contact.email) && !has(contact.nickname)"}, context)
    assert evaluate({"expression": "size(enrollment) == 0"}, context)


def test_cel_runtime_errors_mean_the_rule_does_not_hold(context):
    assert not evaluate({"expression": "contact.nickname == 'x'"}, context)
    assert not evaluate({"expression": "contact.custom_fields.score > 5"}, context)
    assert not evaluate({"expression": "unknown_variable"}, context)


def test_cel_sees_dates_as_strings_and_decimals_as_doubles():
    context = {"contact": {"born": date(1990, 1, 2), "balance": Decimal("2.5"), "seen": NOW}}
    assert evaluate({"expression": "contact.born == '1990-01-02'"}, context)
    assert evaluate({"expression": "contact.balance > 2.0"}, context)
    assert evaluate({"expression": "contact.seen == timestamp('2024-05-01T12:00:00Z')"}, context)


def test_cel_value_converts_naive_datetimes_to_utc():
    converted = cel_value({"a": (datetime(2024, 1, 1),), "b": 1})
    assert converted == {"a": [datetime(2024, 1, 1, tzinfo=UTC)], "b": 1}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("tags contains vip", "rules: a rule must be a mapping or a list"),
        ([{"operator": "equals"}], r"\[0\]: a rule needs one of"),
        ({"all": "x"}, "all: must be a list of rules"),
        ({"any": {"field": "tags"}}, "any: must be a list of rules"),
        ([rule("tags", "bigger", 1)], r"\[0\]: unknown operator 'bigger'"),
        ([rule("a b", "equals", 1)], r"\[0\]: bad field 'a b'"),
        ({"expression": "a >"}, "expression: expression syntax error"),
        ({"expression": ""}, "expression: must be a non-empty CEL expression"),
        ({"expression": "x" * 4001}, "longer than 4000"),
        ([rule("tags", "equals", "{% if %}")], r"\[0\].value: template syntax error"),
    ],
)
def test_malformed_rules_raise_with_their_path(context, rules, message):
    with pytest.raises(ConditionError, match=message):
        evaluate(rules, context)


def test_validate_rules_reports_every_problem_with_its_path():
    rules = [
        rule("tags", "contains", "vip"),
        {"field": "tags", "operator": "bigger", "value": 1},
        {"any": [{"field": "stage", "operator": "equals"}, {"expression": "a >"}]},
        {"not": {"all": {"field": "x"}}},
        {"field": "stage", "operator": "in", "value": 5},
        {"field": "{{ x|upper }}", "operator": "equals", "value": 1},
        {"field": "stage", "operator": "equals", "value": "{% bad %}"},
        {"any": []},
        {"field": "x", "expression": "true"},
        {"nothing": 1},
        "text",
        {"expression": 5},
    ]
    problems = validate_rules(rules, path="if")
    by_path = {problem.path: problem.message for problem in problems}
    assert all(isinstance(problem, RuleProblem) for problem in problems)
    assert by_path["if[1].operator"] == "unknown operator 'bigger'"
    assert by_path["if[2].any[0].value"] == "operator 'equals' needs a value"
    assert by_path["if[2].any[1].expression"].startswith("expression syntax error:")
    assert by_path["if[3].not.all"] == "must be a list of rules"
    assert by_path["if[4].value"] == "operator 'in' needs a list or a comma list"
    assert by_path["if[5].field"].startswith("bad field '{{ x|upper }}'")
    assert "tag 'bad' is not allowed" in by_path["if[6].value"]
    assert by_path["if[7].any"] == "needs at least one rule (an empty 'any' never holds)"
    assert by_path["if[8]"].endswith("exactly one (found field, expression)")
    assert by_path["if[9]"].startswith("a rule needs one of 'field', 'expression'")
    assert by_path["if[10]"] == "a rule must be a mapping or a list"
    assert by_path["if[11].expression"] == "must be a non-empty CEL expression"
    assert "if[0]" not in str(by_path)
    assert len(problems) == 12


def test_validate_rules_accepts_good_rules_and_none():
    good = {"all": [rule("tags", "contains", "x"), {"expression": "contact.stage == 'lead'"}]}
    assert validate_rules(good) == []
    assert validate_rules(None) == []
    assert validate_rules("x") == [RuleProblem("rules", "a rule must be a mapping or a list")]


def test_rule_fields_lists_canonical_paths_in_order():
    rules = {
        "any": [
            rule("tags", "contains", "x"),
            {"not": rule("{{ trigger.tag }}", "equals", "y")},
            [rule("contact.tags", "is_empty"), rule("bad field", "equals", 1)],
            {"expression": "steps.a.b"},
            {"all": [rule("{{steps.welcome_email.opened}}", "eq", True)]},
        ]
    }
    assert rule_fields(rules) == ["contact.tags", "trigger.tag", "steps.welcome_email.opened"]
