from datetime import UTC, datetime

import pytest

from engine.language import business_hours
from engine.language.business_hours import (
    BusinessHoursError,
    is_business_time,
    next_business_time,
    validate_business_hours,
)

BERLIN = {"timezone": "Europe/Berlin"}
EVERY_DAY = {**BERLIN, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_defaults_are_weekdays_nine_to_five_utc():
    assert is_business_time(utc(2024, 5, 6, 9, 0), {})  # Monday
    assert is_business_time(utc(2024, 5, 6, 16, 59, 59), {})
    assert not is_business_time(utc(2024, 5, 6, 17, 0), {})
    assert not is_business_time(utc(2024, 5, 6, 8, 59), {})
    assert not is_business_time(utc(2024, 5, 4, 12, 0), {})  # Saturday
    assert is_business_time(datetime(2024, 5, 6, 12, 0), {})  # naive means UTC


def test_hours_are_read_in_the_spec_time_zone():
    # 07:30 UTC is 09:30 in Berlin summer time
    assert is_business_time(utc(2024, 5, 6, 7, 30), BERLIN)
    assert not is_business_time(utc(2024, 5, 6, 15, 30), BERLIN)


def test_inside_hours_the_moment_itself_is_returned_in_utc():
    moment = datetime.fromisoformat("2024-05-06T10:00:00+02:00")
    result = next_business_time(moment, BERLIN)
    assert result == moment
    assert result.tzinfo is UTC


def test_after_closing_the_next_opening_is_the_next_business_day():
    assert next_business_time(utc(2024, 5, 6, 18, 0), {}) == utc(2024, 5, 7, 9, 0)
    assert next_business_time(utc(2024, 5, 6, 6, 0), {}) == utc(2024, 5, 6, 9, 0)
    assert next_business_time(utc(2024, 5, 10, 18, 0), {}) == utc(2024, 5, 13, 9, 0)  # Fri → Mon


def test_holidays_are_closed():
    spec = {**BERLIN, "holidays": "DE"}
    # Good Friday 2024-03-29 and Easter Monday 2024-04-01 are German public holidays
    assert not is_business_time(utc(2024, 3, 29, 10, 0), spec)
    assert next_business_time(utc(2024, 3, 28, 17, 0), spec) == utc(2024, 4, 2, 7, 0)


def test_regional_holidays_use_a_subdivision():
    # Epiphany (2025-01-06, a Monday) is a holiday in Bavaria but not in Berlin
    moment = utc(2025, 1, 6, 10, 0)
    assert is_business_time(moment, {**BERLIN, "holidays": "DE-BE"})
    assert not is_business_time(moment, {**BERLIN, "holidays": "de-by"})


def test_spring_forward_day_opens_at_local_nine():
    # Berlin moves from UTC+1 to UTC+2 on Sunday 2024-03-31
    assert next_business_time(utc(2024, 3, 30, 20, 0), EVERY_DAY) == utc(2024, 3, 31, 7, 0)
    assert is_business_time(utc(2024, 3, 31, 7, 0), EVERY_DAY)
    assert not is_business_time(utc(2024, 3, 31, 6, 30), EVERY_DAY)


def test_fall_back_day_opens_at_local_nine():
    # Berlin moves from UTC+2 to UTC+1 on Sunday 2024-10-27
    assert next_business_time(utc(2024, 10, 26, 20, 0), EVERY_DAY) == utc(2024, 10, 27, 8, 0)
    assert not is_business_time(utc(2024, 10, 27, 7, 30), EVERY_DAY)


def test_an_opening_inside_the_dst_gap_happens_an_hour_later():
    spec = {**EVERY_DAY, "start": "02:30", "end": "05:00"}
    assert next_business_time(utc(2024, 3, 30, 20, 0), spec) == utc(2024, 3, 31, 1, 30)


def test_full_day_names_and_midnight_end_are_accepted():
    spec = {"days": ["Saturday"], "start": "00:00", "end": "24:00"}
    assert validate_business_hours(spec) == []
    assert is_business_time(utc(2024, 5, 4, 23, 59), spec)
    assert next_business_time(utc(2024, 5, 5, 0, 0), spec) == utc(2024, 5, 11, 0, 0)


def test_validation_names_every_problem():
    spec = {
        "timezone": "Mars/Base",
        "days": ["mon", "funday", "monkey"],
        "start": "9",
        "end": "25:00",
        "holidays": "XX",
        "lunch": "12:00",
    }
    problems = validate_business_hours(spec)
    assert problems == [
        "unknown key 'lunch' (use timezone, days, start, end, holidays)",
        "timezone: unknown time zone 'Mars/Base' (use a name like Europe/Berlin)",
        "days: unknown day 'funday' (use mon, tue, wed, thu, fri, sat, sun)",
        "days: unknown day 'monkey' (use mon, tue, wed, thu, fri, sat, sun)",
        "start: bad time '9', use HH:MM like 09:00",
        "end: bad time '25:00', use HH:MM like 17:00 (24:00 allowed)",
        "holidays: 'XX' is not a supported country code (Country XX not available)",
    ]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"start": "18:00", "end": "09:00"}, "end 09:00 must be after start 18:00"),
        ({"start": "24:00"}, "start: bad time '24:00'"),
        ({"days": []}, "days: must be a non-empty list"),
        ({"days": "mon"}, "days: must be a non-empty list"),
        ({"holidays": "DE-ZZ"}, "holidays: 'DE-ZZ' is not a supported country code"),
        ({"timezone": 5}, "timezone: unknown time zone '5'"),
        ("9-5", "business hours must be a mapping"),
    ],
)
def test_validation_problems(spec, problem):
    assert any(p.startswith(problem) for p in validate_business_hours(spec))


def test_an_invalid_spec_raises_when_used():
    with pytest.raises(BusinessHoursError, match="bad business hours: end 09:00 must be after"):
        is_business_time(utc(2024, 5, 6, 10), {"start": "18:00", "end": "09:00"})
    with pytest.raises(BusinessHoursError, match="must be a mapping"):
        next_business_time(utc(2024, 5, 6, 10), "9-5")
    with pytest.raises(BusinessHoursError, match="plain JSON data"):
        is_business_time(utc(2024, 5, 6, 10), {"days": {"mon"}})
    with pytest.raises(BusinessHoursError, match="moment must be a datetime, not str"):
        is_business_time("2024-05-06", {})


def test_a_spec_with_no_opening_raises(monkeypatch):
    monkeypatch.setattr(business_hours, "SEARCH_DAYS", 3)
    with pytest.raises(BusinessHoursError, match="no opening within 3 days"):
        next_business_time(utc(2024, 5, 6, 18), {"days": ["sun"]})
