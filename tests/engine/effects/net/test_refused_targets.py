"""The SSRF table: every one of these targets is refused with a message that says why."""

from __future__ import annotations

import logging
import socket

import pytest

from engine.effects.safe_http import BlockedDestination, check_url, safe_request
from tests.fakes.http_server import LocalHTTPServer, Reply

LOOPBACK = "127.0.0.1 is a loopback address"

DIRECT = [
    ("http://127.0.0.1/", LOOPBACK),
    ("http://127.0.0.1:8080/admin", LOOPBACK),
    ("https://127.0.0.1/", LOOPBACK),
    ("http://user@127.0.0.1/", LOOPBACK),
    ("http://user:pw@127.0.0.1:22/", LOOPBACK),
    ("http://127.1/", LOOPBACK),
    ("http://127.0.1/", LOOPBACK),
    ("http://2130706433/", LOOPBACK),
    ("http://0177.0.0.1/", LOOPBACK),
    ("http://0x7f000001/", LOOPBACK),
    ("http://0x7f.0.0.1/", LOOPBACK),
    ("http://0x7f.1/", LOOPBACK),
    ("http://0177.0x0.0.01/", LOOPBACK),
    ("http://127.0.0.1./", LOOPBACK),
    ("http://127.255.255.254/", "127.255.255.254 is a loopback address"),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://012.0.0.1/", "10.0.0.1 is a private address"),
    ("http://167772161/", "10.0.0.1 is a private address"),
    ("http://172.16.0.1/", "172.16.0.1 is a private address"),
    ("http://172.31.255.255:9000/", "172.31.255.255 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://0xc0a80101/", "192.168.1.1 is a private address"),
    ("http://100.64.0.1/", "100.64.0.1 is a shared (CGNAT) address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://2852039166/", "169.254.169.254 is a cloud metadata address"),
    ("http://169.254.1.1/", "169.254.1.1 is a link-local address"),
    ("http://0.0.0.0/", "0.0.0.0 is a 'this network' address"),
    ("http://0/", "0.0.0.0 is a 'this network' address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://239.255.255.250:1900/", "239.255.255.250 is a multicast address"),
    ("http://255.255.255.255/", "255.255.255.255 is a broadcast address"),
    ("http://240.0.0.1/", "240.0.0.1 is a reserved address"),
    ("http://192.0.2.10/", "192.0.2.10 is a non-public address"),
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://[::1]:8000/", "::1 is a loopback address"),
    ("http://user@[::1]/", "::1 is a loopback address"),
    ("http://[::]/", ":: is an unspecified address"),
    ("http://[fc00::1]/", "fc00::1 is a unique-local (private) address"),
    ("http://[fd12:3456::1]/", "fd12:3456::1 is a unique-local (private) address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://[ff02::1]/", "ff02::1 is a multicast address"),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 embeds 127.0.0.1, a loopback address"),
    ("http://[::ffff:7f00:1]/", "::ffff:127.0.0.1 embeds 127.0.0.1, a loopback address"),
    ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1 embeds 10.0.0.1, a private address"),
    (
        "http://[::ffff:169.254.169.254]/",
        "::ffff:169.254.169.254 embeds 169.254.169.254, a cloud metadata address",
    ),
    ("http://[::127.0.0.1]/", "::127.0.0.1 embeds 127.0.0.1, a loopback address"),
    ("http://[::8.8.8.8]/", "::8.8.8.8 is an IPv4-compatible address"),
    ("http://[64:ff9b::10.0.0.1]/", "64:ff9b::a00:1 embeds 10.0.0.1, a private address"),
    ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1 embeds 127.0.0.1, a loopback address"),
    ("http://[2002:a00:1::]/", "2002:a00:1:: embeds 10.0.0.1, a private address"),
    ("http://[2002:7f00:1::1]/", "2002:7f00:1::1 embeds 127.0.0.1, a loopback address"),
    (
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2 embeds 192.0.2.45, a non-public address",
    ),
    # Teredo with public server and client: still refused as Teredo
    ("http://[2001:0:808:808::f7f7:f7f7]/", "2001:0:808:808::f7f7:f7f7 is a Teredo address"),
    # Teredo whose (obfuscated) client is 127.0.0.1
    (
        "http://[2001:0:808:808::80ff:fffe]/",
        "2001:0:808:808::80ff:fffe embeds 127.0.0.1, a loopback address",
    ),
    # SIIT (RFC 6145/7915 "IPv4-translated")
    ("http://[::ffff:0:7f00:1]/", "::ffff:0:7f00:1 embeds 127.0.0.1, a loopback address"),
    ("http://[::ffff:0:a00:1]/", "::ffff:0:a00:1 embeds 10.0.0.1, a private address"),
    # NAT64 local-use prefix (RFC 8215), /96 layout and RFC 6052 /48 layout
    ("http://[64:ff9b:1::a00:1]/", "64:ff9b:1::a00:1 embeds 10.0.0.1, a private address"),
    ("http://[64:ff9b:1::7f00:1]/", "64:ff9b:1::7f00:1 embeds 127.0.0.1, a loopback address"),
    ("http://[64:ff9b:1:a00:0:100::]/", "64:ff9b:1:a00:0:100:: embeds 10.0.0.1, a private address"),
    (
        "http://[64:ff9b:1::a9fe:a9fe]/",
        "64:ff9b:1::a9fe:a9fe embeds 169.254.169.254, a cloud metadata address",
    ),
    ("http://[64:ff9b::c0a8:101]/", "64:ff9b::c0a8:101 embeds 192.168.1.1, a private address"),
    ("http://[2002:c0a8:101::1]/", "2002:c0a8:101::1 embeds 192.168.1.1, a private address"),
    ("http://[::10.0.0.1]/", "::10.0.0.1 embeds 10.0.0.1, a private address"),
    ("http://[2001:db8::1]/", "2001:db8::1 is a non-public address"),
    ("http://localhost/", "localhost is a local host name"),
    ("http://LOCALHOST:8000/", "localhost is a local host name"),
    ("http://localhost./", "localhost is a local host name"),
    ("http://api.localhost/", "api.localhost is a local host name"),
    ("http://metadata.google.internal/", "metadata.google.internal is a cloud metadata host name"),
    ("http://metadata/computeMetadata/v1/", "metadata is a cloud metadata host name"),
]

