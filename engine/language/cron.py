"""Five-field cron expressions for schedule triggers: croniter does the maths.

One meaning everywhere, crontab(5)'s: when both day-of-month and day-of-week are restricted
(neither starts with ``*``), a day matching **either** runs the job (``0 9 1,15 * mon``: the
1st, the 15th and every Monday). Celery beat's crontab requires both, so such a schedule is
given to beat with both day fields open and the run itself keeps only the days ``runs_on``
accepts; ``next_run`` (the preview) follows the same rule.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
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


def either_day(expr: str) -> bool:
    """True when both day fields are restricted, so either one matching is a run day."""
    fields = _fields(expr)
    return not fields[2].startswith("*") and not fields[4].startswith("*")


def runs_on(expr: str, day: date) -> bool:
    """Whether ``day`` (a calendar day in the schedule's zone) is a run day of ``expr``."""
    fields = _fields(expr)
    return croniter.match(f"0 0 {fields[2]} {fields[3]} {fields[4]}", datetime.combine(day, time()))


def crontab_fields(expr: str) -> dict:
    """The expression as django-celery-beat ``CrontabSchedule`` fields (month names as numbers).

    With both day fields restricted, beat gets both open (it would require both to match) and
    the scheduled run checks ``runs_on``.
    """
    fields = _fields(expr)
    if either_day(expr):
        fields[2] = fields[4] = "*"
    fields[3] = re.sub(r"[a-z]{3}", lambda match: str(MONTHS.index(match.group(0)) + 1), fields[3])
    return dict(zip(FIELD_NAMES, fields, strict=True))
