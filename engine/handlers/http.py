"""``http_request`` (alias ``call_webhook``): an SSRF-checked call whose answer is the result.

Retries on 429/5xx/timeouts come from the executor (transient StepFailed); every attempt of
one step execution carries the same ``Idempotency-Key``. Logged headers are redacted.
"""

from __future__ import annotations

from typing import Any

from engine.effects.net.redact import display_url, redact_headers

from .base import StepContext, StepFailed, StepHandler, StepResult, register
from .sending import render_text

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_TIMEOUT = 120.0


def _timeout(value: Any) -> float:
    try:
        seconds = float(value if value not in (None, "") else 10)
    except (TypeError, ValueError):
        raise StepFailed(f"http_request.timeout is {value!r}, not a number of seconds") from None
    if not 0 < seconds <= MAX_TIMEOUT:
        raise StepFailed(f"http_request.timeout must be between 0 and {MAX_TIMEOUT:g} seconds")
    return seconds


@register
class HttpRequestHandler(StepHandler):
    kind = "http_request"

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = step.get("config") or {}
        raw_url = config.get("url") or config.get("webhookUrl")
        url = render_text(ctx, raw_url, where="http_request.url").strip()
        if not url:
            raise StepFailed("http_request.url rendered to an empty value")
        method = str(config.get("method") or "POST").upper()
        if method not in METHODS:
            raise StepFailed(f"http_request.method '{method}' is not one of {', '.join(METHODS)}")
        headers = {
            str(name): render_text(ctx, value, where=f"http_request.headers.{name}")
            for name, value in (config.get("headers") or {}).items()
        }
        body = ctx.render(config.get("body"))
        timeout = _timeout(config.get("timeout"))
        key = ctx.idempotency_key(step["id"])
        step_input = {
            "method": method,
            "url": display_url(url),
            "headers": redact_headers({**headers, "Idempotency-Key": key}),
            "body": body,
            "timeout": timeout,
        }
        try:
            result = ctx.services.outbound.http_request(
                ctx=ctx,
                step_id=step["id"],
                method=method,
                url=url,
                headers=headers,
                body=body,
                timeout=timeout,
            )
        except StepFailed as exc:
            exc.output = {**exc.output, "request": step_input}
            raise
        return StepResult(output={**result, "result": result.get("body")}, input=step_input)


@register
class CallWebhookHandler(HttpRequestHandler):
    kind = "call_webhook"
