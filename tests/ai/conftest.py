"""Fixtures for the AI tests: the Gemini and OpenAI fakes, and settings pointing at them."""

from __future__ import annotations

import pytest

from tests.fakes.gemini_server import FakeGeminiServer
from tests.fakes.openai_server import FakeOpenAIServer

GEMINI_KEY = "test-gemini-key-0123456789"
OPENAI_KEY = "test-openai-key-9876543210"


@pytest.fixture
def gemini_server(settings):
    with FakeGeminiServer() as server:
        settings.GEMINI_API_KEY = GEMINI_KEY
        settings.GEMINI_BASE_URL = server.base_url
        yield server


@pytest.fixture
def openai_server(settings):
    with FakeOpenAIServer() as server:
        settings.OPENAI_COMPATIBLE_API_KEY = OPENAI_KEY
        settings.OPENAI_COMPATIBLE_BASE_URL = server.base_url + "/v1"
        yield server


@pytest.fixture
def no_gemini_key(settings):
    settings.GEMINI_API_KEY = ""
    return settings


class SleepRecorder:
    """Stands in for time.sleep so retries are fast and their delays can be asserted."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()
