"""AI prices and provider settings are checked at start-up by Django's system checks."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from prompts.checks import check_ai_settings


def messages(settings_errors) -> list[tuple[str, str]]:
    return [(error.id, error.msg) for error in settings_errors]


def test_the_default_settings_pass():
    assert check_ai_settings() == []


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        (
            {"gemini-2.5-flash": {"input": "0.30", "ouput": "2.50"}},
            "STUDIO_AI_PRICES['gemini-2.5-flash']: unknown key(s) ouput",
        ),
        ({"m": {"input": "0,30", "output": "1"}}, "STUDIO_AI_PRICES['m']['input'] must be"),
        ({"m": "0.30"}, "STUDIO_AI_PRICES['m'] must be {'input'"),
        ('{"m": {"input": 1', "STUDIO_AI_PRICES is not valid JSON"),
        ('["m"]', "STUDIO_AI_PRICES must be an object"),
    ],
)
def test_a_price_typo_is_a_start_up_error(settings, prices, message):
    settings.STUDIO_AI_PRICES = prices

    ((check_id, text),) = messages(check_ai_settings())

    assert check_id == "prompts.E001"
    assert text.startswith(message)


def test_prices_from_the_environment_are_json(settings):
    settings.STUDIO_AI_PRICES = '{"mine": {"input": "1", "output": "2"}}'
    assert check_ai_settings() == []


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("STUDIO_AI_TIMEOUT_SECONDS", 0, "prompts.E002"),
        ("STUDIO_AI_TIMEOUT_SECONDS", "30", "prompts.E002"),
        ("STUDIO_AI_RETRY_BASE_SECONDS", -1, "prompts.E003"),
        ("STUDIO_AI_MAX_OUTPUT_TOKENS", 1.5, "prompts.E004"),
        ("GEMINI_BASE_URL", "localhost:8080", "prompts.E005"),
        ("OPENAI_COMPATIBLE_BASE_URL", "ftp://x/v1", "prompts.E005"),
        ("GEMINI_API_KEY", "key\n", "prompts.E006"),
    ],
)
def test_a_bad_provider_setting_is_a_start_up_error_naming_it(settings, name, value, check_id):
    setattr(settings, name, value)

    ((found_id, text),) = messages(check_ai_settings())

    assert found_id == check_id
    assert text.startswith(name)


def test_manage_py_check_refuses_to_start(settings):
    settings.STUDIO_AI_PRICES = {"m": {"input": "x", "output": "1"}}

    with pytest.raises(SystemCheckError, match=r"prompts\.E001"):
        call_command("check")
