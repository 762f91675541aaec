"""Start-up checks of the AI settings (Django's system check framework).

A typo in a price or a provider setting is reported by ``manage.py check`` (and by runserver,
migrate and every other command that runs checks) before any call is paid for, instead of as a
crash after one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, register

from prompts.pricing import PriceError, price_table


@register()
def check_ai_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Prices parse; timeouts, retry base and token limit are positive; base URLs are http(s)."""
    errors: list[Error] = []
    try:
        price_table()
    except PriceError as exc:
        errors.append(Error(str(exc), hint=_PRICE_HINT, id="prompts.E001"))
    errors += _number("STUDIO_AI_TIMEOUT_SECONDS", minimum=0, strict=True, id="prompts.E002")
    errors += _number("STUDIO_AI_RETRY_BASE_SECONDS", minimum=0, strict=False, id="prompts.E003")
    errors += _number(
        "STUDIO_AI_MAX_OUTPUT_TOKENS", minimum=0, strict=True, integer=True, id="prompts.E004"
    )
    for name in ("GEMINI_BASE_URL", "OPENAI_COMPATIBLE_BASE_URL"):
        value = getattr(settings, name, "")
        if value and not _is_http_url(value):
            errors.append(
                Error(
                    f"{name} must be an http(s) URL such as https://host/path, got {value!r}",
                    id="prompts.E005",
                )
            )
    for name in ("GEMINI_API_KEY", "OPENAI_COMPATIBLE_API_KEY", "STUDIO_AI_DEFAULT_MODEL"):
        value = getattr(settings, name, "")
        if not isinstance(value, str) or value != value.strip():
            errors.append(
                Error(
                    f"{name} must be a string without surrounding spaces",
                    hint="check for a stray space or newline where it is set",
                    id="prompts.E006",
                )
            )
    return errors


_PRICE_HINT = (
    'e.g. STUDIO_AI_PRICES={"my-model": {"input": "0.30", "output": "2.50", "cached": "0.03"}} '
    "(USD per 1M tokens; as an environment variable, the same JSON)"
)


def _number(
    name: str, *, minimum: float, strict: bool, id: str, integer: bool = False
) -> list[Error]:
    if not hasattr(settings, name):
        return []
    value = getattr(settings, name)
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok:
        ok = value > minimum if strict else value >= minimum
    if ok:
        return []
    what = "an integer" if integer else "a number"
    bound = f"above {minimum:g}" if strict else f"at least {minimum:g}"
    return [Error(f"{name} must be {what} {bound}, got {value!r}", id=id)]


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
