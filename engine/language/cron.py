"""Five-field cron expressions for schedule triggers: croniter does the maths."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

FIELD_NAMES = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# celery-beat's crontab has no L, W, # or ? extensions: accept only what both sides understand
_FIELD = re.compile(r"[0-9a-z*,/-]+")
_NAMES = {3: MONTHS, 4: ("sun", "mon", "tue", "wed", "thu", "fri", "sat")}


class CronError(ValueError):
    """A cron expression or time zone that cannot be used."""


def _fields(expr: str) -> list[str]:
    if not isinstance(expr, str):
        raise CronError(f"bad cron '{expr}': must be a string like '0 9 * * mon-fri'")
    text = ALIASES.get(expr.strip().lower(), expr.strip().lower())
    fields = text.split()
    if len(fields) != len(FIELD_NAMES):
        raise CronError(
            f"bad cron '{expr}': expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}"
        )
    for index, (name, field) in enumerate(zip(FIELD_NAMES, fields, strict=True)):
        words = re.findall(r"[a-z]+", field)
        if not _FIELD.fullmatch(field) or any(w not in _NAMES.get(index, ()) for w in words):
            raise CronError(f"bad cron '{expr}': {name} field '{field}' has unsupported characters")
    try:
        croniter(" ".join(fields))
    except (CroniterError, ValueError) as exc:
        raise CronError(f"bad cron '{expr}': {exc}") from None
    return fields


def validate_cron(expr: str) -> None:
    """Raise CronError ("bad cron 'x': ...") unless ``expr`` is a valid 5-field cron or @alias."""
    _fields(expr)


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise CronError(f"unknown time zone '{timezone}' (use a name like Europe/Berlin)") from None


def next_run(expr: str, *, timezone: str, after: datetime) -> datetime:
    """The first run strictly after ``after`` (naive = UTC), as aware UTC.

    The expression is read in ``timezone`` wall-clock time. On a fall-back day a job with a fixed
    hour runs once (at the first 02:30), a job with ``*`` hours runs in both repeated hours; a time
    skipped by spring-forward runs at the moment the clocks jump.
    """
    fields = _fields(expr)
    zone = _zone(timezone)
    start = after if after.tzinfo is not None else after.replace(tzinfo=UTC)
    schedule = croniter(" ".join(fields), start.astimezone(zone))
    fixed_hour = fields[1] != "*"
    while True:
        candidate = schedule.get_next(datetime)
        # fold=1 is the repeated hour after clocks go back; fixed-hour jobs already ran in the first
        if not (fixed_hour and candidate.fold):
            return candidate.astimezone(UTC)


def crontab_fields(expr: str) -> dict:
    """The expression as django-celery-beat ``CrontabSchedule`` fields (month names as numbers)."""
    fields = _fields(expr)
    fields[3] = re.sub(r"[a-z]{3}", lambda match: str(MONTHS.index(match.group(0)) + 1), fields[3])
    return dict(zip(FIELD_NAMES, fields, strict=True))
