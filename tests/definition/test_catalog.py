"""The step catalog, trigger catalog and workflow JSON Schema come from the same models."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from engine.definition import (
    definition_to_dict,
    get_step_kind,
    parse_definition,
    step_catalog,
    trigger_catalog,
    workflow_json_schema,
)
from engine.definition.docgen import render_step_kinds
from engine.definition.registry import StepConfig, register_step_kind

ROOT = Path(__file__).resolve().parents[2]
KINDS = [
    "send_email", "send_sms", "send_whatsapp", "send_message", "make_call", "ai_prompt",
    "ask_ai", "add_tag", "remove_tag", "update_contact", "create_record", "update_record",
    "create_lead", "update_lead", "schedule_follow_up", "http_request", "wait", "condition",
    "ab_split", "goal", "exit",
]  # fmt: skip


def test_every_step_kind_is_in_the_catalog() -> None:
    catalog = {entry["type"]: entry for entry in step_catalog()}

    assert sorted(catalog) == sorted(KINDS)
    assert {entry["group"] for entry in catalog.values()} == {
        "messaging", "ai", "crm", "integration", "flow",
    }  # fmt: skip
    assert catalog["http_request"]["aliases"] == ["call_webhook"]
    assert catalog["condition"]["aliases"] == ["branch"]
    assert catalog["wait"]["has_side_effects"] is False
    assert catalog["send_sms"]["has_side_effects"] is True


def test_catalog_fields_carry_types_defaults_and_help() -> None:
    fields = {e["type"]: {f["name"]: f for f in e["fields"]} for e in step_catalog()}

    assert fields["http_request"]["method"] == {
        "name": "method",
        "type": "one of GET/POST/PUT/PATCH/DELETE",
        "required": False,
        "default": "POST",
        "help": "HTTP method",
    }
    assert fields["http_request"]["url"]["required"] is True
    assert fields["http_request"]["headers"]["default"] == {}
    assert fields["wait"]["duration"]["type"] == "duration"
    assert fields["condition"]["if"]["type"] == "rules"
    assert fields["ab_split"]["variants"]["type"] == "list of mapping"
    assert fields["update_record"]["record_id"]["type"] == "text or whole number"


def test_every_trigger_kind_is_in_the_catalog() -> None:
    catalog = {entry["type"]: entry for entry in trigger_catalog()}

    assert len(catalog) == 18
    assert catalog["schedule"]["aliases"] == ["time_based"]
    assert [f["name"] for f in catalog["webhook"]["fields"]] == ["match_by", "create"]


def test_the_workflow_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = workflow_json_schema()

    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"name", "trigger", "settings", "steps"} <= set(schema["properties"])


@pytest.mark.parametrize("path", sorted((ROOT / "examples").iterdir()), ids=lambda p: p.name)
def test_every_exported_example_matches_the_workflow_schema(path: Path) -> None:
    exported = definition_to_dict(parse_definition(path.read_bytes()).definition)

    jsonschema.Draft202012Validator(workflow_json_schema()).validate(
        json.loads(json.dumps(exported))
    )


def test_the_schema_refuses_a_step_config_of_the_wrong_kind() -> None:
    document = {
        "name": "x",
        "trigger": {"type": "manual"},
        "steps": [{"id": "a", "type": "send_sms", "config": {"url": "https://x"}}],
    }

    assert not jsonschema.Draft202012Validator(workflow_json_schema()).is_valid(document)


def test_a_name_cannot_belong_to_two_kinds() -> None:
    with pytest.raises(ValueError, match="step kind name 'branch' is already used by 'condition'"):
        register_step_kind(
            "fork", group="flow", label="Fork", description="x", aliases=("branch",)
        )(type("ForkConfig", (StepConfig,), {}))
    assert get_step_kind("fork") is None


def test_the_step_kinds_page_is_generated_from_the_catalog() -> None:
    assert (ROOT / "docs" / "step-kinds.md").read_text() == render_step_kinds()
