"""The client works against an allowed local server, and enforces its caps on the way."""

from __future__ import annotations

import socket

import httpx
import pytest

from engine.effects.net.addresses import ResolvedAddress, parse_ipv4_literal
from engine.effects.safe_http import (
    HttpError,
    HttpTimeout,
    SafeResponse,
    _pinned_request,
    is_transient_status,
    redact_headers,
    safe_request,
)
from tests.fakes.http_server import LocalHTTPServer, Reply

LOCAL = ["127.0.0.1"]  # the local test server stands in for an allowed internal host


def test_it_gets_json_from_an_allowed_local_server(server: LocalHTTPServer) -> None:
    server.route("GET", "/status", Reply(json={"ok": True}, headers={"X-Trace": "t1"}))
    response = safe_request(
        "get", server.url("/status?page=2"), headers={"Accept": "application/json"},
        allowed_hosts=LOCAL,
    )  # fmt: skip
    assert response.status == 200
    assert response.json() == {"ok": True}
    assert response.headers["x-trace"] == "t1"
    assert response.url == server.url("/status?page=2")
    sent = server.requests[0]
    assert (sent.method, sent.path, sent.query) == ("GET", "/status", {"page": ["2"]})
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["host"] == f"127.0.0.1:{server.port}"


def test_it_posts_json_with_the_callers_headers(server: LocalHTTPServer) -> None:
    server.route("POST", "/hook", Reply(status=201, json={"id": 9}))
    response = safe_request(
        "POST", server.url("/hook"), json={"contact": {"email": "a@b.c"}},
        headers={"Idempotency-Key": "run-1:step-2", "Host": "evil.example"}, allowed_hosts=LOCAL,
    )  # fmt: skip
    assert (response.status, response.json()) == (201, {"id": 9})
    sent = server.requests[0]
    assert sent.json() == {"contact": {"email": "a@b.c"}}
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["idempotency-key"] == "run-1:step-2"
    assert sent.headers["host"] == f"127.0.0.1:{server.port}"


def test_it_sends_raw_content_and_returns_error_statuses(server: LocalHTTPServer) -> None:
    server.route("PUT", "/raw", Reply(status=503, body=b"busy"))
    response = safe_request("PUT", server.url("/raw"), content=b"a=1", allowed_hosts=LOCAL)
    assert (response.status, response.text) == (503, "busy")
    assert server.requests[0].body == b"a=1"


def test_it_turns_userinfo_into_basic_auth(server: LocalHTTPServer) -> None:
    server.route("GET", "/", Reply())
    url = f"http://crm:s%40cret@127.0.0.1:{server.port}/"
    safe_request("GET", url, allowed_hosts=LOCAL)
    assert server.requests[0].headers["authorization"] == "Basic Y3JtOnNAY3JldA=="


