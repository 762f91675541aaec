"""Fixtures for the action steps: in-memory channel and email backends, a step runner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from crm.models import EmailTemplate, VoicemailDrop
from engine.effects.channels import locmem
from engine.runtime import queue
from engine.runtime.enrollment import enrollment_create
from tests.cast import make_contact, make_published, make_tenant
from tests.engine.conftest import InlineQueue
from tests.fakes.http_server import LocalHTTPServer
from workflows.models import Enrollment, StepLog

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def backends(settings) -> Iterator[None]:
    settings.STUDIO_CHANNEL_BACKENDS = {"default": "engine.effects.channels.locmem.LocMemBackend"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "studio@example.com"
    settings.STUDIO_PUBLIC_BASE_URL = "https://studio.example.com"
    settings.STUDIO_HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def tenant(db):
    return make_tenant()


@pytest.fixture
def contact(tenant):
    return make_contact(tenant, first_name="Ann", email="ann@example.com", phone="+4915100000001")


@pytest.fixture
def assets(tenant) -> None:
    EmailTemplate.objects.create(
        tenant=tenant,
        slug="welcome",
        name="Welcome",
        subject="Welcome, {{contact.first_name}}",
        body_text="Hi {{contact.first_name}}, read https://example.com/start",
        body_html="<html><body><p>Hi {{contact.first_name}}</p>"
        '<a href="https://example.com/start?a=1&b=2">Start</a></body></html>',
    )
    EmailTemplate.objects.create(
        tenant=tenant,
        slug="reminder",
        name="Reminder",
        subject="Reminder",
        body_text="Still there?",
    )
    VoicemailDrop.objects.create(
        tenant=tenant, slug="intro", name="Intro", transcript="Hi {{contact.first_name}}, call us!"
    )


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


class StepQueue(InlineQueue):
    """Runs step tasks inline; trigger events (another issue's tasks) are only collected."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, list]] = []

    def __call__(self, name: str, args: list) -> None:
        if name in (queue.RUN_STEP, queue.RUN_ACTION):
            self.sent.append((name, list(args)))
        else:
            self.events.append((name, list(args)))


@pytest.fixture
def inline_queue() -> Iterator[StepQueue]:
    collector = StepQueue()
    with queue.use_dispatcher(collector):
        yield collector


@pytest.fixture
def run(inline_queue):
    """Publish ``steps`` as a workflow, enroll ``contact``, drain the queue; the enrollment."""

    def runner(
        tenant, contact, steps: list[dict], *, trigger: dict | None = None, **definition: Any
    ):
        workflow = make_published(
            tenant, {"trigger": {"type": "manual"}, "steps": steps, **definition}
        )
        enrollment = enrollment_create(workflow=workflow, contact=contact, trigger=trigger)
        inline_queue.drain()
        enrollment.refresh_from_db()
        return enrollment

    return runner


def log_of(enrollment: Enrollment, step_id: str) -> StepLog:
    return StepLog.objects.filter(enrollment=enrollment, step_id=step_id).latest("id")