SCHEMES = [
    ("ftp://example.com/file", "scheme 'ftp' is not allowed (only http and https)"),
    ("file:///etc/passwd", "scheme 'file' is not allowed (only http and https)"),
    ("gopher://example.com/", "scheme 'gopher' is not allowed (only http and https)"),
    ("//example.com/", "the URL has no scheme (only http and https)"),
    ("http:///path-only", "the URL has no host"),
]


@pytest.mark.parametrize(("url", "why"), DIRECT + SCHEMES)
def test_it_refuses_a_direct_target(url: str, why: str) -> None:
    shown = url.replace("user:pw@", "").replace("user@", "")
    with pytest.raises(BlockedDestination) as caught:
        safe_request("GET", url, allowed_hosts=[])
    assert str(caught.value) == f"refused {shown}: {why}"
    assert caught.value.transient is False


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/", "169.254.169.254 is a cloud metadata address"),
        ("http://[::1]:9/", "::1 is a loopback address"),
        ("http://localhost/", "localhost is a local host name"),
        ("http://2130706433/", "127.0.0.2 is a loopback address"),
        ("/relative-but-same-server", None),
    ],
)
def test_it_refuses_a_redirect_to_an_internal_address(target: str, why: str | None) -> None:
    with LocalHTTPServer() as server:
        # 2130706433 + 1 = 127.0.0.2, which is not in the allow-list below.
        location = target.replace("2130706433", "2130706434")
        server.route("GET", "/hop", Reply(status=302, headers={"Location": location}))
        server.route("GET", "/relative-but-same-server", Reply(json={"landed": True}))
        if why is None:
            response = safe_request("GET", server.url("/hop"), allowed_hosts=["127.0.0.1"])
            assert response.json() == {"landed": True}
            return
        with pytest.raises(BlockedDestination) as caught:
            safe_request("GET", server.url("/hop"), allowed_hosts=["127.0.0.1"])
    shown = location
    assert str(caught.value) == f"refused {shown}: {why}"
    assert [r.path for r in server.requests] == ["/hop"]


