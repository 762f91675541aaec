"""Fixtures for the prompt library and AI steps: the engine's inline queue and the Gemini fake."""

from __future__ import annotations

import pytest

from tests.ai.conftest import GEMINI_KEY, gemini_server, no_gemini_key  # noqa: F401
from tests.cast import make_tenant
from tests.engine.conftest import inline_queue  # noqa: F401


@pytest.fixture(autouse=True)
def fast_retries(settings):
    # No real sleeping between the generation service's retries.
    settings.STUDIO_AI_RETRY_BASE_SECONDS = 0.0
    settings.STUDIO_AI_TIMEOUT_SECONDS = 5


@pytest.fixture
def tenant():
    return make_tenant()
