from __future__ import annotations

import json
import socket

import pytest

from tests.actions.conftest import log_of
from tests.fakes.http_server import Reply
from workflows.models import Enrollment, SideEffect, StepLog

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-token-value"


def hook(url: str, **config) -> dict:
    return {"id": "hook", "type": "http_request", "config": {"url": url, **config}}


def test_it_posts_the_rendered_json_body_with_an_idempotency_key(tenant, contact, run, http_server):
    http_server.route("POST", "/leads", Reply(status=201, json={"id": 77}))
    step = hook(
        http_server.url("/leads?api_key=" + SECRET),
        headers={"Authorization": "Bearer {{trigger.token}}", "X-Source": "studio"},
        body={"email": "{{contact.email}}", "tags": "{{contact.tags}}", "fixed": 1},
    )
    enrollment = run(tenant, contact, [step], trigger={"token": SECRET})
    [request] = http_server.requests
    assert request.json() == {"email": "ann@example.com", "tags": [], "fixed": 1}
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.headers["idempotency-key"] == f"enr{enrollment.pk}:hook:1"
    assert request.headers["content-type"] == "application/json"
    assert enrollment.context["steps"]["hook"] == {
        "status": 201,
        "body": {"id": 77},
        "ok": True,
        "result": {"id": 77},
    }
    log = log_of(enrollment, "hook")
    assert log.input_context["headers"]["Authorization"] == "[redacted]"
    assert log.input_context["headers"]["X-Source"] == "studio"
    assert "api_key=[redacted]" in log.input_context["url"]
    every_log = json.dumps(
        list(StepLog.objects.values("input_context", "parsed_output", "error_message"))
    )
    assert SECRET not in every_log


def test_the_call_webhook_alias_and_a_get_without_body(tenant, contact, run, http_server):
    http_server.route("GET", "/ping", Reply(body=b"pong", headers={"Content-Type": "text/plain"}))
    step = {
        "id": "hook",
        "type": "call_webhook",
        "config": {"webhookUrl": http_server.url("/ping"), "method": "get", "body": {"x": 1}},
    }
    enrollment = run(tenant, contact, [step])
    assert http_server.requests[0].body == b""
    assert enrollment.context["steps"]["hook"]["body"] == "pong"


def test_a_long_text_answer_is_cut(tenant, contact, run, http_server):
    http_server.route("POST", "/big", Reply(body=b"x" * 20_000))
    enrollment = run(tenant, contact, [hook(http_server.url("/big"))])
    assert len(enrollment.context["steps"]["hook"]["body"]) == 10_000


def test_a_503_is_retried_with_backoff_and_the_same_key(
    tenant, contact, run, http_server, frozen, inline_queue
):
    http_server.enqueue(Reply(status=503), Reply(status=503), Reply(json={"ok": 1}))
    enrollment = run(tenant, contact, [hook(http_server.url("/flaky"))])
    assert enrollment.status == Enrollment.Status.WAITING
    frozen.shift(9)
    inline_queue.tick()
    assert len(http_server.requests) == 1  # the backoff has not passed yet
    frozen.shift(2)
    inline_queue.tick()
    frozen.shift(21)
    inline_queue.tick()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    keys = {r.headers["idempotency-key"] for r in http_server.requests}
    assert len(http_server.requests) == 3
    assert keys == {f"enr{enrollment.pk}:hook:1"}
    statuses = list(
        StepLog.objects.filter(step_id="hook").order_by("id").values_list("status", flat=True)
    )
    assert statuses == ["retrying", "retrying", "succeeded"]
    assert (
        "answered 503 (transient)" in StepLog.objects.filter(step_id="hook").first().error_message
    )


def test_it_gives_up_after_the_last_attempt(
    tenant, contact, run, http_server, frozen, inline_queue
):
    http_server.enqueue(*[Reply(status=429)] * 3)
    enrollment = run(tenant, contact, [hook(http_server.url("/busy"))])
    for seconds in (11, 21):
        frozen.shift(seconds)
        inline_queue.tick()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.FAILED
    assert enrollment.context["steps"]["hook"]["status"] == 429
    assert len(http_server.requests) == 3


