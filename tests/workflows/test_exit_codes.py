"""The management commands' documented exit codes (docs/commands.md).

0 done · 1 the thing asked for failed · 2 invalid input · 3 done, with something to look at.
"""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.cast import make_tenant

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NURTURE = ROOT / "examples" / "new-lead-nurture.yaml"
MISSED_CALL = ROOT / "examples" / "studio-missed-call-follow-up.json"

EMAIL_THEN_END = """
name: Say hello
trigger: {type: manual}
steps:
  - id: hello
    type: send_email
    config: {subject: "Hi {{contact.first_name}}", body: "Welcome"}
"""
EXIT_EARLY = """
name: Leave early
trigger: {type: manual}
steps:
  - id: leave
    type: exit
    config: {reason: not_interested}
"""
WAIT_FOR_GOAL = """
name: Wait for a booking
trigger: {type: manual}
steps:
  - id: booked
    type: goal
    config:
      condition: {field: tags, operator: contains, value: booked}
      on_success: end
"""


def exit_code(*args, **kwargs) -> int:
    """Run a command as manage.py would and return the exit code it would end with."""
    try:
        call_command(*args, stdout=StringIO(), stderr=StringIO(), **kwargs)
    except CommandError as exc:
        return exc.returncode
    return 0


def dry_run(tmp_path, text: str, contact: dict | str, *extra: str) -> int:
    source = tmp_path / "flow.yaml"
    source.write_text(text)
    raw = contact if isinstance(contact, str) else json.dumps(contact)
    return exit_code("dry_run_workflow", str(source), "--tenant", "demo", "--contact", raw, *extra)


@pytest.fixture
def demo():
    return make_tenant("demo")


ANN = {"first_name": "Ann", "email": "ann@example.com"}


def test_dry_run_exits_0_when_the_run_completes(demo, tmp_path):
    assert dry_run(tmp_path, EMAIL_THEN_END, ANN) == 0


def test_dry_run_exits_0_when_the_run_exits_as_designed(demo, tmp_path):
    assert dry_run(tmp_path, EXIT_EARLY, ANN) == 0


def test_dry_run_exits_1_when_the_simulated_run_fails(demo, tmp_path):
    # No email address: the send fails, and so does the command.
    assert dry_run(tmp_path, EMAIL_THEN_END, {"first_name": "Ann"}) == 1


def test_dry_run_exits_1_with_the_reason_on_stderr(demo, tmp_path):
    source = tmp_path / "flow.yaml"
    source.write_text(EMAIL_THEN_END)
    with pytest.raises(CommandError, match="the simulated run failed") as raised:
        call_command(
            "dry_run_workflow", str(source), "--tenant", "demo", "--contact", "{}",
            stdout=StringIO(),
        )  # fmt: skip
    assert raised.value.returncode == 1


def test_dry_run_exits_3_when_the_run_is_still_waiting(demo, tmp_path):
    assert dry_run(tmp_path, WAIT_FOR_GOAL, ANN) == 3


@pytest.mark.parametrize(
    ("contact", "extra"),
    [
        ("{not json", ()),
        ('["a list"]', ()),
        (json.dumps(ANN), ("--events", '{"after": "1h"}')),
        (json.dumps(ANN), ("--events", '[{"after": "soon", "type": "email_opened"}]')),
    ],
    ids=["bad-json", "contact-not-an-object", "events-not-a-list", "event-with-a-bad-time"],
)
def test_dry_run_exits_2_for_invalid_input(demo, tmp_path, contact, extra):
    assert dry_run(tmp_path, EMAIL_THEN_END, contact, *extra) == 2


def test_dry_run_exits_2_for_an_unknown_tenant_or_workflow(demo):
    assert exit_code("dry_run_workflow", "Ghost", "--tenant", "demo", "--contact", "{}") == 2
    assert exit_code("dry_run_workflow", "Ghost", "--tenant", "nope", "--contact", "{}") == 2


def test_validate_exits_0_with_warnings_and_3_with_strict():
    assert exit_code("validate_workflow", str(NURTURE)) == 0
    assert exit_code("validate_workflow", str(NURTURE), "--strict") == 3


def test_validate_exits_0_with_strict_when_there_is_nothing_to_say(tmp_path):
    clean = tmp_path / "clean.yaml"
    clean.write_text(EMAIL_THEN_END)
    assert exit_code("validate_workflow", str(clean), "--strict") == 0


def test_validate_exits_1_for_errors_and_2_for_an_unreadable_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(NURTURE.read_text().replace("then: send_followup_sms", "then: nowhere"))
    assert exit_code("validate_workflow", str(broken)) == 1
    assert exit_code("validate_workflow", str(tmp_path / "missing.yaml")) == 2
    assert exit_code("validate_workflow", str(tmp_path)) == 2  # a directory


def test_import_exits_0_1_and_2(demo, tmp_path):
    assert exit_code("import_workflow", str(MISSED_CALL), "--tenant", "demo", "--publish") == 0
    # The nurture names email templates this tenant does not have: publishing is refused.
    assert exit_code("import_workflow", str(NURTURE), "--tenant", "demo", "--publish") == 1
    assert exit_code("import_workflow", str(NURTURE), "--tenant", "nope") == 2
    unparseable = tmp_path / "unparseable.yaml"
    unparseable.write_text("name: [unclosed")
    assert exit_code("import_workflow", str(unparseable), "--tenant", "demo") == 2


def test_export_exits_2_for_what_does_not_exist(demo):
    call_command("import_workflow", str(NURTURE), "--tenant", "demo", stdout=StringIO())
    assert exit_code("export_workflow", "New Lead Nurture", "--tenant", "demo") == 0
    assert (
        exit_code("export_workflow", "New Lead Nurture", "--tenant", "demo", "--version", "9") == 2
    )
    assert exit_code("export_workflow", "Ghost", "--tenant", "demo") == 2


def test_enroll_exits_1_for_a_draft_and_2_for_a_bad_selection(demo):
    name = "Missed Call Follow-Up"
    call_command("import_workflow", str(MISSED_CALL), "--tenant", "demo", stdout=StringIO())
    assert exit_code("enroll", name, "--tenant", "demo", "--all") == 1
    call_command(
        "import_workflow", str(MISSED_CALL), "--tenant", "demo", "--publish", stdout=StringIO()
    )
    assert exit_code("enroll", name, "--tenant", "demo", "--all") == 0
    assert exit_code("enroll", name, "--tenant", "demo", "--contact", "999999") == 2
    assert exit_code("enroll", name, "--tenant", "demo", "--filter", "{oops") == 2


def test_the_process_exit_status_is_the_documented_code(tmp_path):
    """Django turns CommandError.returncode into the process status."""
    cases = {
        (str(NURTURE),): 0,
        (str(NURTURE), "--strict"): 3,
        (str(tmp_path / "missing.yaml"),): 2,
    }
    for args, expected in cases.items():
        result = subprocess.run(
            [sys.executable, "manage.py", "validate_workflow", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert (args, result.returncode) == (args, expected), result.stderr
        assert "Traceback" not in result.stderr
