"""The whitelisted tags and filters of the workflow template language.

Only the names registered on ``register`` exist in workflow templates; Django's default libraries
(``load``, ``include``, ``now``, ``url``, ``debug``, ...) are never available.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.template import Library, defaultfilters, defaulttags
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

register = Library()

SAFE_TAGS = (
    "autoescape",
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "spaceless",
    "templatetag",
    "with",
)
SAFE_BUILTIN_FILTERS = (
    "add",
    "capfirst",
    "cut",
    "default",
    "default_if_none",
    "first",
    "join",
    "last",
    "length",
    "linebreaksbr",
    "lower",
    "pluralize",
    "slice",
    "striptags",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "wordcount",
    "yesno",
)
# floatformat builds a Decimal context of the requested precision: cap it so it cannot eat memory
MAX_FLOAT_PRECISION = 20
MAX_FORMAT_LENGTH = 200
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}

for _name in SAFE_TAGS:
    register.tag(_name, defaulttags.register.tags[_name])


def _fail_soft(func: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter that gives "" instead of raising on a value of the wrong type."""

    @functools.wraps(func)  # keeps is_safe / needs_autoescape flags and the argument check
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            return ""

    return wrapper


for _name in SAFE_BUILTIN_FILTERS:
    register.filters[_name] = _fail_soft(defaultfilters.register.filters[_name])


def to_datetime(value: Any) -> datetime | date | None:
    """Read an aware datetime, a date or an ISO-8601 string.

    A date-time without a zone is wall-clock time in the active zone (the workflow's, which
    the runtime activates; UTC outside a run).
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: datetime | date | None = parse_datetime(text) or parse_date(text)
        except ValueError:
            return None
        value = parsed
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=_zone())
    if isinstance(value, date):
        return value
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _zone() -> Any:
    return timezone.get_current_timezone()


def _shift(value: Any, amount: Any, unit: str) -> datetime | date | str:
    moment = to_datetime(value)
    number = _number(amount)
    if moment is None or number is None:
        return ""
    try:
        # Wall-clock arithmetic in the active zone: "+1 day" keeps 09:00 across a DST change.
        return _local(moment) + timedelta(**{unit: number})
    except (OverflowError, ValueError):
        return ""


@register.filter
def add_days(value: Any, days: Any) -> datetime | date | str:
    """``{{ now|add_days:3 }}``: the moment N days later (N may be negative)."""
    return _shift(value, days, "days")


@register.filter
def add_hours(value: Any, hours: Any) -> datetime | date | str:
    """``{{ now|add_hours:2 }}``: the moment N hours later."""
    return _shift(value, hours, "hours")


@register.filter
def add_minutes(value: Any, minutes: Any) -> datetime | date | str:
    """``{{ now|add_minutes:30 }}``: the moment N minutes later."""
    return _shift(value, minutes, "minutes")


def _json_default(value: Any) -> str:
    # the context is plain data, so only dates, datetimes and Decimals need help
    return value.isoformat() if isinstance(value, date) else str(value)


@register.filter(name="json")
def json_filter(value: Any) -> str:
    """``{{ contact.tags|json }}``: the value as JSON text (dates ISO 8601, Decimals as strings)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _local(moment: datetime | date) -> datetime | date:
    # shown in the active time zone, like Django's own date filter
    return timezone.localtime(moment) if isinstance(moment, datetime) else moment


@register.filter
def fmt_date(value: Any, fmt: Any = "%Y-%m-%d") -> str:
    """``{{ now|fmt_date:"%d.%m.%Y" }}``: strftime-style formatting of a datetime or ISO string."""
    moment = to_datetime(value)
    if moment is None or not isinstance(fmt, str) or len(fmt) > MAX_FORMAT_LENGTH:
        return ""
    try:
        return _local(moment).strftime(fmt)
    except ValueError:
        return ""


@register.filter(name="date", expects_localtime=True)
def date_filter(value: Any, arg: Any = None) -> str:
    """Django's ``date`` filter, also accepting ISO-8601 strings."""
    moment = to_datetime(value) if isinstance(value, str) else value
    if isinstance(moment, datetime):
        moment = _local(moment)
    return defaultfilters.date(moment, arg)


@register.filter(name="time", expects_localtime=True)
def time_filter(value: Any, arg: Any = None) -> str:
    """Django's ``time`` filter, also accepting ISO-8601 strings."""
    moment = to_datetime(value) if isinstance(value, str) else value
    if isinstance(moment, datetime):
        moment = _local(moment)
    return defaultfilters.time(moment, arg)


@register.filter(name="floatformat", is_safe=True)
def floatformat_filter(value: Any, arg: Any = -1) -> str:
    """Django's ``floatformat`` with the precision capped at 20 digits."""
    digits = _number(str(arg).rstrip("gu") or -1)
    if digits is None or abs(digits) > MAX_FLOAT_PRECISION:
        return ""
    return defaultfilters.floatformat(value, arg)


@register.filter
def money(value: Any, currency: Any = "") -> str:
    """``{{ amount|money:"EUR" }}`` → "€1,234.50": two decimals, thousands separators."""
    if isinstance(value, bool) or value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value).strip()).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return ""
    if not amount.is_finite():
        return ""
    sign = "-" if amount < 0 else ""
    digits = f"{abs(amount):,.2f}"
    code = str(currency or "").strip().upper()
    if not code:
        return f"{sign}{digits}"
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{digits} {code}"
