"""A table of malformed documents, each with the exact message a user sees."""

from __future__ import annotations

import pytest

from engine.definition import ValidationContext, check_document
from tests.definition.helpers import workflow

NO_PROMPTS = ValidationContext(prompt_exists=lambda name, version: False)

CASES = [
    pytest.param(
        "name: x\n  trigger: [\n",
        "invalid YAML: mapping values are not allowed here at column 10 (line 2)",
        id="broken-yaml",
    ),
    pytest.param(
        'a: &a ["lol", "lol"]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n',
        "YAML aliases are not allowed (line 2)",
        id="alias-bomb",
    ),
    pytest.param(
        "name: " + "x" * 10_000_000 + "\n",
        "document is 10.0 MB, over the 1.0 MB limit",
        id="ten-megabytes",
    ),
    pytest.param(
        '{"name": "x",\n "steps": [}',
        "invalid JSON: Expecting value at column 12 (line 2)",
        id="broken-json",
    ),
    pytest.param(
        "- a\n- b\n",
        "a workflow must be a mapping with name, trigger and steps, got a list (line 1)",
        id="top-level-list",
    ),
    pytest.param("", "the document is empty", id="empty"),
    pytest.param("name: a\nname: b\n", "duplicate key 'name' (line 2)", id="duplicate-key"),
    pytest.param(
        workflow("- id: a\n  type: send_emial\n  config: {}\n"),
        "steps[0].type: unknown step type 'send_emial' (did you mean 'send_email'?) (line 6)",
        id="unknown-kind",
    ),
    pytest.param(
        workflow("- id: a\n  type: teleport\n"),
        "steps[0].type: unknown step type 'teleport' (line 6)",
        id="unknown-kind-no-hint",
    ),
    pytest.param(
        "name: T\ntrigger:\n  type: contact_craeted\nsteps:\n  - id: a\n    type: exit\n",
        "trigger.type: unknown trigger type 'contact_craeted' (did you mean 'contact_created'?)"
        " (line 3)",
        id="unknown-trigger",
    ),
    pytest.param(
        workflow("- id: a\n  type: wait\n  config: {duration: 1d}\n  next: nope\n"),
        "steps[0].next: unknown step 'nope' (line 8)",
        id="dangling-next",
    ),
    pytest.param(
        workflow(
            """\
            - id: check
              type: condition
              config:
                if: [{field: tags, operator: contains, value: vip}]
                then: vip_mail
                else: end
            - id: vip_email
              type: exit
            """
        ),
        "steps[0].config.then: unknown step 'vip_mail' (did you mean 'vip_email'?) (line 9)",
        id="dangling-branch-target",
    ),
    pytest.param(
        workflow("- id: a\n  type: wait\n  config: {duration: 3 fortnights}\n"),
        "steps[0].config.duration: bad duration '3 fortnights': use 30m, 2h30m, 1d or ISO 8601"
        " like PT30M (line 7)",
        id="bad-duration",
    ),
    pytest.param(
        workflow("- id: a\n  type: send_sms\n  delay: soon\n  config: {message: hi}\n"),
        "steps[0].delay: bad duration 'soon': use 30m, 2h30m, 1d or ISO 8601 like PT30M (line 7)",
        id="bad-step-delay",
    ),
    pytest.param(
        "name: T\ntrigger:\n  type: schedule\n  config: {cron: '61 * * * *'}\n"
        "steps:\n  - id: a\n    type: exit\n",
        "trigger.config.cron: bad cron '61 * * * *': [61 * * * *] is not acceptable, out of range"
        " (line 4)",
        id="bad-cron",
    ),
    pytest.param(
        workflow(
            "- id: a\n  type: send_sms\n  config:\n    message: 'Hi {{contact.frist_name}}'\n"
        ),
        "steps[0].config.message: unknown contact field 'frist_name' (did you mean 'first_name'?)"
        " (line 8)",
        id="misspelt-variable",
    ),
    pytest.param(
        workflow("- id: a\n  type: send_sms\n  config:\n    message: 'Hi {{contat.first_name}}'\n"),
        "steps[0].config.message: unknown variable 'contat.first_name': 'contat' is not a"
        " namespace (did you mean 'contact'?) (line 8)",
        id="unknown-namespace",
    ),
    pytest.param(
        workflow("- id: a\n  type: send_sms\n  config:\n    message: '{{steps.nope.result}}'\n"),
        "steps[0].config.message: unknown step 'nope' in steps.nope (line 8)",
        id="unknown-step-variable",
    ),
    pytest.param(
        workflow("- id: a\n  type: ai_prompt\n  config:\n    prompt: welcome_writer\n"),
        "steps[0].config.prompt: no prompt 'welcome_writer' in the prompt library (line 8)",
        id="missing-prompt",
    ),
    pytest.param(
        workflow("- id: a\n  type: ai_prompt\n  config: {prompt: writer, version: 3}\n"),
        "steps[0].config.prompt: no prompt 'writer' version 3 in the prompt library (line 7)",
        id="missing-prompt-version",
    ),
    pytest.param(
        workflow("- id: a\n  type: send_sms\n  config: {}\n"),
        "steps[0].config: missing required field 'message' (line 7)",
        id="missing-config",
    ),
    pytest.param(
        workflow("- id: a\n  type: send_email\n  config: {subject: Hello}\n"),
        "steps[0].config: needs template_id, or subject and body (line 7)",
        id="email-without-body",
    ),
    pytest.param(
        workflow("- id: a\n  type: wait\n  config: {business_hours_only: true}\n"),
        "steps[0].config: needs duration or until (line 7)",
        id="wait-without-duration",
    ),
    pytest.param(
        workflow("- id: a\n  type: http_request\n  config: {url: 'http://x', method: YANK}\n"),
        "steps[0].config.method: must be one of 'GET', 'POST', 'PUT', 'PATCH' or 'DELETE',"
        " got 'YANK' (line 7)",
        id="bad-method",
    ),
    pytest.param(
        workflow("- id: a\n  type: ab_split\n  config:\n    variants: [{name: A, weight: 1}]\n"),
        "steps[0].config.variants: needs at least 2 item(s) (line 8)",
        id="ab-split-one-variant",
    ),
    pytest.param(
        workflow(
            "- id: a\n  type: ab_split\n  config:\n"
            "    variants: [{name: A, weight: 0}, {name: B, weight: 1}]\n"
        ),
        "steps[0].config.variants[0].weight: must be greater than 0 (line 8)",
        id="ab-split-zero-weight",
    ),
    pytest.param(
        workflow(
            "- id: a\n  type: ab_split\n  config:\n"
            "    variants: [{name: A, weight: 2}, {name: A, weight: 1}]\n"
        ),
        "steps[0].config.variants: variant name 'A' is used twice (line 8)",
        id="ab-split-duplicate-names",
    ),
    pytest.param(
        workflow(
            "- id: a\n  type: condition\n  config:\n"
            "    if: [{field: tags, operator: frobs, value: 1}]\n"
        ),
        "steps[0].config.if[0].operator: unknown operator 'frobs' (line 8)",
        id="malformed-rule",
    ),
    pytest.param(
        workflow("- id: a\n  type: exit\n- id: a\n  type: exit\n"),
        "steps[1].id: duplicate step id 'a' (also steps[0]) (line 7)",
        id="duplicate-id",
    ),
    pytest.param(
        workflow("- id: end\n  type: exit\n"),
        "steps[0].id: step id 'end' is reserved for a built-in target (line 5)",
        id="reserved-id",
    ),
    pytest.param(
        workflow("- id: a b\n  type: exit\n"),
        "steps[0].id: step id 'a b' must be a slug: letters, digits, _ and - (line 5)",
        id="id-not-a-slug",
    ),
    pytest.param(
        workflow("- id: a\n  type: send_sms\n  config: {message: '{% if %}'}\n"),
        "steps[0].config.message: template syntax error: Unexpected end of expression in if tag."
        " (line 7)",
        id="template-syntax",
    ),
    pytest.param(
        "nme: x\ntrigger: {type: manual}\nsteps: [{id: a, type: exit}]\n",
        "missing required field 'name' (line 1)",
        id="missing-name",
    ),
]


