"""Trigger config comparisons follow the condition rules: a blank or non-number never holds."""

from __future__ import annotations

import pytest

from engine.triggers.matching import Listener, config_matches

INTENT = Listener(1, "intent_detected", {"min_confidence": 0.8}, None, "UTC", True)


@pytest.mark.parametrize("confidence", [None, "", "  ", "high", True, [0.9], "nan"])
def test_a_missing_blank_or_non_numeric_confidence_never_meets_the_minimum(confidence):
    assert config_matches(INTENT, {"intent_confidence": confidence}) is False


@pytest.mark.parametrize(("confidence", "expected"), [(0.9, True), ("0.85", True), (0.5, False)])
def test_numbers_and_numeric_text_compare_as_numbers(confidence, expected):
    assert config_matches(INTENT, {"intent_confidence": confidence}) is expected
