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
        finish = {"stop": "stop", "max_tokens": "length", "safety": "content_filter"}[reply.finish]
        # Cut off by the limit: an empty string; withheld by the filter: no content at all.
        content = reply.text if reply.finish != "safety" else None
        return {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": _openai_usage(reply),
        }

    def blocked_body(self, request: ReceivedRequest, reply: Reply) -> Any:
        """A refused prompt: OpenAI-compatible services answer with the content filter."""
        return self.success_body(request, Reply.filtered(prompt_tokens=reply.prompt_tokens))

    def error_body(self, reply: Reply) -> Any:
        message = reply.text or f"fake openai error {reply.status}"
        kind = _OPENAI_ERROR_TYPE.get(reply.status, "api_error")
        if not reply.echo:
            return {"error": {"message": message, "type": kind, "code": reply.status}}
        return {
            "error": {
                "message": f"{message} {reply.echo}",
                "type": f"{kind} {reply.echo}",
                "code": f"invalid_api_key {reply.echo}",
                "param": reply.echo,
                "metadata": {"raw": f"key {reply.echo} rejected"},
            }
        }


def _openai_usage(reply: Reply) -> dict[str, Any]:
    """OpenAI's usage: completion tokens include the reasoning tokens and prompt tokens include
    the cached ones, each broken down in its ``*_details``."""
    completion = reply.output_tokens + reply.thinking_tokens
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reply.thinking_tokens},
    }
