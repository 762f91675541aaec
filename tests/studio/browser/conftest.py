"""Playwright (Python) driving Debian's Chromium, headless, against pytest-django's live server.

Debian's /usr/bin/chromium is installed here when missing (CI starts from a clean machine);
a downloaded browser is never used. Every screen a test visits is saved under
var/screenshots/<test name>/ as a CI artifact.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import missing_service

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "studio-demo"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser actions are plain synchronous ones, so Django's async guard is lifted here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def ensure_chromium() -> Path:
    """Debian's chromium package, installed with apt-get when it is not there yet."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None:
        missing_service("/usr/bin/chromium is missing and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-q"], check=False, env=env, capture_output=True)
    result = subprocess.run(
        [apt, "install", "-y", "-q", "chromium"], env=env, capture_output=True, text=True
    )
    if result.returncode != 0 or not CHROMIUM.exists():
        missing_service(f"could not install Debian's chromium: {result.stderr[-2000:]}")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Camera:
    """Saves a numbered full-page screenshot of each screen under var/screenshots/<test>/."""

    def __init__(self, page, test_name: str):
        self.page = page
        self.folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def camera(page, request) -> Camera:
    return Camera(page, request.node.name)


@pytest.fixture
def demo(transactional_db):
    """The demo tenant and login of ``seed_demo`` (what a new user gets)."""
    from crm.models import Tenant

    call_command("seed_demo", password=DEMO_PASSWORD, stdout=open(os.devnull, "w"))  # noqa: SIM115
    return Tenant.objects.get(slug="demo")


@pytest.fixture
def studio(page, camera, live_server, demo):
    """A browser logged in to the studio as the demo staff user; returns a helper."""
    return Studio(page, camera, live_server.url)


class Studio:
    def __init__(self, page, camera: Camera, base: str):
        self.page, self.camera, self.base = page, camera, base
        self.goto("/admin/login/", "login")
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state()
        self.camera.shot("dashboard")

    def goto(self, path: str, name: str):
        self.page.goto(self.base + path)
        self.page.wait_for_load_state()
        self.camera.shot(name)

    def shot(self, name: str):
        self.page.wait_for_load_state()
        self.camera.shot(name)

    def text(self) -> str:
        return self.page.inner_text("body")
