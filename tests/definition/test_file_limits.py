"""Bad definition files get a clear error with its line, never a traceback (issue 14, item 5)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from engine.definition import check_document, limits

WAIT = "name: X\ntrigger: {type: manual}\nsteps:\n  - id: w\n    type: wait\n    config: {duration: %s}\n"


def _json_wait(duration: str) -> str:
    text = json.dumps(
        {
            "name": "X",
            "trigger": {"type": "manual"},
            "steps": [{"id": "w", "type": "wait", "config": {"duration": 0}}],
        }
    )
    return text.replace('"duration": 0', f'"duration": {duration}')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            WAIT % "1h" + "\x00",
            "control character U+0000 at column 1 is not allowed in a workflow file (line 7)",
        ),
        ("name: X\x07\n" + WAIT.split("\n", 1)[1] % "1h", "control character U+0007 at column 8"),
        ('{"name": "X\x1b"}', "control character U+001B"),
        (WAIT % ("9" * 5000), "has more than 20 digits (line 6)"),
        (_json_wait("9" * 5000), "has more than 20 digits (line 1)"),
        (_json_wait("-" + "9" * 21), "has more than 20 digits"),
        (
            '{"name": "X", "x": ' + "[" * 900 + "]" * 900 + "}",
            "nested more than 64 levels deep (line 1)",
        ),
        ("name: X\nx: " + "[" * 900 + "]" * 900 + "\n", "nested more than 64 levels deep"),
        (WAIT % ".inf", "'.inf' is not a finite number (line 6)"),
        (WAIT % "-.inf", "'-.inf' is not a finite number (line 6)"),
        (WAIT % ".nan", "'.nan' is not a finite number (line 6)"),
        (_json_wait("1e999"), "number 1e999 is out of range (line 1)"),
        (_json_wait("NaN"), "NaN is not a JSON number"),
        (
            '{"name": "X",\n "trigger": {"type": "manual"},\n "name": "Y"}',
            "duplicate key 'name' (line 3)",
        ),
    ],
)
def test_a_bad_file_is_an_error_naming_what_and_where(text, message):
    result = check_document(text)

    assert not result.ok
    assert message in str(result.errors[0])


def test_33000_steps_in_a_979_kb_json_file_are_refused_before_validation():
    steps = [{"id": f"s{i}", "type": "exit"} for i in range(33_000)]
    text = json.dumps(
        {"name": "Big", "trigger": {"type": "manual"}, "steps": steps}, separators=(",", ":")
    )
    assert len(text) < 1_000_000

    result = check_document(text)

    assert [str(e) for e in result.errors] == [f"more than {limits.MAX_KEYS} keys in the document"]
    assert result.warnings == []


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_more_steps_than_the_limit_are_refused_with_the_limit(fmt):
    steps = [{"id": f"s{i}", "type": "exit"} for i in range(limits.MAX_STEPS + 1)]
    if fmt == "json":
        text = json.dumps({"name": "Big", "trigger": {"type": "manual"}, "steps": steps})
    else:
        text = "name: Big\ntrigger: {type: manual}\nsteps:\n" + "".join(
            f"  - id: s{i}\n    type: exit\n" for i in range(limits.MAX_STEPS + 1)
        )

    result = check_document(text)

    assert (
        str(result.errors[0])
        == f"steps: 501 steps, more than the {limits.MAX_STEPS} a workflow may have"
    )


def test_50000_unknown_settings_keys_are_refused_before_parsing():
    text = "name: X\ntrigger: {type: manual}\nsettings:\n" + "".join(
        f"  k{i}: 1\n" for i in range(50_000)
    )

    result = check_document(text + "steps:\n  - id: e\n    type: exit\n")

    assert [str(e) for e in result.errors] == [f"more than {limits.MAX_KEYS} keys in the document"]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_too_many_keys_in_one_mapping_are_refused(fmt):
    settings = {f"k{i}": 1 for i in range(limits.MAX_MAPPING_KEYS + 1)}
    document = {"name": "X", "trigger": {"type": "manual"}, "settings": settings, "steps": []}
    text = (
        json.dumps(document, indent=1)
        if fmt == "json"
        else (
            "name: X\ntrigger: {type: manual}\nsettings:\n"
            + "".join(f"  {k}: 1\n" for k in settings)
        )
    )

    result = check_document(text)

    assert f"more than {limits.MAX_MAPPING_KEYS} keys in one mapping" in str(result.errors[0]) or (
        f"an object has more than {limits.MAX_MAPPING_KEYS} keys" in str(result.errors[0])
    )


@pytest.mark.django_db
def test_a_200_mb_file_is_refused_by_its_size_before_it_is_read(tmp_path):
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:
        handle.truncate(200_000_000)  # sparse: no disk, and reading it would take 200 MB

    with pytest.raises(
        CommandError, match=r"huge\.yaml: 200000000 bytes, over the 1000000-byte limit"
    ):
        call_command("validate_workflow", str(huge))
