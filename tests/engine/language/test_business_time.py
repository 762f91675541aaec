"""Business time: only open time counts, from the next opening, across nights, weekends, holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.language.business_hours import BusinessHoursError, add_business_time

WEEKDAYS_9_TO_5 = {"timezone": "UTC", "start": "09:00", "end": "17:00"}


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_monday_0800_plus_two_business_hours_is_1100():
    # 2025-03-03 is a Monday: counting starts at the 09:00 opening.
    assert add_business_time(utc(2025, 3, 3, 8), timedelta(hours=2), WEEKDAYS_9_TO_5) == utc(
        2025, 3, 3, 11
    )


def test_inside_hours_counting_starts_at_once():
    assert add_business_time(utc(2025, 3, 3, 10), timedelta(hours=2), WEEKDAYS_9_TO_5) == utc(
        2025, 3, 3, 12
    )


def test_the_night_is_skipped():
    # Tuesday 16:00 + 3h: one hour on Tuesday, two on Wednesday morning.
    assert add_business_time(utc(2025, 3, 4, 16), timedelta(hours=3), WEEKDAYS_9_TO_5) == utc(
        2025, 3, 5, 11
    )


def test_the_weekend_is_skipped():
    # Friday 16:00 + 2h: one hour on Friday, one on Monday.
    assert add_business_time(utc(2025, 3, 7, 16), timedelta(hours=2), WEEKDAYS_9_TO_5) == utc(
        2025, 3, 10, 10
    )


def test_holidays_are_skipped():
    # Thursday 2025-12-25 and Friday 26 are holidays in Germany (Christmas, Boxing Day).
    spec = {**WEEKDAYS_9_TO_5, "holidays": "DE"}
    assert add_business_time(utc(2025, 12, 24, 16), timedelta(hours=2), spec) == utc(
        2025, 12, 29, 10
    )


def test_a_whole_working_day_of_open_time_ends_at_the_next_days_same_hour():
    assert add_business_time(utc(2025, 3, 3, 13), timedelta(hours=8), WEEKDAYS_9_TO_5) == utc(
        2025, 3, 4, 13
    )


def test_hours_in_a_zone_count_in_that_zone():
    # Tokyo 09:00-17:00 is 00:00-08:00 UTC; Monday 07:00 UTC is 16:00 in Tokyo.
    spec = {"timezone": "Asia/Tokyo"}
    assert add_business_time(utc(2025, 3, 3, 7), timedelta(hours=2), spec) == utc(2025, 3, 4, 1)


def test_zero_is_the_next_opening():
    assert add_business_time(utc(2025, 3, 8, 12), timedelta(0), WEEKDAYS_9_TO_5) == utc(
        2025, 3, 10, 9
    )


def test_a_negative_amount_is_refused():
    with pytest.raises(BusinessHoursError, match="cannot be negative"):
        add_business_time(utc(2025, 3, 3, 8), timedelta(hours=-1), WEEKDAYS_9_TO_5)
