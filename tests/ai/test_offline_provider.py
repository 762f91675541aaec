"""The offline provider answers without a network, clearly labelled and deterministic."""

from __future__ import annotations

import json

from prompts.providers.base import GenerationRequest
from prompts.providers.offline import OFFLINE_LABEL, OfflineProvider, placeholder_for


def request(**overrides) -> GenerationRequest:
    values = {"model": "gemini-2.5-flash", "system_text": "Write a plan for Ana.", "user_text": ""}
    return GenerationRequest(**{**values, **overrides})


def test_it_says_it_is_offline_and_echoes_a_summary_of_the_request():
    response = OfflineProvider().generate(request(user_text="I want to run 5k"))

    assert response.text.startswith("[offline provider — no GEMINI_API_KEY set]")
    assert "model: gemini-2.5-flash" in response.text
    assert "system prompt: Write a plan for Ana." in response.text
    assert "user input: I want to run 5k" in response.text
    assert (response.provider, response.model) == ("offline", "gemini-2.5-flash")


def test_it_is_deterministic():
    assert OfflineProvider().generate(request()) == OfflineProvider().generate(request())


def test_it_estimates_tokens_at_four_characters_each():
    response = OfflineProvider().generate(request(system_text="x" * 40, user_text="y" * 3))

    assert response.input_tokens == 11
    assert response.output_tokens == -(-len(response.text) // 4)


def test_it_shortens_long_texts_in_the_summary():
    response = OfflineProvider().generate(request(system_text="word " * 200))

    summary = response.text.splitlines()[2]
    assert summary.endswith("…")
    assert len(summary) < 150


def test_json_output_fills_the_schemas_required_properties_with_placeholders():
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "weeks": {"type": "integer"},
            "intensity": {"type": "string", "enum": ["low", "high"]},
            "sessions": {"type": "array", "items": {"type": "object", "properties": {"day": {}}}},
            "meta": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
            "optional": {"type": "number"},
        },
        "required": ["title", "weeks", "intensity", "sessions", "meta"],
    }

    response = OfflineProvider().generate(request(json_output=True, response_schema=schema))

    assert json.loads(response.text) == {
        "title": OFFLINE_LABEL,
        "weeks": 0,
        "intensity": "low",
        "sessions": [{"day": OFFLINE_LABEL}],
        "meta": {"ok": False},
    }


def test_json_output_without_a_schema_is_an_offline_marker_object():
    response = OfflineProvider().generate(request(json_output=True))

    assert json.loads(response.text) == {
        "offline": True,
        "note": OFFLINE_LABEL,
        "system_prompt": "Write a plan for Ana.",
    }


def test_placeholders_stop_at_a_bounded_depth():
    deep = {"type": "array", "items": {"type": "array", "items": {"type": "null"}}}

    assert placeholder_for(deep) == [[None]]
    assert placeholder_for(True) == OFFLINE_LABEL
    assert placeholder_for(deep, depth=4) == []
    assert placeholder_for({"type": "object", "properties": {"a": {}}}, depth=4) == {}
