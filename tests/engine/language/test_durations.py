from datetime import timedelta

import pytest

from engine.language.durations import (
    DurationError,
    format_duration,
    milliseconds_to_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1d", timedelta(days=1)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("1w", timedelta(weeks=1)),
        ("45s", timedelta(seconds=45)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1w2d3h4m5s", timedelta(days=9, hours=3, minutes=4, seconds=5)),
        ("2h 30m", timedelta(hours=2, minutes=30)),
        (" 1D ", timedelta(days=1)),
        ("P1D", timedelta(days=1)),
        ("PT30M", timedelta(minutes=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("01:30:00", timedelta(hours=1, minutes=30)),
        ("300", timedelta(minutes=5)),
        (0, timedelta(0)),
        (90, timedelta(minutes=1, seconds=30)),
        (1.5, timedelta(seconds=1.5)),
        (timedelta(hours=1), timedelta(hours=1)),
    ],
)
def test_parse_duration_reads_every_form(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3x", "bad duration '3x': use 30m, 2h30m, 1d or ISO 8601 like PT30M"),
        ("", "bad duration '': use 30m"),
        ("1.5h", "bad duration '1.5h'"),
        ("m30", "bad duration 'm30'"),
        (True, "bad duration 'True'"),
        (None, "bad duration 'None'"),
        ([1], r"bad duration '\[1\]'"),
        (float("inf"), "bad duration 'inf'"),
        (-5, "bad duration '-5': must not be negative"),
        ("-P1D", "bad duration '-P1D': must not be negative"),
        (timedelta(seconds=-1), "must not be negative"),
        (10**12 * 86400, "too long"),
    ],
)
def test_parse_duration_refuses_bad_values(value, message):
    with pytest.raises(DurationError, match=message):
        parse_duration(value)


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(minutes=30), "30m"),
        (timedelta(hours=2, minutes=30), "2h30m"),
        (timedelta(days=1), "1d"),
        (timedelta(days=9), "9d"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(hours=1, seconds=5), "1h5s"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (timedelta(days=1, milliseconds=250), "PT86400.25S"),
    ],
)
def test_format_duration_is_compact_and_reads_back(td, text):
    assert format_duration(td) == text
    assert parse_duration(text) == td


def test_format_duration_refuses_negative():
    with pytest.raises(DurationError, match="must not be negative"):
        format_duration(timedelta(seconds=-1))


@pytest.mark.parametrize(
    ("ms", "text"),
    [(300_000, "5m"), (86_400_000, "1d"), (0, "0s"), (5_400_000, "1h30m"), (1500, "PT1.5S")],
)
def test_milliseconds_to_duration(ms, text):
    assert milliseconds_to_duration(ms) == text


@pytest.mark.parametrize("ms", [-1, "300000", None, True, float("nan"), float("inf")])
def test_milliseconds_to_duration_refuses_bad_values(ms):
    with pytest.raises(DurationError, match="milliseconds must be a number >= 0"):
        milliseconds_to_duration(ms)
