"""Progress bars of the long management commands: on stderr with --progress, off by default
when stderr is not a terminal, off with --no-progress; the command's result is unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.cast import make_contact, make_published, make_tenant
from tests.e2e_worker import database_url
from workflows.models import Enrollment, Workflow

ROOT = Path(__file__).resolve().parents[2]
HELLO = """
name: {name}
trigger: {{type: manual}}
steps:
  - id: bye
    type: exit
    config: {{reason: done}}
"""


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def shop(db, settings):
    settings.STUDIO_BULK_ENROLL_CHUNK = 5  # 12 contacts: three chunks, three updates
    tenant = make_tenant("shop")
    for _ in range(12):
        make_contact(tenant)
    make_published(tenant, {"name": "Bye", "trigger": {"type": "manual"},
                            "steps": [{"id": "bye", "type": "exit", "config": {"reason": "x"}}]})  # fmt: skip
    return tenant


def test_enroll_with_progress_draws_a_bar_on_stderr(shop):
    out, err = run("enroll", "Bye", "--tenant", "shop", "--all", "--progress")
    assert "enrolled 12 of 12 contacts in 'Bye'" in out
    assert "enrolling" in err
    assert "12/12" in err
    assert "100%" in err
    assert "Traceback" not in err
    assert Enrollment.objects.filter(workflow__name="Bye").count() == 12


@pytest.mark.parametrize("flag", [[], ["--no-progress"]])
def test_enroll_draws_no_bar_off_a_terminal_or_with_no_progress(shop, flag):
    out, err = run("enroll", "Bye", "--tenant", "shop", "--all", *flag)
    assert "enrolled 12 of 12" in out
    assert err == ""


def test_progress_and_no_progress_together_are_refused(shop):
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("enroll", "Bye", "--tenant", "shop", "--all", "--progress", "--no-progress")


def test_import_of_many_files_counts_files_on_the_bar(db, tmp_path):
    make_tenant("shop")
    files = []
    for n in range(3):
        path = tmp_path / f"flow{n}.yaml"
        path.write_text(HELLO.format(name=f"Flow {n}"))
        files.append(str(path))
    out, err = run("import_workflow", *files, "--tenant", "shop", "--publish", "--progress")
    assert out.count("published version 1") == 3
    assert "importing" in err
    assert "3/3" in err
    assert "Traceback" not in err
    assert Workflow.objects.filter(status="active").count() == 3


def test_one_unreadable_file_among_many_imports_nothing(db, tmp_path):
    make_tenant("shop")
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(HELLO.format(name="Good"))
    bad.write_text("name: [unclosed")
    with pytest.raises(CommandError) as caught:
        run("import_workflow", str(good), str(bad), "--tenant", "shop", "--progress")
    assert caught.value.returncode == 2
    assert str(bad) in str(caught.value)
    assert not Workflow.objects.exists()


def test_seed_demo_with_progress_exits_0_without_a_traceback(require_postgres, transactional_db):
    """manage.py as a user runs it (a real process, its stderr a pipe), on the test database
    (PostgreSQL: a second process cannot open SQLite's in-memory test database)."""
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict)}
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    examples = len(list((ROOT / "examples").iterdir()))
    assert "sample workflows" in result.stderr
    assert f"{examples}/{examples}" in result.stderr
    assert "Admin login: username 'demo'" in result.stdout
