"""Durations in workflow definitions: ``30m``, ``2h30m``, ``1d``, ``1w`` or ISO 8601 (``PT30M``)."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from django.utils.dateparse import parse_duration as django_parse_duration

_COMPACT = re.compile(
    r"(?:(?P<weeks>\d+)\s*w)?\s*(?:(?P<days>\d+)\s*d)?\s*(?:(?P<hours>\d+)\s*h)?\s*"
    r"(?:(?P<minutes>\d+)\s*m)?\s*(?:(?P<seconds>\d+)\s*s)?",
    re.IGNORECASE,
)
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


class DurationError(ValueError):
    """A duration that cannot be read, or a negative one."""


def _bad(value: object) -> DurationError:
    return DurationError(f"bad duration '{value}': use 30m, 2h30m, 1d or ISO 8601 like PT30M")


def _parse_text(value: str) -> timedelta:
    text = value.strip()
    if not text:
        raise _bad(value)
    compact = _COMPACT.fullmatch(text)
    if compact:
        parts = {unit: int(amount) for unit, amount in compact.groupdict().items() if amount}
        return timedelta(**parts)
    # ISO 8601 ("P1DT2H"), "HH:MM:SS" and PostgreSQL's "3 days 04:05:06", as Django reads them
    parsed = django_parse_duration(text)
    if parsed is None:
        raise _bad(value)
    return parsed


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """A non-negative timedelta from ``30m``/``1d12h``/ISO 8601, seconds or a timedelta."""
    if isinstance(value, bool):
        raise _bad(value)
    try:
        if isinstance(value, timedelta):
            result = value
        elif isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise _bad(value)
            result = timedelta(seconds=value)
        elif isinstance(value, str):
            result = _parse_text(value)
        else:
            raise _bad(value)
    except OverflowError:
        raise DurationError(f"bad duration '{value}': too long") from None
    if result < timedelta(0):
        raise DurationError(f"bad duration '{value}': must not be negative")
    return result


def format_duration(td: timedelta) -> str:
    """The compact form ``parse_duration`` reads back: ``1d``, ``2h30m``, ``0s``; days at most.

    Sub-second durations use ISO 8601 (``PT0.5S``) so nothing is lost.
    """
    if td < timedelta(0):
        raise DurationError(f"bad duration '{td}': must not be negative")
    if td.microseconds:
        return f"PT{td.total_seconds():f}".rstrip("0").rstrip(".") + "S"
    remaining = td.days * 86_400 + td.seconds
    if not remaining:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def milliseconds_to_duration(ms: int) -> str:
    """The compact duration for a millisecond count (the TypeScript format): 300000 → ``5m``."""
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not ms >= 0 or math.isinf(ms):
        raise DurationError(f"bad duration '{ms}': milliseconds must be a number >= 0")
    return format_duration(timedelta(milliseconds=ms))
