"""Fixtures shared with the engine tests."""

from tests.engine.conftest import inline_queue  # noqa: F401 - a fixture, used by name
