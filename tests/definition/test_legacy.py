"""The TypeScript write-up's format is converted to the canonical shape on import."""

from __future__ import annotations

import json

import pytest

from engine.definition import DefinitionError, definition_to_dict, load_definition, parse_definition


def legacy(actions: list[dict], **extra) -> dict:
    return {
        "name": "Legacy",
        "enabled": False,
        "trigger": {"type": "VOICE_CALL", "config": {}},
        "conditions": [],
        "actions": actions,
        **extra,
    }


def canonical(document: dict) -> dict:
    return definition_to_dict(load_definition(document))


def test_it_turns_next_action_ids_into_targets_and_fall_through() -> None:
    out = canonical(
        legacy(
            [
                {"id": "a", "type": "SEND_SMS", "config": {"message": "1"}, "nextActionId": "c"},
                {"id": "b", "type": "send_sms", "config": {"message": "2"}, "nextActionId": None},
                {"id": "c", "type": "Send_Sms", "config": {"message": "3"}, "nextActionId": "b"},
                {"id": "d", "type": "send_sms", "config": {"message": "4"}, "nextActionId": None},
            ]
        )
    )

    assert [(s["id"], s["type"], s.get("next")) for s in out["steps"]] == [
        ("a", "send_sms", "c"),
        ("b", "send_sms", "end"),
        ("c", "send_sms", "b"),
        ("d", "send_sms", None),
    ]
    assert out["trigger"] == {"type": "voice_call"}
    assert out["metadata"] == {"enabled": False}


def test_it_converts_millisecond_delays_and_renamed_kinds() -> None:
    out = canonical(
        legacy(
            [
                {"id": "w", "type": "WAIT", "config": {"delay": 5400000}},
                {
                    "id": "f",
                    "type": "SCHEDULE_FOLLOW_UP",
                    "config": {"delay": 60000, "message": "x"},
                },
                {"id": "h", "type": "CALL_WEBHOOK", "config": {"webhookUrl": "https://x.test/"}},
                {"id": "l", "type": "UPDATE_LEAD", "config": {"leadId": "7", "updates": {"a": 1}}},
                {"id": "g", "type": "GENERATE_WORKOUT_PLAN", "config": {"level": "beginner"}},
                {"id": "e", "type": "SEND_EMAIL", "name": "Hello", "config": {"message": "Hi"}},
            ]
        )
    )

    configs = {s["id"]: (s["type"], s["config"]) for s in out["steps"]}
    assert configs == {
        "w": ("wait", {"duration": "1h30m"}),
        "f": ("schedule_follow_up", {"delay": "1m", "message": "x"}),
        "h": ("http_request", {"url": "https://x.test/"}),
        "l": ("update_lead", {"lead_id": "7", "updates": {"a": 1}}),
        "g": (
            "ai_prompt",
            {"prompt": "generate_workout_plan", "variables": {"level": "beginner"}},
        ),
        "e": ("send_email", {"subject": "Hello", "body": "Hi"}),
    }


def test_it_maps_every_condition_type_onto_a_trigger_field() -> None:
    conditions = [
        {"type": "KEYWORD_MATCH", "operator": "contains", "value": "plan"},
        {"type": "INTENT_MATCH", "operator": "in", "value": ["a", "b"]},
        {"type": "SENDER_MATCH", "operator": "equals", "value": "+49"},
        {"type": "TIME_RANGE", "operator": "greater_than", "value": 9},
        {"type": "DAY_OF_WEEK", "operator": "in", "value": [1, 2]},
        {"type": "CONFIDENCE_THRESHOLD", "operator": "greater_than", "value": 0.5},
        {"type": "CHANNEL_MATCH", "operator": "equals", "value": "voice"},
        {"type": "CUSTOM_FIELD", "field": "goal", "operator": "equals", "value": "fit"},
    ]
    out = canonical(legacy([{"id": "x", "type": "exit"}], conditions=conditions))

    assert [rule["field"] for rule in out["trigger"]["filters"]] == [
        "trigger.content",
        "trigger.intent",
        "trigger.from",
        "trigger.hour",
        "trigger.weekday",
        "trigger.intent_confidence",
        "trigger.channel",
        "custom_fields.goal",
    ]


def test_a_branch_becomes_a_condition() -> None:
    out = canonical(
        legacy(
            [
                {
                    "id": "b",
                    "type": "BRANCH",
                    "config": {
                        "conditions": [
                            {"type": "keyword_match", "operator": "contains", "value": "hi"}
                        ],
                        "nextActionId": "yes",
                    },
                    "nextActionId": "no",
                },
                {"id": "yes", "type": "exit", "config": {"reason": "yes"}},
                {"id": "no", "type": "exit", "config": {"reason": "no"}},
            ]
        )
    )

    assert out["steps"][0] == {
        "id": "b",
        "type": "condition",
        "config": {
            "if": [{"field": "trigger.content", "operator": "contains", "value": "hi"}],
            "then": "yes",
            "else": "no",
        },
    }


def test_a_time_based_trigger_becomes_a_schedule() -> None:
    document = legacy([{"id": "x", "type": "exit"}])
    document["trigger"] = {"type": "TIME_BASED", "config": {"schedule": "0 9 * * 1"}}

    assert canonical(document)["trigger"] == {"type": "schedule", "config": {"cron": "0 9 * * 1"}}


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        (
            [{"type": "KEYWORD_MATCHES", "value": "x"}],
            "conditions[0].type: unknown condition type 'KEYWORD_MATCHES' (did you mean "
            "'keyword_match'?) (line 1)",
        ),
        (
            [{"type": "CUSTOM_FIELD", "value": 1}],
            "conditions[0]: a custom_field condition needs a field (line 1)",
        ),
        (["x"], "conditions[0]: expected a mapping (line 1)"),
        ({"type": "x"}, "conditions: expected a list of conditions (line 1)"),
    ],
)
def test_it_reports_bad_conditions(conditions, message: str) -> None:
    text = json.dumps(legacy([{"id": "x", "type": "exit"}], conditions=conditions))

    with pytest.raises(DefinitionError) as caught:
        parse_definition(text)

    assert str(caught.value.problems[0]) == message


def test_it_reports_negative_delays_and_actions_that_are_not_a_list() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition(legacy([{"id": "w", "type": "wait", "config": {"delay": -5}}]))
    assert str(caught.value) == "actions[0].config.delay: delay must not be negative"

    with pytest.raises(DefinitionError) as caught:
        load_definition(legacy("nope"))  # type: ignore[arg-type]
    assert str(caught.value) == "actions: expected a list"


def test_errors_in_converted_actions_point_at_the_original_lines() -> None:
    text = json.dumps(legacy([{"id": "s", "type": "send_sms", "config": {}}]), indent=2)

    with pytest.raises(DefinitionError) as caught:
        parse_definition(text)

    assert str(caught.value) == "steps[0].config: missing required field 'message' (line 13)"
