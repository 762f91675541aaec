"""Schema problems read as plain words, with 'did you mean' hints found at the right level."""

from __future__ import annotations

import pytest

from engine.definition import (
    DefinitionError,
    Step,
    WorkflowDefinition,
    load_definition,
    parse_definition,
)
from engine.definition.kinds.messaging import SendSmsConfig


def problems(document: dict) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_definition(document)
    return [str(p) for p in caught.value.problems]


def doc(steps: list, **extra) -> dict:
    return {"name": "T", "trigger": {"type": "manual"}, "steps": steps, **extra}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            doc(
                [
                    {
                        "id": "a",
                        "type": "ab_split",
                        "config": {"variants": [{"name": "A", "wieght": 1}] * 2},
                    }
                ]
            ),
            "steps[0].config.variants[0]: unknown field 'wieght' (did you mean 'weight'?)",
        ),
        (
            doc(
                [{"id": "a", "type": "exit"}],
                trigger={"type": "webhook", "config": {"match": "email"}},
            ),
            "trigger.config: unknown field 'match' (did you mean 'match_by'?)",
        ),
        (
            doc([{"id": "a", "type": "exit"}], settings={"timezon": "UTC"}),
            "settings: unknown field 'timezon' (did you mean 'timezone'?)",
        ),
        (
            doc([{"id": "a", "type": "exit"}], settings={"max_step_visits": 0}),
            "settings.max_step_visits: must be at least 1",
        ),
        (
            doc([{"id": "a", "type": "exit"}], settings={"max_step_visits": 10**6}),
            "settings.max_step_visits: must be at most 10000",
        ),
        (
            doc([{"id": "a", "type": "exit", "name": "x" * 300}]),
            "steps[0].name: must be at most 255 characters",
        ),
        (
            doc(
                [
                    {
                        "id": "a",
                        "type": "http_request",
                        "config": {"url": "https://x", "timeout": "soon"},
                    }
                ]
            ),
            "steps[0].config.timeout: expected a number, got 'soon'",
        ),
        (
            doc(
                [
                    {
                        "id": "a",
                        "type": "wait",
                        "config": {"duration": "1d", "business_hours_only": None},
                    }
                ]
            ),
            "steps[0].config.business_hours_only: expected true or false, got nothing",
        ),
        (
            doc([{"id": "a", "type": "wait", "config": {"duration": True}}]),
            "steps[0].config.duration: expected a duration such as 30m, 1d or PT1H",
        ),
        (
            doc([{"id": "a", "type": "condition", "config": {"if": "tags"}}]),
            "steps[0].config.if: expected rules: a list or a mapping (all/any/not)",
        ),
        (
            doc([{"id": "a", "type": "update_contact", "config": {"fields": {}}}]),
            "steps[0].config.fields: needs at least 1 item(s)",
        ),
        (
            doc([{"id": "a", "type": "update_contact", "config": {"fields": [1]}}]),
            "steps[0].config.fields: expected a mapping, got a list",
        ),
        (
            doc([{"id": "a", "type": "send_sms", "config": {"message": True}}]),
            "steps[0].config.message: expected text, got true/false",
        ),
        (
            doc([{"id": "a", "type": "exit", "config": {"reason": 3.5}}]),
            "steps[0].config.reason: expected text, got the number 3.5",
        ),
        (
            doc([{"id": "a", "type": "nope", "config": {"x": 1}}]),
            "steps[0].type: unknown step type 'nope'",
        ),
        (
            doc([{"id": "a", "type": 7}]),
            "steps[0].type: unknown step type '7'",
        ),
        (doc(["a"]), "steps[0]: expected a mapping, got 'a'"),
        (doc([], trigger="manual"), "trigger: expected a mapping, got 'manual'"),
    ],
)
def test_schema_problems_read_as_plain_words(document: dict, expected: str) -> None:
    assert expected in problems(document)


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(DefinitionError, match="unknown format 'xml': use yaml or json"):
        parse_definition("name: x", format="xml")  # type: ignore[arg-type]


def test_models_validate_plain_dicts_and_compare_by_value() -> None:
    step = Step.model_validate({"id": "a", "type": "SEND_SMS", "config": {"message": "hi"}})
    again = Step.model_validate(
        {"id": "a", "type": "send_sms", "config": SendSmsConfig(message="hi")}
    )

    assert step == again
    assert isinstance(step.config, SendSmsConfig)
    definition = load_definition(doc([{"id": "a", "type": "exit"}]))
    assert definition != "not a definition"
    assert WorkflowDefinition.model_validate(doc([{"id": "a", "type": "exit"}])) == definition


def test_a_text_duration_in_typescript_format_is_kept() -> None:
    document = {
        "name": "T",
        "trigger": {"type": "manual"},
        "actions": [{"id": "w", "type": "wait", "config": {"delay": "5m"}}, "oops"],
    }

    assert problems(document) == ["steps[1]: expected a mapping, got 'oops'"]


@pytest.mark.parametrize("kind", ["missing", "extra_forbidden"])
def test_an_error_whose_location_has_no_field_left_is_still_a_plain_problem(kind):
    # Union members and validators add loc parts that are not fields; when nothing else is
    # left the problem has no field to name (this raised IndexError through the API).
    from engine.definition.problems import LineMap
    from engine.definition.schema import WorkflowDefinition
    from engine.definition.translate import _problem

    error = {"type": kind, "msg": "Field required", "loc": ("list[str]",)}
    problem = _problem(error, (), {}, LineMap(), WorkflowDefinition)
    assert problem.path == ""
    assert problem.message == "field required"
