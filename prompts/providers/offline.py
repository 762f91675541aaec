"""A deterministic provider with no network, so the studio and its demo run without an API key."""

from __future__ import annotations

import json
import math
from typing import Any

from prompts.providers.base import GenerationRequest, ProviderResponse

OFFLINE_LABEL = "[offline provider — no GEMINI_API_KEY set]"
_SUMMARY_CHARS = 120
_MAX_DEPTH = 4


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters a token), never zero for non-empty text."""
    return math.ceil(len(text) / 4)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


def placeholder_for(schema: Any, depth: int = 0) -> Any:
    """A value fitting a JSON-Schema fragment: the label for strings, zeros, empty lists."""
    if not isinstance(schema, dict):
        return OFFLINE_LABEL
    if schema.get("enum"):
        return schema["enum"][0]
    kind = str(schema.get("type", "string")).lower()
    if kind == "object":
        return _object_placeholder(schema, depth + 1) if depth < _MAX_DEPTH else {}
    if kind == "array":
        item = schema.get("items")
        return [placeholder_for(item, depth + 1)] if item and depth < _MAX_DEPTH else []
    return {"integer": 0, "number": 0, "boolean": False, "null": None}.get(kind, OFFLINE_LABEL)


def _object_placeholder(schema: dict, depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    names = schema.get("required") or list(properties)
    return {name: placeholder_for(properties.get(name), depth) for name in names}


class OfflineProvider:
    """Echoes a labelled summary of the request; JSON requests get placeholder JSON."""

    name = "offline"

    def generate(self, request: GenerationRequest) -> ProviderResponse:
        """Answer at once with a deterministic text built only from the request."""
        if request.json_output:
            schema = request.response_schema
            if isinstance(schema, dict) and schema.get("properties"):
                value: Any = _object_placeholder(schema, 1)
            else:
                value = {
                    "offline": True,
                    "note": OFFLINE_LABEL,
                    "system_prompt": _excerpt(request.system_text),
                }
            text = json.dumps(value, ensure_ascii=False)
        else:
            lines = [OFFLINE_LABEL, f"model: {request.model}"]
            lines.append(f"system prompt: {_excerpt(request.system_text)}")
            if request.user_text:
                lines.append(f"user input: {_excerpt(request.user_text)}")
            text = "\n".join(lines)
        return ProviderResponse(
            text=text,
            input_tokens=estimate_tokens(request.system_text + request.user_text),
            output_tokens=estimate_tokens(text),
            model=request.model,
            provider=self.name,
            raw={"offline": True, "text": text},
        )
