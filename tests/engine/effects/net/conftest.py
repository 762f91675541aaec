"""Fixtures for the SSRF-safe client tests: a local server, allowed by address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.http_server import LocalHTTPServer


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running
