"""A local HTTP server that speaks the OpenAI chat-completions REST protocol, scriptable per request.

Point the real ``openai`` client at ``server.base_url + "/v1"``; replies are queued as ``Reply``
objects (shared with the Gemini fake), received requests are in ``server.requests``.
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.gemini_server import ReceivedRequest, Reply, ScriptedJSONServer

__all__ = ["FakeOpenAIServer", "ReceivedRequest", "Reply"]

_OPENAI_ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}


class FakeOpenAIServer(ScriptedJSONServer):
    """Answers ``POST /v1/chat/completions`` like OpenAI and OpenRouter do."""

    protocol_name = "openai"
    path_pattern = re.compile(r"/v1/chat/completions")

    def success_body(self, request: ReceivedRequest, reply: Reply) -> Any:
        model = (request.json or {}).get("model", "unknown")
        return {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.output_tokens,
                "total_tokens": reply.prompt_tokens + reply.output_tokens,
            },
        }

    def error_body(self, reply: Reply) -> Any:
        return {
            "error": {
                "message": reply.text or f"fake openai error {reply.status}",
                "type": _OPENAI_ERROR_TYPE.get(reply.status, "api_error"),
                "code": reply.status,
            }
        }
