from datetime import UTC, datetime

import pytest

from engine.language.cron import CronError, crontab_fields, next_run, validate_cron

BERLIN = "Europe/Berlin"


@pytest.mark.parametrize(
    "expr", ["* * * * *", "0 9 * * mon-fri", "*/15 8-18 1,15 jan-jun *", "@daily", " @HOURLY "]
)
def test_valid_expressions_pass(expr):
    assert validate_cron(expr) is None


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * * * *", "bad cron '\\* \\* \\* \\* \\* \\*': expected 5 fields .* got 6"),
        ("0 9 * *", "got 4"),
        ("61 * * * *", "bad cron '61 \\* \\* \\* \\*': .*out of range"),
        ("0 9 L * *", "day_of_month field 'l' has unsupported characters"),
        ("0 9 * * 5#2", "day_of_week field '5#2' has unsupported characters"),
        ("0 9 * monday *", "month_of_year field 'monday'"),
        ("0 9 * * 1-", "bad cron '0 9 \\* \\* 1-'"),
        (5, "bad cron '5': must be a string"),
    ],
)
def test_invalid_expressions_are_refused(expr, message):
    with pytest.raises(CronError, match=message):
        validate_cron(expr)


def test_next_run_is_strictly_after_and_in_utc():
    after = datetime(2024, 3, 8, 9, 0, tzinfo=UTC)
    assert next_run("0 9 * * *", timezone="UTC", after=after) == datetime(
        2024, 3, 9, 9, 0, tzinfo=UTC
    )


def test_next_run_reads_naive_after_as_utc():
    after = datetime(2024, 3, 8, 8, 0)
    assert next_run("0 9 * * *", timezone="UTC", after=after) == datetime(
        2024, 3, 8, 9, 0, tzinfo=UTC
    )


def test_next_run_keeps_wall_clock_time_across_spring_forward():
    # New York springs forward on 2024-03-10: 09:00 is 14:00 UTC before and 13:00 UTC after
    after = datetime(2024, 3, 8, 15, 0, tzinfo=UTC)
    run = next_run("0 9 * * mon-fri", timezone="America/New_York", after=after)
    assert run == datetime(2024, 3, 11, 13, 0, tzinfo=UTC)
    assert run.tzinfo is UTC


def test_a_time_skipped_by_spring_forward_runs_when_the_clocks_jump():
    after = datetime(2024, 3, 30, 12, 0, tzinfo=UTC)
    run = next_run("30 2 * * *", timezone=BERLIN, after=after)
    assert run == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)  # 03:00 CEST


def test_a_fixed_time_runs_once_on_fall_back_day():
    first = next_run("30 2 * * *", timezone=BERLIN, after=datetime(2024, 10, 26, 12, tzinfo=UTC))
    assert first == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = next_run("30 2 * * *", timezone=BERLIN, after=first)
    assert second == datetime(2024, 10, 28, 1, 30, tzinfo=UTC)  # next day, 02:30 CET


def test_an_hourly_job_runs_in_both_repeated_hours_on_fall_back_day():
    first = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second = next_run("30 * * * *", timezone=BERLIN, after=first)
    assert second == datetime(2024, 10, 27, 1, 30, tzinfo=UTC)  # 02:30 CET


def test_next_run_refuses_an_unknown_time_zone():
    with pytest.raises(CronError, match="unknown time zone 'Mars/Base'"):
        next_run("* * * * *", timezone="Mars/Base", after=datetime(2024, 1, 1, tzinfo=UTC))


def test_crontab_fields_for_celery_beat():
    assert crontab_fields("*/15 8-18 1,15 jan-mar,dec *") == {
        "minute": "*/15",
        "hour": "8-18",
        "day_of_month": "1,15",
        "month_of_year": "1-3,12",
        "day_of_week": "*",
    }
    # Both day fields restricted: beat gets them open, the run keeps crontab(5)'s days.
    assert crontab_fields("*/15 8-18 1,15 jan-mar,dec mon-fri") == {
        "minute": "*/15",
        "hour": "8-18",
        "day_of_month": "*",
        "month_of_year": "1-3,12",
        "day_of_week": "*",
    }
    assert crontab_fields("@weekly") == {
        "minute": "0",
        "hour": "0",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "0",
    }


def test_crontab_fields_refuses_bad_expressions():
    with pytest.raises(CronError, match="bad cron"):
        crontab_fields("nope")
