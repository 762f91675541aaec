"""A local HTTP server that speaks Gemini's generateContent REST protocol, scriptable per request.

Tests point the real google-genai client at it (``GEMINI_BASE_URL``) and queue replies:

    with FakeGeminiServer() as server:
        server.enqueue(Reply.error(429), Reply.ok("hello", prompt_tokens=12, output_tokens=3))
        ...
        server.requests[0].json["systemInstruction"]

``ScriptedJSONServer`` is the protocol-neutral part, shared with the OpenAI fake.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: a status, a body (JSON value or raw bytes) and an optional delay."""

    kind: str
    status: int = 200
    text: str = ""
    body: Any = None
    delay: float = 0.0
    prompt_tokens: int = 10
    output_tokens: int = 5
    headers: dict[str, str] = field(default_factory=dict)
    # What thinking models and context caches add: reasoning tokens (billed as output) and the
    # part of the prompt served from a cache (billed at the cached price).
    thinking_tokens: int = 0
    cached_tokens: int = 0
    # "stop", "max_tokens" (cut off at the limit), "safety" (the answer was filtered).
    finish: str = "stop"
    # Set for a prompt the provider refused to answer at all (Gemini's promptFeedback).
    block_reason: str = ""
    # Echoed into every field of an error body, as real services echo a bad key back.
    echo: str = ""

    @classmethod
    def ok(
        cls,
        text: str,
        *,
        prompt_tokens: int = 10,
        output_tokens: int = 5,
        thinking_tokens: int = 0,
        cached_tokens: int = 0,
        delay: float = 0.0,
    ) -> Reply:
        return cls(
            "text",
            text=text,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            thinking_tokens=thinking_tokens,
            cached_tokens=cached_tokens,
            delay=delay,
        )

    @classmethod
    def json_text(cls, value: Any, **usage: Any) -> Reply:
        return cls.ok(json.dumps(value), **usage)

    @classmethod
    def cut_off(cls, *, prompt_tokens: int = 10, thinking_tokens: int = 0, text: str = "") -> Reply:
        """The token limit was reached (thinking used it up when ``text`` is empty)."""
        return cls(
            "text",
            text=text,
            prompt_tokens=prompt_tokens,
            output_tokens=0 if not text else 5,
            thinking_tokens=thinking_tokens,
            finish="max_tokens",
        )

    @classmethod
    def blocked(cls, reason: str = "SAFETY", *, prompt_tokens: int = 10) -> Reply:
        """The prompt itself was blocked: no candidates, the reason in promptFeedback."""
        return cls("blocked", block_reason=reason, prompt_tokens=prompt_tokens, output_tokens=0)

    @classmethod
    def filtered(cls, *, prompt_tokens: int = 10) -> Reply:
        """The answer was withheld by the safety filter (finish reason SAFETY, no text)."""
        return cls("text", prompt_tokens=prompt_tokens, output_tokens=0, finish="safety")

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "",
        retry_delay: str | None = None,
        headers: dict[str, str] | None = None,
        echo: str = "",
    ) -> Reply:
        """An error in the provider's JSON shape; Gemini puts ``retry_delay`` in RetryInfo.

        ``echo`` (a key) is put into every field of the error body: status, message, details.
        """
        return cls(
            "error", status=status, text=message, body=retry_delay, headers=headers or {}, echo=echo
        )

    @classmethod
    def slow(cls, seconds: float, text: str = "too late") -> Reply:
        return cls("text", text=text, delay=seconds)

    @classmethod
    def malformed(cls, body: Any = None) -> Reply:
        """A 200 whose body is not a usable answer: a JSON value without candidates, or raw bytes."""
        return cls("raw", body={"unexpected": True} if body is None else body)


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = field(default=None)


