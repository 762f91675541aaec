"""Token prices per model and the cost of one generation, in US dollars.

Prices are USD per one million tokens. ``STUDIO_AI_PRICES`` in settings adds or overrides entries:

    STUDIO_AI_PRICES = {"gemini-2.5-flash": {"input": "0.30", "output": "2.50", "cached": "0.03"}}

``input`` prices the prompt, ``output`` the answer and the model's thinking (billed as output on
Gemini 2.5+ and OpenAI reasoning models), ``cached`` the prompt tokens served from a context
cache (optional; the input price when left out). The ``"*"`` entry is the fallback for unknown
models; it defaults to the dearest listed model so that a monthly cost cap errs on the safe side.
A malformed entry is a start-up error (``prompts.checks``), never a surprise after a paid call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.conf import settings

FALLBACK = "*"
COST_QUANTUM = Decimal("0.000001")
ONE_MILLION = Decimal(1_000_000)
FREE_PROVIDERS = frozenset({"offline"})
PRICE_KEYS = frozenset({"input", "output", "cached"})

# Paid-tier list prices for text (prompts up to 200k tokens) and context-cache reads; check
# ai.google.dev/gemini-api/docs/pricing.
DEFAULT_PRICES: dict[str, dict[str, str]] = {
    "gemini-3-pro-preview": {"input": "2.00", "output": "12.00", "cached": "0.20"},
    "gemini-3-flash-preview": {"input": "0.50", "output": "3.00", "cached": "0.05"},
    "gemini-2.5-pro": {"input": "1.25", "output": "10.00", "cached": "0.125"},
    "gemini-2.5-flash": {"input": "0.30", "output": "2.50", "cached": "0.03"},
    "gemini-2.5-flash-lite": {"input": "0.10", "output": "0.40", "cached": "0.01"},
    "gemini-2.0-flash": {"input": "0.10", "output": "0.40", "cached": "0.025"},
    "gemini-2.0-flash-lite": {"input": "0.075", "output": "0.30"},
    FALLBACK: {"input": "2.00", "output": "12.00"},
}


class Price(NamedTuple):
    """USD per one million tokens: prompt, output (answer + thinking), cached prompt."""

    input: Decimal
    output: Decimal
    cached: Decimal


class PriceError(ValueError):
    """A ``STUDIO_AI_PRICES`` entry that is not a price; the message names the model and key."""


def parse_price(model: str, entry: Any) -> Price:
    """One price entry as a Price; raises PriceError naming the model and what is wrong."""
    where = f"STUDIO_AI_PRICES[{model!r}]"
    shape = "{'input': <USD>, 'output': <USD>, 'cached': <USD, optional>} per 1M tokens"
    if not isinstance(entry, Mapping):
        raise PriceError(f"{where} must be {shape}, got {entry!r}")
    unknown = sorted(set(map(str, entry)) - PRICE_KEYS)
    if unknown:
        raise PriceError(f"{where}: unknown key(s) {', '.join(unknown)}; use {shape}")
    values: dict[str, Decimal] = {}
    for key in ("input", "output", "cached"):
        if key not in entry:
            if key == "cached":
                continue
            raise PriceError(f"{where} has no {key!r} price; it must be {shape}")
        raw = entry[key]
        try:
            value = Decimal(str(raw)) if not isinstance(raw, bool) else Decimal("NaN")
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0:
            raise PriceError(f"{where}[{key!r}] must be a non-negative number of USD, got {raw!r}")
        values[key] = value
    return Price(values["input"], values["output"], values.get("cached", values["input"]))


def price_table() -> dict[str, Price]:
    """The defaults merged with ``STUDIO_AI_PRICES``; raises PriceError for a malformed entry."""
    merged: dict[str, Any] = {**DEFAULT_PRICES}
    configured = getattr(settings, "STUDIO_AI_PRICES", None) or {}
    if isinstance(configured, str):  # from the environment: JSON
        try:
            configured = json.loads(configured)
        except ValueError as exc:
            raise PriceError(f"STUDIO_AI_PRICES is not valid JSON: {exc}") from None
    if not isinstance(configured, Mapping):
        raise PriceError(f"STUDIO_AI_PRICES must be an object of model → price, got {configured!r}")
    merged.update(configured)
    return {str(model): parse_price(str(model), entry) for model, entry in merged.items()}


def prices_for(model: str) -> Price:
    """The price of a model: exact name, then without a ``models/`` or vendor prefix
    (``google/gemini-2.5-flash`` on OpenRouter), then the longest listed prefix
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
    model: str,
    input_tokens: int,
    output_tokens: int,
    *,
    cached_tokens: int = 0,
    provider: str | None = None,
) -> Decimal:
    """USD cost of one call, quantized to six places; the offline provider costs nothing.

    ``input_tokens`` is the whole prompt, ``cached_tokens`` the part of it read from a cache;
    ``output_tokens`` is everything billed as output, thinking included. Raises PriceError.
    """
    if provider in FREE_PROVIDERS:
        return Decimal(0).quantize(COST_QUANTUM)
    price = prices_for(model)
    cached = min(max(cached_tokens, 0), input_tokens)
    cost = (
        price.input * (input_tokens - cached) + price.cached * cached + price.output * output_tokens
    ) / ONE_MILLION
    return cost.quantize(COST_QUANTUM)


def max_cost_for(
    model: str, input_tokens: int, max_output_tokens: int, *, provider: str | None = None
) -> Decimal:
    """The most one call can cost: every prompt token uncached, every allowed output token used.

    Rounded up to the next micro-dollar, so a reservation is never below the settled cost.
    """
    if provider in FREE_PROVIDERS:
        return Decimal(0).quantize(COST_QUANTUM)
    price = prices_for(model)
    cost = (price.input * input_tokens + price.output * max_output_tokens) / ONE_MILLION
    return cost.quantize(COST_QUANTUM, rounding="ROUND_CEILING")
