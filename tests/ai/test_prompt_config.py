"""Generation config normalisation and the variables a prompt's texts use."""

from __future__ import annotations

import pytest

from prompts.generation import (
    PromptSpec,
    normalize_generation_config,
    prompt_variables_used,
    strip_code_fence,
    undeclared_variables,
)


def test_camel_case_gemini_keys_are_accepted():
    config = normalize_generation_config(
        {"maxOutputTokens": 10, "topP": 0.5, "responseMimeType": "application/json"}
    )

    assert config == {"max_output_tokens": 10, "top_p": 0.5, "json_output": True}


def test_a_response_schema_implies_json_output():
    assert normalize_generation_config({"response_schema": {"type": "object"}})["json_output"]
    assert normalize_generation_config(None) == {"json_output": False}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"temp": 1, "x": 2}, "unknown key(s) temp, x"),
        ({"temperature": "hot"}, "generation_config.temperature must be a number"),
        ({"max_output_tokens": 1.5}, "max_output_tokens must be an integer"),
        ({"max_output_tokens": True}, "max_output_tokens must be an integer"),
        ({"response_schema": "object"}, "response_schema must be an object"),
    ],
)
def test_a_bad_config_is_refused_with_the_key_named(config, message):
    with pytest.raises(ValueError) as caught:
        normalize_generation_config(config)

    assert message in str(caught.value)


def test_it_lists_the_top_level_variables_a_prompt_uses():
    text = (
        "{{ contact.first_name }} {{ contact.email }} {% if steps.a.result %}{{ goal }}{% endif %}"
    )

    assert prompt_variables_used(text) == ["contact", "goal", "steps"]


def test_it_reports_variables_used_but_not_documented():
    spec = PromptSpec(
        name="p",
        version=1,
        system_text="{{ contact.first_name }} {{ goal }}",
        user_template="{{ input }} {{ plan }}",
        template_variables=["contact"],
    )

    assert undeclared_variables(spec=spec) == ["goal", "plan"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ("```\n[1]\n```\n", "[1]"),
        ('{"a": 1}', '{"a": 1}'),
        ('say ```json {"a": 1}```', 'say ```json {"a": 1}```'),
    ],
)
def test_code_fences_are_stripped_only_around_the_whole_text(text, expected):
    assert strip_code_fence(text) == expected