def test_a_4xx_fails_at_once_with_the_status(tenant, contact, run, http_server):
    http_server.route("POST", "/nope", Reply(status=422, json={"error": "bad lead"}))
    enrollment = run(tenant, contact, [hook(http_server.url("/nope"))])
    assert enrollment.status == Enrollment.Status.FAILED
    assert log_of(enrollment, "hook").error_message.endswith("/nope answered 422")
    output = enrollment.context["steps"]["hook"]
    assert (output["status"], output["body"], output["ok"]) == (422, {"error": "bad lead"}, False)
    assert len(http_server.requests) == 1


def test_on_error_continue_goes_on_after_a_failed_request(tenant, contact, run, http_server):
    http_server.route("POST", "/nope", Reply(status=400))
    steps = [
        {**hook(http_server.url("/nope")), "on_error": "continue"},
        {"id": "tag", "type": "add_tag", "config": {"tag": "hook-failed"}},
    ]
    enrollment = run(tenant, contact, steps)
    assert enrollment.status == Enrollment.Status.COMPLETED


def test_a_timeout_is_transient(tenant, contact, run, http_server):
    http_server.route("POST", "/slow", Reply(delay=1.0))
    enrollment = run(tenant, contact, [hook(http_server.url("/slow"), timeout=0.2)])
    assert enrollment.status == Enrollment.Status.WAITING
    log = log_of(enrollment, "hook")
    assert log.status == "retrying"
    assert "timed out" in log.error_message
    assert SideEffect.objects.get().status == SideEffect.Status.STARTED  # the retry sends again


@pytest.mark.parametrize("timeout", ["soon", 0, 500])
def test_a_bad_timeout_is_refused(tenant, contact, run, timeout):
    enrollment = run(tenant, contact, [hook("https://example.com/", timeout=timeout)])
    assert "http_request.timeout" in log_of(enrollment, "hook").error_message


def test_a_bad_method_or_empty_url_is_refused(tenant, contact, run):
    enrollment = run(tenant, contact, [hook("https://example.com/", method="TRACE")])
    assert "method 'TRACE'" in log_of(enrollment, "hook").error_message
    enrollment = run(tenant, contact, [hook("{{trigger.url}}")])
    assert "url rendered to an empty value" in log_of(enrollment, "hook").error_message


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("http://10.0.0.5/admin", "10.0.0.5 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[::1]:8080/", "::1 is a loopback address"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
    ],
)
def test_a_redirect_to_an_internal_address_is_refused(
    tenant, contact, run, http_server, target, why
):
    http_server.route("POST", "/jump", Reply(status=302, headers={"Location": target}))
    enrollment = run(tenant, contact, [hook(http_server.url("/jump"))])
    assert enrollment.status == Enrollment.Status.FAILED
    error = log_of(enrollment, "hook").error_message
    assert error.startswith("refused ")
    assert why in error
    assert len(http_server.requests) == 1


SSRF_TARGETS = [
    "http://127.0.0.1/",
    "http://localhost:8000/",
    "http://app.localhost/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",
    "gopher://example.com/",
    "ftp://example.com/",
]


@pytest.mark.parametrize("target", SSRF_TARGETS)
def test_a_templated_url_cannot_reach_internal_targets(tenant, contact, run, settings, target):
    settings.STUDIO_HTTP_ALLOWED_HOSTS = []
    contact.custom_fields = {"hook": target}
    contact.save()
    enrollment = run(tenant, contact, [hook("{{contact.custom_fields.hook}}")])
    assert enrollment.status == Enrollment.Status.FAILED
    assert log_of(enrollment, "hook").error_message.startswith("refused ")
    assert not SideEffect.objects.filter(status=SideEffect.Status.DONE).exists()


def test_a_name_that_resolves_to_a_private_address_is_refused(tenant, contact, run, monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == "hooks.evil.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    enrollment = run(tenant, contact, [hook("http://hooks.evil.example/x")])
    error = log_of(enrollment, "hook").error_message
    assert "hooks.evil.example resolves to 10.0.0.7, which is a private address" in error