class ScriptedJSONServer:
    """A threaded local HTTP server answering POSTs from a queue of ``Reply`` objects."""

    protocol_name = "generic"
    # Requests to any other path get a 404, so a client pointed at the wrong URL fails loudly.
    path_pattern = re.compile(r".*")

    def __init__(self, default: Reply | None = None) -> None:
        self.requests: list[ReceivedRequest] = []
        self.default = default or Reply.ok("default fake answer")
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def start(self) -> ScriptedJSONServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # wakes handlers still sleeping on a slow reply
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedJSONServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    # Protocol hooks, overridden per provider.
    def success_body(self, request: ReceivedRequest, reply: Reply) -> Any:
        return {"text": reply.text}

    def error_body(self, reply: Reply) -> Any:
        return {"error": {"code": reply.status, "message": reply.text or "error"}}

    def blocked_body(self, request: ReceivedRequest, reply: Reply) -> Any:
        return {"blocked": reply.block_reason}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output quiet

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    payload = json.loads(raw) if raw else None
                except ValueError:
                    payload = None
                received = ReceivedRequest(
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    json=payload,
                )
                with server._lock:
                    server.requests.append(received)
                if not server.path_pattern.fullmatch(self.path.split("?", 1)[0]):
                    self._send(404, {"error": {"code": 404, "message": f"no route {self.path}"}})
                    return
                reply = server._next_reply()
                if reply.delay and server._released.wait(reply.delay):
                    return
                if reply.kind == "error":
                    self._send(reply.status, server.error_body(reply), reply.headers)
                elif reply.kind == "raw":
                    self._send(reply.status, reply.body)
                elif reply.kind == "blocked":
                    self._send(reply.status, server.blocked_body(received, reply))
                else:
                    self._send(reply.status, server.success_body(received, reply))

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up (a timeout test); nothing to answer

        return Handler


_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class FakeGeminiServer(ScriptedJSONServer):
    """Answers ``POST /v1beta/models/{model}:generateContent`` like the Gemini API does."""

    protocol_name = "gemini"
    # The SDK picks the API version (v1 or v1beta); both are Gemini's REST protocol.
    path_pattern = re.compile(r"/v1(beta)?/models/[\w.\-]+:generateContent")

    def success_body(self, request: ReceivedRequest, reply: Reply) -> Any:
        # A candidate cut off before any text, or filtered, has a content with no parts at all.
        content: dict[str, Any] = {"role": "model"}
        if reply.text:
            content["parts"] = [{"text": reply.text}]
        candidate: dict[str, Any] = {
            "content": content,
            "finishReason": _GEMINI_FINISH[reply.finish],
            "index": 0,
        }
        if reply.finish == "safety":
            candidate["safetyRatings"] = [_HARASSMENT_RATING]
        return {
            "candidates": [candidate],
            "usageMetadata": _gemini_usage(reply),
            "modelVersion": _model_of(request),
            "responseId": f"fake-{len(self.requests)}",
        }

    def blocked_body(self, request: ReceivedRequest, reply: Reply) -> Any:
        """What Gemini sends for a blocked prompt: no candidates, the reason, prompt usage."""
        return {
            "promptFeedback": {
                "blockReason": reply.block_reason,
                "safetyRatings": [_HARASSMENT_RATING],
            },
            "usageMetadata": _gemini_usage(reply),
            "modelVersion": _model_of(request),
            "responseId": f"fake-{len(self.requests)}",
        }

    def error_body(self, reply: Reply) -> Any:
        status = _GEMINI_STATUS.get(reply.status, "UNKNOWN")
        message = reply.text or f"fake gemini error {reply.status}"
        error: dict[str, Any] = {
            "code": reply.status,
            "message": f"{message} {reply.echo}" if reply.echo else message,
            "status": f"{status} {reply.echo}" if reply.echo else status,
        }
        details: list[dict[str, Any]] = []
        if reply.body:
            details.append(
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": reply.body}
            )
        if reply.echo:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com", "key": reply.echo},
                }
            )
        if details:
            error["details"] = details
        return {"error": error}


_GEMINI_FINISH = {"stop": "STOP", "max_tokens": "MAX_TOKENS", "safety": "SAFETY"}
_HARASSMENT_RATING = {
    "category": "HARM_CATEGORY_HARASSMENT",
    "probability": "HIGH",
    "blocked": True,
}


def _model_of(request: ReceivedRequest) -> str:
    return request.path.split("/models/", 1)[-1].split(":", 1)[0]


def _gemini_usage(reply: Reply) -> dict[str, Any]:
    """usageMetadata as Gemini reports it: candidates exclude thoughts; the prompt count includes
    the cached part; zero counts are left out (as the service does)."""
    usage: dict[str, Any] = {"promptTokenCount": reply.prompt_tokens}
    if reply.output_tokens:
        usage["candidatesTokenCount"] = reply.output_tokens
    if reply.thinking_tokens:
        usage["thoughtsTokenCount"] = reply.thinking_tokens
    if reply.cached_tokens:
        usage["cachedContentTokenCount"] = reply.cached_tokens
    usage["totalTokenCount"] = reply.prompt_tokens + reply.output_tokens + reply.thinking_tokens
    return usage