@pytest.mark.parametrize(
    ("template", "values", "why"),
    [
        (
            "http://{host}/hooks/{id}",
            {"host": "10.1.2.3", "id": 7},
            "10.1.2.3 is a private address",
        ),
        ("http://{host}:{port}/", {"host": "[::1]", "port": 8080}, "::1 is a loopback address"),
        (
            "{base}/latest",
            {"base": "http://169.254.169.254"},
            "169.254.169.254 is a cloud metadata address",
        ),
        ("http://{user}@{host}/", {"user": "crm", "host": "0x7f000001"}, LOOPBACK),
        ("https://{sub}.localhost/", {"sub": "tenant"}, "tenant.localhost is a local host name"),
    ],
)
def test_it_refuses_a_templated_url_that_renders_to_an_internal_address(
    template: str, values: dict[str, object], why: str
) -> None:
    url = template.format(**values)
    with pytest.raises(BlockedDestination) as caught:
        safe_request("POST", url, json={"contact": 1}, allowed_hosts=[])
    assert str(caught.value) == f"refused {url.replace('crm@', '')}: {why}"


def _fake_dns(answers: dict[str, list[str]]):
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    return resolve


@pytest.mark.parametrize(
    ("name", "answers", "why"),
    [
        (
            "evil.example",
            ["10.0.0.5"],
            "evil.example resolves to 10.0.0.5, which is a private address",
        ),
        (
            "rebind.example",
            ["93.184.216.34", "127.0.0.1"],
            "rebind.example resolves to 127.0.0.1, which is a loopback address",
        ),
        (
            "v6.example",
            ["fe80::1%eth0"],
            "v6.example resolves to fe80::1, which is a link-local address",
        ),
        (
            "meta.example",
            ["169.254.169.254"],
            "meta.example resolves to 169.254.169.254, which is a cloud metadata address",
        ),
    ],
)
def test_it_refuses_a_name_that_resolves_to_an_internal_address(
    monkeypatch: pytest.MonkeyPatch, name: str, answers: list[str], why: str
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_dns({name: answers}))
    with pytest.raises(BlockedDestination) as caught:
        check_url(f"https://{name}/hook", allowed_hosts=[])
    assert str(caught.value) == f"refused https://{name}/hook: {why}"


def test_it_logs_nothing_secret_when_refusing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BlockedDestination) as caught:
        safe_request("GET", "http://admin:hunter2@10.0.0.1/?api_key=abc123&page=2")
    message = str(caught.value)
    assert message == (
        "refused http://10.0.0.1/?api_key=[redacted]&page=2: 10.0.0.1 is a private address"
    )
    assert "hunter2" not in caplog.text
    assert "abc123" not in caplog.text


@pytest.mark.parametrize(
    "address",
    ["::ffff:0:808:808", "64:ff9b::808:808", "64:ff9b:1::808:808", "2002:808:808::1"],
)
def test_a_translated_form_of_a_public_ipv4_address_is_not_refused(address: str) -> None:
    import ipaddress

    from engine.effects.net.addresses import blocked_reason

    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "location",
    ["http:\\\\127.0.0.1/", "/\\\\127.0.0.1/x", "http://exa mple.com/"],
)
def test_a_redirect_to_a_malformed_url_is_our_error_not_httpx(location: str) -> None:
    from engine.effects.net.errors import HttpError

    with LocalHTTPServer() as server:
        server.route("GET", "/hop", Reply(status=302, headers={"Location": location}))
        with pytest.raises(HttpError, match="redirected to a malformed URL") as caught:
            safe_request("GET", server.url("/hop"), allowed_hosts=["127.0.0.1"])

    assert not isinstance(caught.value, BlockedDestination)
    assert [r.path for r in server.requests] == ["/hop"]


def test_a_redirect_to_an_unparsable_port_is_our_error() -> None:
    from engine.effects.net.errors import HttpError

    with LocalHTTPServer() as server:
        server.route("GET", "/hop", Reply(status=302, headers={"Location": "http://a.com:99999/"}))
        with pytest.raises(HttpError, match="invalid URL"):
            safe_request("GET", server.url("/hop"), allowed_hosts=["127.0.0.1"])
