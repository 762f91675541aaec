"""AI providers behind one contract: Gemini (google-genai), OpenAI-compatible, offline."""

from prompts.providers.base import (
    GenerationRequest,
    Provider,
    ProviderError,
    ProviderResponse,
    ProviderTimeout,
    UnknownProviderError,
)
from prompts.providers.registry import PROVIDERS, default_provider_name, get_provider

__all__ = [
    "PROVIDERS",
    "GenerationRequest",
    "Provider",
    "ProviderError",
    "ProviderResponse",
    "ProviderTimeout",
    "UnknownProviderError",
    "default_provider_name",
    "get_provider",
]
