"""Provider lookup by name, with Gemini as the default when a key is set and offline otherwise."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from prompts.providers.base import Provider, UnknownProviderError
from prompts.providers.gemini import GeminiProvider
from prompts.providers.offline import OfflineProvider
from prompts.providers.openai_compatible import OpenAICompatibleProvider

PROVIDERS: dict[str, Callable[[], Provider]] = {
    "gemini": GeminiProvider,
    "openai_compatible": OpenAICompatibleProvider,
    "offline": OfflineProvider,
}


def default_provider_name() -> str:
    """``gemini`` when ``GEMINI_API_KEY`` is set, else ``offline`` so the studio still runs."""
    return "gemini" if getattr(settings, "GEMINI_API_KEY", "") else "offline"


def get_provider(name: str | None = None) -> Provider:
    """Build the named provider from current settings; empty or None picks the default.

    Raises UnknownProviderError for a name not in PROVIDERS, and ProviderError when the chosen
    provider's API key is missing.
    """
    key = (name or "").strip().lower() or default_provider_name()
    factory = PROVIDERS.get(key)
    if factory is None:
        choices = ", ".join(sorted(PROVIDERS))
        raise UnknownProviderError(f"unknown AI provider {name!r}: choose one of {choices}")
    return factory()
