"""Cost is tokens times the per-model price, from defaults overridden by STUDIO_AI_PRICES."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prompts.pricing import cost_for, prices_for


def test_it_prices_a_known_model_per_million_tokens():
    # 1M input at 0.30 + 1M output at 2.50
    assert cost_for("gemini-2.5-flash", 1_000_000, 1_000_000) == Decimal("2.800000")


def test_it_quantizes_to_six_places():
    assert cost_for("gemini-2.5-flash", 1, 1) == Decimal("0.000003")
    assert cost_for("gemini-2.5-flash", 1, 1).as_tuple().exponent == -6


def test_the_longest_matching_prefix_wins_for_versioned_names():
    assert prices_for("gemini-2.5-flash-lite-preview-06-17")[:2] == (
        Decimal("0.10"),
        Decimal("0.40"),
    )
    assert prices_for("gemini-2.5-flash-preview-05-20")[:2] == (Decimal("0.30"), Decimal("2.50"))


def test_vendor_and_models_prefixes_are_ignored():
    assert prices_for("google/gemini-2.5-pro")[:2] == (Decimal("1.25"), Decimal("10.00"))
    assert prices_for("models/gemini-2.0-flash")[:2] == (Decimal("0.10"), Decimal("0.40"))


def test_an_unknown_model_uses_the_fallback():
    assert prices_for("some-other-model") == (Decimal("2.00"), Decimal("12.00"), Decimal("2.00"))


def test_settings_add_and_override_prices(settings):
    settings.STUDIO_AI_PRICES = {
        "gemini-2.5-flash": {"input": 1, "output": "2"},
        "mine": {"input": 0, "output": 0},
    }

    assert cost_for("gemini-2.5-flash", 500_000, 250_000) == Decimal("1.000000")
    assert cost_for("mine", 10**6, 10**6) == Decimal("0.000000")
    assert prices_for("gemini-2.5-pro")[:2] == (Decimal("1.25"), Decimal("10.00"))


@pytest.mark.parametrize(
    "entry",
    [
        {"input": "cheap", "output": 1},
        {"input": 1},
        3,
        {"input": -1, "output": 1},
        {"input": 1, "output": 1, "cahced": 1},
        {"input": "NaN", "output": 1},
        {"input": True, "output": 1},
    ],
)
def test_a_malformed_price_entry_names_the_model(settings, entry):
    settings.STUDIO_AI_PRICES = {"broken": entry}

    with pytest.raises(ValueError, match=r"STUDIO_AI_PRICES\['broken'\]"):
        cost_for("gemini-2.5-flash", 1, 1)


def test_the_offline_provider_costs_nothing():
    assert cost_for("gemini-2.5-pro", 10**6, 10**6, provider="offline") == Decimal("0.000000")


def test_thinking_tokens_are_billed_at_the_output_price():
    # The reply: 1000 prompt, 100 answer + 800 thinking = 900 output on 2.5 flash.
    assert cost_for("gemini-2.5-flash", 1000, 900) == Decimal("0.002550")


def test_cached_prompt_tokens_are_billed_at_the_cached_price():
    # 1M prompt of which 800k cached: 200k × 0.30 + 800k × 0.03, no output.
    assert cost_for("gemini-2.5-flash", 10**6, 0, cached_tokens=800_000) == Decimal("0.084000")


def test_a_price_without_a_cached_entry_bills_cached_tokens_as_input(settings):
    settings.STUDIO_AI_PRICES = {"mine": {"input": "1", "output": "2"}}
    assert cost_for("mine", 10**6, 0, cached_tokens=10**6) == Decimal("1.000000")
