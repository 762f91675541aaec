from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.cast import make_tenant
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NURTURE = EXAMPLES / "new-lead-nurture.yaml"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_validate_prints_the_nurture_warnings_and_succeeds():
    output = run("validate_workflow", str(NURTURE))
    assert "warning: steps[2].config.then: branch target 'send_followup_sms' falls" in output
    assert output.strip().endswith("valid (2 warnings)")


def test_validate_json_lists_errors_with_path_line_and_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(NURTURE.read_text().replace("then: send_followup_sms", "then: nowhere"))
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("validate_workflow", str(bad), "--format", "json", stdout=out)
    assert failed.value.returncode == 1
    report = json.loads(out.getvalue())
    assert report["errors"] == [
        {"path": "steps[2].config.then", "line": 33, "message": "unknown step 'nowhere'"}
    ]


def test_validate_reports_a_missing_file():
    with pytest.raises(CommandError, match="no such file"):
        call_command("validate_workflow", "/nonexistent.yaml")


def test_import_with_publish_then_export_round_trips():
    make_tenant("demo")
    output = run(
        "import_workflow",
        str(EXAMPLES / "studio-missed-call-follow-up.json"),
        "--tenant",
        "demo",
        "--publish",
    )
    assert "created draft 'Missed Call Follow-Up'" in output
    assert "published version 1" in output
    workflow = Workflow.objects.get(name="Missed Call Follow-Up")
    exported = run("export_workflow", "Missed Call Follow-Up", "--tenant", "demo")
    assert "type: send_whatsapp" in exported
    assert "duration: 5m" in exported
    as_json = json.loads(
        run(
            "export_workflow",
            str(workflow.pk),
            "--tenant",
            "demo",
            "--version",
            "1",
            "--format",
            "json",
        )
    )
    assert as_json["trigger"]["type"] == "missed_call"


def test_import_refuses_unknown_tenants_and_broken_files(tmp_path):
    make_tenant("demo")
    with pytest.raises(CommandError, match="no tenant with slug 'nope'"):
        call_command("import_workflow", str(NURTURE), "--tenant", "nope")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nsteps: [\n")
    with pytest.raises(CommandError, match=r"broken\.yaml"):
        call_command("import_workflow", str(broken), "--tenant", "demo")


def test_export_names_what_is_missing():
    make_tenant("demo")
    with pytest.raises(CommandError, match="no workflow named or numbered 'Ghost'"):
        call_command("export_workflow", "Ghost", "--tenant", "demo")
