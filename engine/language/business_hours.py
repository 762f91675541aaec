"""Business hours: which moments count as open, and when the next opening is.

A spec is a dict from workflow settings, all keys optional::

    {"timezone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"],
     "start": "09:00", "end": "17:00", "holidays": "DE"}     # or "DE-BY" for a subdivision

Times are wall-clock times in the spec's zone, so opening stays at 09:00 across DST changes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_calendars

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULTS: dict[str, Any] = {
    "timezone": "UTC",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "17:00",
    "holidays": None,
}
# a spec whose every day is closed (e.g. all holidays) must not loop forever
SEARCH_DAYS = 800
_CLOCK = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")


class BusinessHoursError(ValueError):
    """An invalid business-hours spec, or one with no opening at all."""


@dataclass(frozen=True)
class _Hours:
    zone: ZoneInfo
    days: frozenset[int]
    start: int  # seconds after local midnight
    end: int
    calendar: Any


def _seconds(value: Any) -> int | None:
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60
    return seconds if seconds <= 86_400 else None


def _day(value: Any) -> int | None:
    name = value.strip().lower() if isinstance(value, str) else None
    if name in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(name)
    return DAY_NAMES.index(name) if name in DAY_NAMES else None


@functools.lru_cache(maxsize=64)
def _calendar(code: str) -> Any:
    country, _, subdivision = code.upper().partition("-")
    return holiday_calendars.country_holidays(country, subdiv=subdivision or None)


def _zone_problem(value: Any) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return f"timezone: unknown time zone '{value}' (use a name like Europe/Berlin)"
    return None


def validate_business_hours(spec: Mapping) -> list[str]:
    """Every problem in ``spec``, each naming its key; an empty list when the spec is fine."""
    if not isinstance(spec, Mapping):
        return ["business hours must be a mapping with timezone, days, start, end, holidays"]
    problems = [
        f"unknown key '{key}' (use {', '.join(DEFAULTS)})" for key in spec if key not in DEFAULTS
    ]
    merged = {**DEFAULTS, **spec}
    zone_problem = _zone_problem(merged["timezone"])
    if zone_problem:
        problems.append(zone_problem)
    days = merged["days"]
    if not isinstance(days, list) or not days:
        problems.append("days: must be a non-empty list like [mon, tue, wed, thu, fri]")
    else:
        problems += [
            f"days: unknown day '{day}' (use {', '.join(DAY_NAMES)})"
            for day in days
            if _day(day) is None
        ]
    start, end = _seconds(merged["start"]), _seconds(merged["end"])
    if start is None or start == 86_400:
        problems.append(f"start: bad time '{merged['start']}', use HH:MM like 09:00")
    if end is None:
        problems.append(f"end: bad time '{merged['end']}', use HH:MM like 17:00 (24:00 allowed)")
    if start is not None and end is not None and start < 86_400 and end <= start:
        problems.append(f"end {merged['end']} must be after start {merged['start']}")
    code = merged["holidays"]
    if code not in (None, ""):
        try:
            _calendar(str(code))
        except NotImplementedError as exc:
            problems.append(f"holidays: '{code}' is not a supported country code ({exc})")
    return problems


@functools.lru_cache(maxsize=256)
def _parse(key: str) -> _Hours:
    spec = json.loads(key)
    problems = validate_business_hours(spec)
    if problems:
        raise BusinessHoursError("bad business hours: " + "; ".join(problems))
    merged = {**DEFAULTS, **spec}
    return _Hours(
        zone=ZoneInfo(merged["timezone"]),
        days=frozenset(day for day in map(_day, merged["days"]) if day is not None),
        start=_seconds(merged["start"]) or 0,
        end=_seconds(merged["end"]) or 0,
        calendar=_calendar(str(merged["holidays"])) if merged["holidays"] else None,
    )


def _hours(spec: Mapping) -> _Hours:
    if not isinstance(spec, Mapping):
        raise BusinessHoursError("bad business hours: " + validate_business_hours(spec)[0])
    try:
        key = json.dumps(dict(spec), sort_keys=True)
    except (TypeError, ValueError):
        raise BusinessHoursError("bad business hours: values must be plain JSON data") from None
    return _parse(key)


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime):
        raise BusinessHoursError(f"moment must be a datetime, not {type(moment).__name__}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _open_on(day: date, hours: _Hours) -> bool:
    return day.weekday() in hours.days and (hours.calendar is None or day not in hours.calendar)


def is_business_time(moment: datetime, spec: Mapping) -> bool:
    """True when ``moment`` (naive = UTC) is inside the hours of an open, non-holiday day."""
    hours = _hours(spec)
    local = _aware(moment).astimezone(hours.zone)
    clock = local.hour * 3600 + local.minute * 60 + local.second
    return _open_on(local.date(), hours) and hours.start <= clock < hours.end


def next_business_time(moment: datetime, spec: Mapping) -> datetime:
    """``moment`` itself (as UTC) when inside business hours, else the next opening, aware UTC.

    An opening that falls in a DST gap (02:30 on a spring-forward day) happens one hour later.
    """
    hours = _hours(spec)
    instant = _aware(moment).astimezone(UTC)
    if is_business_time(instant, spec):
        return instant
    first_day = instant.astimezone(hours.zone).date()
    for offset in range(SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        if not _open_on(day, hours):
            continue
        # wall-clock arithmetic: the zone's offset is the one valid at the opening itself
        opening = datetime.combine(day, time(0), tzinfo=hours.zone) + timedelta(seconds=hours.start)
        if opening.astimezone(UTC) > instant:
            return opening.astimezone(UTC)
    raise BusinessHoursError(f"bad business hours: no opening within {SEARCH_DAYS} days")


def add_business_time(moment: datetime, amount: timedelta, spec: Mapping) -> datetime:
    """``amount`` of open time counted from ``moment``, as an aware UTC datetime.

    Counting starts at ``moment`` when it is open, else at the next opening, and only open
    time counts: with Mon–Fri 09:00–17:00, Monday 08:00 + 2h is Monday 11:00, Friday
    16:00 + 2h is Monday 10:00, and closed days and holidays are skipped. Raises
    BusinessHoursError for a negative amount or a spec with no opening.
    """
    if amount < timedelta(0):
        raise BusinessHoursError(f"business time cannot be negative ({amount})")
    hours = _hours(spec)
    current = next_business_time(moment, spec)
    remaining = amount
    for _ in range(SEARCH_DAYS * 10):
        day = current.astimezone(hours.zone).date()
        closing = datetime.combine(day, time(0), tzinfo=hours.zone) + timedelta(seconds=hours.end)
        available = closing.astimezone(UTC) - current
        if remaining <= available:
            return current + remaining
        remaining -= available
        current = next_business_time(closing, spec)
    raise BusinessHoursError(f"bad business hours: {amount} of open time is too long to count")
