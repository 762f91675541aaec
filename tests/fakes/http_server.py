"""A small threaded HTTP server on 127.0.0.1 for tests: records requests, replies as scripted.

    with LocalHTTPServer() as server:
        server.route("GET", "/ok", Reply(json={"ok": True}))
        server.enqueue(Reply(status=500))          # next request (any path) gets this first
        httpx.get(server.url("/ok"))
        server.requests[-1].headers["x-token"]

Replies are chosen in this order: queued replies (FIFO), a route for (method, path), the
`handler` callable, then a 404. A route or handler may be a Reply or a function of the request.
"""

from __future__ import annotations

import json as jsonlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    """One request as the server saw it; header names are lower-case."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        """The body parsed as application/x-www-form-urlencoded (every value is a list)."""
        return parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class Reply:
    """A scripted response. `json` wins over `body`; `delay` sleeps before answering;
    `chunks` sends the body with chunked transfer encoding (no Content-Length), sleeping
    `chunk_delay` seconds before each chunk."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    json: Any = None
    delay: float = 0.0
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0


Responder = Reply | Callable[[RecordedRequest], Reply]


class LocalHTTPServer:
    """A threaded HTTP/1.1 server bound to 127.0.0.1 on a free port; use as a context manager."""

    def __init__(self, handler: Responder | None = None) -> None:
        self.handler = handler
        self.requests: list[RecordedRequest] = []
        self.routes: dict[tuple[str, str], Responder] = {}
        self.queue: list[Reply] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------
    def route(self, method: str, path: str, responder: Responder) -> None:
        """Answer `method path` (path without query) with `responder`."""
        self.routes[(method.upper(), path)] = responder

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next requests, whatever their path, with these replies in order."""
        with self._lock:
            self.queue.extend(replies)

    def _choose(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.queue:
                return self.queue.pop(0)
        responder = self.routes.get((request.method, request.path), self.handler)
        if responder is None:
            return Reply(
                status=404, json={"error": f"no route for {request.method} {request.path}"}
            )
        return responder(request) if callable(responder) else responder

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL of `path` on this server."""
        return self.base_url + path

    def start(self) -> LocalHTTPServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up (timeouts, size caps) is expected; print anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    owner: LocalHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read `requests`, not stderr."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.owner._choose(request)
        if reply.delay:
            time.sleep(reply.delay)
        payload = reply.body
        headers = dict(reply.headers)
        if reply.json is not None:
            payload = jsonlib.dumps(reply.json).encode()
            headers.setdefault("Content-Type", "application/json")
        try:
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            if reply.chunks is not None:
                self._send_chunked(reply.chunks, reply.chunk_delay)
                return
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except ConnectionError:
            pass  # the client gave up (timeout or size cap); nothing left to say

    def _send_chunked(self, chunks: list[bytes], delay: float) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            time.sleep(delay)
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle
