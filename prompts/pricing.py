"""Token prices per model and the cost of one generation, in US dollars.

Prices are USD per one million tokens. ``STUDIO_AI_PRICES`` in settings adds or overrides entries:

    STUDIO_AI_PRICES = {"gemini-2.5-flash": {"input": "0.30", "output": "2.50"}, "*": {...}}

The ``"*"`` entry is the fallback for unknown models; it defaults to the dearest listed model so
that a monthly cost cap errs on the safe side.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings

FALLBACK = "*"
COST_QUANTUM = Decimal("0.000001")
ONE_MILLION = Decimal(1_000_000)
FREE_PROVIDERS = frozenset({"offline"})

# Paid-tier list prices for text (prompts up to 200k tokens); check ai.google.dev/pricing.
DEFAULT_PRICES: dict[str, dict[str, str]] = {
    "gemini-3-pro-preview": {"input": "2.00", "output": "12.00"},
    "gemini-3-flash-preview": {"input": "0.50", "output": "3.00"},
    "gemini-2.5-pro": {"input": "1.25", "output": "10.00"},
    "gemini-2.5-flash": {"input": "0.30", "output": "2.50"},
    "gemini-2.5-flash-lite": {"input": "0.10", "output": "0.40"},
    "gemini-2.0-flash": {"input": "0.10", "output": "0.40"},
    "gemini-2.0-flash-lite": {"input": "0.075", "output": "0.30"},
    FALLBACK: {"input": "2.00", "output": "12.00"},
}


def price_table() -> dict[str, tuple[Decimal, Decimal]]:
    """The defaults merged with ``STUDIO_AI_PRICES``, as (input, output) USD per 1M tokens."""
    merged: dict[str, Mapping[str, Any]] = {**DEFAULT_PRICES}
    merged.update(getattr(settings, "STUDIO_AI_PRICES", None) or {})
    table = {}
    for model, entry in merged.items():
        try:
            table[model] = (Decimal(str(entry["input"])), Decimal(str(entry["output"])))
        except (KeyError, TypeError, ArithmeticError) as exc:
            raise ValueError(
                f"STUDIO_AI_PRICES[{model!r}] must be {{'input': <USD>, 'output': <USD>}} "
                f"per 1M tokens, got {entry!r}"
            ) from exc
    return table


def prices_for(model: str) -> tuple[Decimal, Decimal]:
    """(input, output) prices for a model: exact name, then without a ``models/`` or vendor
    prefix (``google/gemini-2.5-flash`` on OpenRouter), then the longest listed prefix
    (``gemini-2.5-flash-preview-05-20``), then the fallback."""
    table = price_table()
    name = model.strip()
    for candidate in (name, name.rsplit("/", 1)[-1]):
        if candidate in table:
            return table[candidate]
    bare = name.rsplit("/", 1)[-1]
    prefixes = [key for key in table if key != FALLBACK and bare.startswith(key)]
    if prefixes:
        return table[max(prefixes, key=len)]
    return table[FALLBACK]


def cost_for(
    model: str, input_tokens: int, output_tokens: int, *, provider: str | None = None
) -> Decimal:
    """USD cost of one call, quantized to six places; the offline provider costs nothing."""
    if provider in FREE_PROVIDERS:
        return Decimal(0).quantize(COST_QUANTUM)
    input_price, output_price = prices_for(model)
    cost = (input_price * input_tokens + output_price * output_tokens) / ONE_MILLION
    return cost.quantize(COST_QUANTUM)
