"""Providers are chosen by name; the default follows whether a Gemini key is configured."""

from __future__ import annotations

import pytest

from prompts.providers import UnknownProviderError, get_provider
from prompts.providers.gemini import GeminiProvider
from prompts.providers.offline import OfflineProvider
from prompts.providers.openai_compatible import OpenAICompatibleProvider


def test_the_default_is_offline_without_a_gemini_key(no_gemini_key):
    assert isinstance(get_provider(), OfflineProvider)
    assert isinstance(get_provider(""), OfflineProvider)


def test_the_default_is_gemini_with_a_key(settings):
    settings.GEMINI_API_KEY = "a-key"

    assert isinstance(get_provider(None), GeminiProvider)


def test_providers_are_found_by_name_in_any_case(settings):
    settings.OPENAI_COMPATIBLE_API_KEY = "k"

    assert isinstance(get_provider("openai_compatible"), OpenAICompatibleProvider)
    assert isinstance(get_provider(" Offline "), OfflineProvider)


def test_an_unknown_name_is_refused_with_the_choices():
    with pytest.raises(UnknownProviderError) as caught:
        get_provider("gpt-4o")

    assert str(caught.value) == (
        "unknown AI provider 'gpt-4o': choose one of gemini, offline, openai_compatible"
    )
    assert isinstance(caught.value, ValueError)
