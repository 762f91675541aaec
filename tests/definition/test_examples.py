"""Every sample workflow parses, validates without errors, exports and imports back identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definition import (
    definition_to_dict,
    dump_json,
    dump_yaml,
    load_definition,
    parse_definition,
    validate_definition,
)

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").iterdir())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_parses_and_validates_without_errors(path: Path) -> None:
    parsed = parse_definition(path.read_bytes())

    assert validate_definition(parsed.definition).errors == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_exports_and_imports_back_identical(path: Path) -> None:
    definition = parse_definition(path.read_bytes()).definition

    assert parse_definition(dump_yaml(definition)).definition == definition
    assert parse_definition(dump_json(definition)).definition == definition
    assert load_definition(definition_to_dict(definition)) == definition


def test_the_typescript_examples_are_recognised_as_legacy() -> None:
    legacy = [p.name for p in EXAMPLES if parse_definition(p.read_bytes()).legacy]

    assert legacy == [p.name for p in EXAMPLES if p.suffix == ".json"]


def test_the_nurture_example_reports_its_two_warnings() -> None:
    definition = parse_definition((EXAMPLES[0]).read_text()).definition

    warnings = [str(w) for w in validate_definition(definition).warnings]

    assert warnings == [
        "steps[2].config.then: branch target 'send_followup_sms' falls through into "
        "'send_reminder_email', the else target; give 'send_followup_sms' a next (e.g. end) "
        "to keep the branches apart (line 33)",
        "steps[6]: loop call_immediately → wait_then_call → call_immediately has no way out: "
        "only a goal, an exit condition or max_step_visits (50) ends it (line 57)",
    ]


def test_the_nurture_delay_in_config_is_hoisted_to_the_step() -> None:
    definition = parse_definition(EXAMPLES[0].read_text()).definition

    welcome = definition.steps[0]
    assert welcome.delay is None
    assert "delay" not in definition_to_dict(definition)["steps"][0]["config"]


def test_the_export_reads_like_the_hand_written_yaml() -> None:
    definition = parse_definition(EXAMPLES[0].read_text()).definition

    text = dump_yaml(definition)

    assert text.startswith("name: New Lead Nurture\ndescription: Welcome sequence for new leads\n")
    assert "  - id: wait_then_call\n    type: wait\n    config:\n      duration: 2d\n" in text
    assert "    next: call_immediately\n" in text
    assert "&" not in text
    assert "*" not in text
    assert list(definition_to_dict(definition)) == [
        "name",
        "description",
        "version",
        "trigger",
        "steps",
    ]