@pytest.mark.parametrize(("document", "message"), CASES)
def test_it_reports_the_exact_problem(document: str, message: str) -> None:
    result = check_document(document, ctx=NO_PROMPTS)

    assert not result.ok
    assert str(result.errors[0]) == message


def test_it_names_a_misspelt_field_and_the_missing_one_together() -> None:
    result = check_document(workflow("- id: a\n  type: send_sms\n  config: {mesage: hi}\n"))

    assert [str(p) for p in result.errors] == [
        "steps[0].config: missing required field 'message' (line 7)",
        "steps[0].config: unknown field 'mesage' (did you mean 'message'?) (line 7)",
    ]


def test_it_describes_wrong_types_in_plain_words() -> None:
    result = check_document(
        workflow("- id: a\n  type: http_request\n  config: {url: [1], timeout: -1}\n")
    )

    assert [str(p) for p in result.errors] == [
        "steps[0].config.url: expected text, got a list (line 7)",
        "steps[0].config.timeout: must be greater than 0 (line 7)",
    ]


def test_it_refuses_bytes_that_are_not_utf8() -> None:
    result = check_document(b"name: \xff\xfe\n")

    assert str(result.errors[0]) == "document is not UTF-8 text (bad byte at offset 6)"


def test_it_refuses_a_document_nested_too_deeply() -> None:
    result = check_document("a: " + "[" * 70 + "]" * 70 + "\n")

    assert str(result.errors[0]) == "the document is nested more than 64 levels deep"


def test_it_refuses_keys_that_are_not_text() -> None:
    result = check_document("1: one\n")

    assert str(result.errors[0]) == "keys must be text, got '1' (line 1)"


def test_it_refuses_duplicate_keys_in_json_with_their_line() -> None:
    result = check_document('{"name": "a",\n "steps": [{"id": "x",\n  "id": "y"}], "name": "b"}')

    assert str(result.errors[0]) == "duplicate key 'id' (line 3)"


def test_it_respects_the_size_setting(settings) -> None:
    settings.STUDIO_DEFINITION_MAX_BYTES = 100

    result = check_document("name: " + "x" * 200)

    assert str(result.errors[0]) == "document is 206 bytes, over the 100 bytes limit"