def test_it_connects_to_the_address_it_checked_with_the_real_host_header(
    server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebinding DNS server: first answer is the allowed address, later answers are private.
    answers = iter(["127.0.0.1", "10.0.0.1", "10.0.0.1"])
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        lookups.append(host)
        if host != "hooks.internal":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    server.route("GET", "/", Reply(json={"ok": 1}))
    url = f"http://hooks.internal:{server.port}/"
    assert safe_request("GET", url, allowed_hosts=["127.0.0.1/32"]).json() == {"ok": 1}
    assert lookups == ["hooks.internal", "127.0.0.1"]  # the name once; then the pinned address
    assert server.requests[0].headers["host"] == f"hooks.internal:{server.port}"


def test_it_allows_a_host_name_or_wildcard_from_the_allow_list(
    server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host.endswith(".test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    server.route("GET", "/", Reply(body=b"hi"))
    assert (
        safe_request(
            "GET", f"http://a.corp.test:{server.port}/", allowed_hosts=["*.corp.test"]
        ).text
        == "hi"
    )
    assert (
        safe_request("GET", f"http://HOOKS.test.:{server.port}/", allowed_hosts=["hooks.test"]).text
        == "hi"
    )
    assert safe_request("GET", server.url("/"), allowed_hosts=["127.0.0.1"]).text == "hi"


def test_it_reads_the_allow_list_from_settings(server: LocalHTTPServer, settings) -> None:
    settings.STUDIO_HTTP_ALLOWED_HOSTS = ["127.0.0.0/8"]
    server.route("GET", "/", Reply(body=b"ok"))
    assert safe_request("GET", server.url("/")).text == "ok"


def test_it_follows_redirects_and_rechecks_each_hop(server: LocalHTTPServer) -> None:
    server.route("POST", "/a", Reply(status=303, headers={"Location": "/b"}))
    server.route("GET", "/b", Reply(status=307, headers={"Location": server.url("/c")}))
    server.route("GET", "/c", Reply(json={"done": True}))
    response = safe_request("POST", server.url("/a"), json={"x": 1}, allowed_hosts=LOCAL)
    assert response.json() == {"done": True}
    assert response.url == server.url("/c")
    assert [(r.method, r.path, r.body) for r in server.requests] == [
        ("POST", "/a", b'{"x": 1}'), ("GET", "/b", b""), ("GET", "/c", b""),
    ]  # fmt: skip
    assert "content-type" not in server.requests[1].headers


def test_a_307_keeps_the_method_and_body(server: LocalHTTPServer) -> None:
    server.route("POST", "/a", Reply(status=307, headers={"Location": "/b"}))
    server.route("POST", "/b", Reply(status=204))
    assert (
        safe_request("POST", server.url("/a"), content=b"keep", allowed_hosts=LOCAL).status == 204
    )
    assert server.requests[1].body == b"keep"


def test_a_redirect_to_another_origin_drops_credentials(server: LocalHTTPServer) -> None:
    with LocalHTTPServer() as other:
        other.route("GET", "/", Reply())
        server.route("GET", "/", Reply(status=302, headers={"Location": other.url("/")}))
        safe_request(
            "GET", server.url("/"), headers={"Authorization": "Bearer t0p", "X-Signature": "s",
            "Accept": "*/*"}, allowed_hosts=LOCAL,
        )  # fmt: skip
    assert server.requests[0].headers["authorization"] == "Bearer t0p"
    forwarded = other.requests[0].headers
    assert "authorization" not in forwarded
    assert "x-signature" not in forwarded
    assert forwarded["accept"] == "*/*"


def test_a_redirect_without_location_is_returned_as_is(server: LocalHTTPServer) -> None:
    server.route("GET", "/", Reply(status=302, body=b"nowhere"))
    assert safe_request("GET", server.url("/"), allowed_hosts=LOCAL).status == 302


def test_it_stops_after_too_many_redirects(server: LocalHTTPServer) -> None:
    server.route("GET", "/loop", Reply(status=302, headers={"Location": "/loop"}))
    with pytest.raises(HttpError) as caught:
        safe_request("GET", server.url("/loop"), allowed_hosts=LOCAL)
    assert str(caught.value) == f"GET {server.url('/loop')}: too many redirects (max 5)"
    assert caught.value.transient is False
    assert len(server.requests) == 6


def test_it_refuses_a_body_declared_larger_than_the_cap(server: LocalHTTPServer) -> None:
    server.route("GET", "/big", Reply(body=b"x" * 1_000_001))
    with pytest.raises(HttpError) as caught:
        safe_request("GET", server.url("/big"), allowed_hosts=LOCAL)
    assert str(caught.value) == f"{server.url('/big')}: response larger than 1000000 bytes"


def test_it_stops_streaming_a_chunked_body_past_the_cap(server: LocalHTTPServer) -> None:
    server.route("GET", "/stream", Reply(chunks=[b"a" * 60, b"b" * 60]))
    with pytest.raises(HttpError) as caught:
        safe_request("GET", server.url("/stream"), max_bytes=100, allowed_hosts=LOCAL)
    assert str(caught.value) == f"{server.url('/stream')}: response larger than 100 bytes"
    ok = safe_request("GET", server.url("/stream"), max_bytes=120, allowed_hosts=LOCAL)
    assert ok.body == b"a" * 60 + b"b" * 60


def test_a_slow_server_times_out_as_a_transient_error(server: LocalHTTPServer) -> None:
    server.route("GET", "/slow", Reply(delay=1.0))
    with pytest.raises(HttpTimeout) as caught:
        safe_request("GET", server.url("/slow"), timeout=0.2, allowed_hosts=LOCAL)
    assert str(caught.value) == f"GET {server.url('/slow')}: timed out after 0.2s"
    assert caught.value.transient is True


def test_a_trickling_body_times_out_at_the_overall_deadline(server: LocalHTTPServer) -> None:
    # Each chunk arrives well within the per-read timeout; together they overrun the deadline.
    server.route("GET", "/drip", Reply(chunks=[b"a"] * 20, chunk_delay=0.05))
    with pytest.raises(HttpTimeout) as caught:
        safe_request("GET", server.url("/drip"), timeout=0.4, allowed_hosts=LOCAL)
    assert str(caught.value) == f"GET {server.url('/drip')}: timed out after 0.4s"


def test_a_refused_connection_is_a_transient_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(HttpError) as caught:
        safe_request("GET", f"http://127.0.0.1:{port}/", allowed_hosts=LOCAL)
    assert str(caught.value).startswith(f"GET http://127.0.0.1:{port}/: ConnectError")
    assert caught.value.transient is True


def test_an_unresolvable_name_and_a_bad_port_are_errors() -> None:
    with pytest.raises(HttpError) as caught:
        safe_request("GET", "http://no-such-host.invalid/", allowed_hosts=[])
    assert str(caught.value).startswith(
        "http://no-such-host.invalid/: could not resolve no-such-host.invalid"
    )
    with pytest.raises(HttpError) as caught:
        safe_request("GET", "http://example.com:99999/", allowed_hosts=[])
    assert str(caught.value) == (
        "refused http://example.com:99999/: invalid URL (Port out of range 0-65535)"
    )


def test_https_requests_carry_the_real_name_for_sni_and_the_host_header() -> None:
    target = ResolvedAddress(
        host="hooks.example", address=parse_ipv4_literal("93.184.216.34"), port=443
    )
    with httpx.Client() as client:
        request = _pinned_request(
            client, "GET", "https://hooks.example/x?y=1", target, {}, None, 5.0
        )
    assert str(request.url) == "https://93.184.216.34/x?y=1"
    assert request.headers["host"] == "hooks.example"
    assert request.extensions["sni_hostname"] == "hooks.example"


def test_an_international_name_is_sent_in_its_ascii_form() -> None:
    target = ResolvedAddress(
        host="bücher.example", address=parse_ipv4_literal("93.184.216.34"), port=8443
    )
    with httpx.Client() as client:
        request = _pinned_request(
            client, "GET", "https://bücher.example:8443/", target, {}, None, 5.0
        )
    assert request.headers["host"] == "xn--bcher-kva.example:8443"
    assert request.extensions["sni_hostname"] == "xn--bcher-kva.example"


def test_a_non_json_body_says_where_it_came_from() -> None:
    response = SafeResponse(status=200, headers={}, body=b"<html>", url="https://x.test/?token=1")
    with pytest.raises(
        ValueError, match=r"response from https://x.test/\?token=\[redacted\] is not JSON"
    ):
        response.json()


@pytest.mark.parametrize(
    ("status", "transient"),
    [(200, False), (302, False), (400, False), (404, False), (429, True), (500, True), (503, True),
     (599, True), (600, False)],
)  # fmt: skip
def test_it_classifies_transient_statuses(status: int, transient: bool) -> None:
    assert is_transient_status(status) is transient


def test_it_redacts_secret_headers() -> None:
    headers = {
        "Authorization": "Bearer x", "Proxy-Authorization": "Basic y", "Cookie": "sid=1",
        "X-Api-Key": "k", "X-Auth-Token": "t", "X-Client-Secret": "s", "X-Hub-Signature-256": "h",
        "X-Password": "p", "Content-Type": "application/json", "Accept": "*/*",
    }  # fmt: skip
    assert redact_headers(headers) == {
        "Authorization": "[redacted]", "Proxy-Authorization": "[redacted]", "Cookie": "[redacted]",
        "X-Api-Key": "[redacted]", "X-Auth-Token": "[redacted]", "X-Client-Secret": "[redacted]",
        "X-Hub-Signature-256": "[redacted]", "X-Password": "[redacted]",
        "Content-Type": "application/json", "Accept": "*/*",
    }  # fmt: skip


@pytest.mark.parametrize(
    "host", ["08.0.0.1", "1.2.3.4.5", "256.1.1.1", "1.16777216", "0xg", "a.b", ""]
)
def test_it_does_not_mistake_names_for_ipv4_literals(host: str) -> None:
    assert parse_ipv4_literal(host) is None


def test_an_unparseable_url_is_shown_without_its_contents() -> None:
    with pytest.raises(HttpError) as caught:
        safe_request("GET", "http://[::1/secret", allowed_hosts=[])
    assert str(caught.value) == "refused <unparseable URL>: invalid URL (Invalid IPv6 URL)"


def test_the_local_server_answers_404_for_unknown_routes(server: LocalHTTPServer) -> None:
    response = safe_request("DELETE", server.url("/nothing"), allowed_hosts=LOCAL)
    assert response.status == 404
    assert response.json() == {"error": "no route for DELETE /nothing"}
