"""In a dry-run too, a finished wait reads succeeded with the time waited; a goal met or timed out."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.dryrun import dry_run

START = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
ANN = {"first_name": "Ann", "email": "ann@example.com", "phone": "+4915100000001"}
DAY = 86_400


def steps(definition, **kwargs):
    report = dry_run(definition=definition, contact=ANN, start=START, **kwargs)
    return report, [(s["id"], s["status"], s["output"]) for s in report.steps]


def test_a_wait_ends_succeeded_with_the_time_waited_and_when():
    _, logged = steps(
        {
            "name": "Wait then text",
            "steps": [
                {"id": "pause", "type": "wait", "config": {"duration": "1d"}},
                {"id": "hello", "type": "send_sms", "config": {"message": "Still there?"}},
            ],
        }
    )
    pause_id, status, output = logged[0]
    assert (pause_id, status, output["waited_seconds"]) == ("pause", "succeeded", DAY)
    assert output["ended_at"] == "2026-04-07T09:00:00+00:00"


def test_the_last_wait_of_a_run_is_closed_when_the_run_ends():
    report, logged = steps(
        {
            "name": "Wait last",
            "steps": [{"id": "pause", "type": "wait", "config": {"duration": "2h"}}],
        }
    )
    assert report.status == "completed"
    assert logged[0][1:] == (
        "succeeded",
        {
            "resume_at": "2026-04-06T11:00:00+00:00",
            "waited_seconds": 7200,
            "ended_at": "2026-04-06T11:00:00+00:00",
        },
    )


GOAL = {
    "name": "Book a trial",
    "steps": [
        {
            "id": "booked",
            "type": "goal",
            "config": {
                "condition": {"field": "tags", "operator": "contains", "value": "booked"},
                "on_success": "exit_success",
                "timeout": "7d",
                "on_timeout": "exit_timeout",
            },
        }
    ],
}


def test_a_goal_that_times_out_reads_timed_out():
    _, logged = steps(GOAL)
    goal_id, status, output = logged[0]
    assert (goal_id, status) == ("booked", "succeeded")
    assert (output["met"], output["timed_out"], output["waited_seconds"]) == (False, True, 7 * DAY)


def test_a_goal_met_by_an_event_reads_met_after_the_time_it_waited():
    report, logged = steps(GOAL, events=[{"after": "3d", "type": "tag_added", "tag": "booked"}])
    assert report.exit_reason == "success"
    _, status, output = logged[0]
    assert (status, output["met"], output["timed_out"], output["waited_seconds"]) == (
        "succeeded",
        True,
        False,
        3 * DAY,
    )


def test_a_goal_still_open_when_the_simulation_ends_stays_waiting():
    no_timeout = {
        "name": "Wait for it",
        "steps": [
            {
                "id": "booked",
                "type": "goal",
                "config": {
                    "condition": {"field": "tags", "operator": "contains", "value": "booked"},
                    "on_success": "end",
                },
            }
        ],
    }
    report, logged = steps(no_timeout)
    assert report.status == "waiting"
    assert logged[0][1] == "waiting"
