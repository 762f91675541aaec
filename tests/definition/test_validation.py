"""Validation beyond the schema: references, assets, prompts, settings and the graph warnings."""

from __future__ import annotations

from engine.definition import ValidationContext, check_document, parse_definition
from engine.definition.problems import Problem, Severity, ValidationResult
from tests.definition.helpers import workflow


def messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def test_a_clean_workflow_has_no_problems() -> None:
    result = check_document(workflow("- id: a\n  type: send_sms\n  config: {message: hi}\n"))

    assert result.ok
    assert result.as_dict() == {"errors": [], "warnings": []}
    assert str(result) == "no problems"


def test_the_result_serialises_errors_and_warnings() -> None:
    result = ValidationResult(
        errors=[Problem("steps[3].config.then", "unknown step 'x'", 41)],
        warnings=[Problem("", "loop", None, Severity.WARNING)],
    )

    assert result.as_dict() == {
        "errors": [{"path": "steps[3].config.then", "line": 41, "message": "unknown step 'x'"}],
        "warnings": [{"path": "", "line": None, "message": "loop"}],
    }
    assert str(result) == "error: steps[3].config.then: unknown step 'x' (line 41)\nwarning: loop"


def test_it_checks_template_and_voicemail_slugs_when_known() -> None:
    ctx = ValidationContext(template_slugs={"welcome"}, voicemail_slugs={"intro"})
    document = workflow(
        """\
        - id: a
          type: send_email
          config: {template_id: '{{templates.welcom}}'}
        - id: b
          type: send_email
          config: {template_id: goodbye}
        - id: c
          type: make_call
          config: {voicemail_drop_id: '{{voicemails.outro}}'}
        - id: d
          type: make_call
          config: {voicemail_drop_id: intro}
        """
    )

    assert messages(check_document(document, ctx=ctx).errors) == [
        "steps[0].config.template_id: unknown email template 'welcom' (did you mean 'welcome'?)"
        " (line 7)",
        "steps[1].config.template_id: unknown email template 'goodbye' (line 10)",
        "steps[2].config.voicemail_drop_id: unknown voicemail drop 'outro' (did you mean 'intro'?)"
        " (line 13)",
    ]
    assert check_document(document).ok


def test_it_accepts_a_prompt_that_exists_and_asks_with_its_version() -> None:
    asked = []

    def prompt_exists(name: str, version: int | None) -> bool:
        asked.append((name, version))
        return True

    document = workflow(
        """\
        - id: a
          type: ai_prompt
          config: {prompt: writer, version: 2, variables: {goal: '{{contact.custom_fields.goal}}'}}
        - id: b
          type: ai_prompt
          config: {prompt: '{{trigger.prompt}}'}
        """
    )

    assert check_document(document, ctx=ValidationContext(prompt_exists=prompt_exists)).ok
    assert asked == [("writer", 2)]


def test_it_checks_rule_fields_against_the_contact_fields() -> None:
    document = workflow(
        """\
        - id: a
          type: condition
          config:
            if:
              any:
                - {field: stgae, operator: equals, value: lead}
                - {field: custom_fields.anything, operator: is_empty}
                - {field: trigger.whatever, operator: equals, value: '{{contact.emial}}'}
            then: end
        """
    )

    assert messages(check_document(document).errors) == [
        "steps[0].config.if: unknown contact field 'stgae' (did you mean 'stage'?) (line 8)",
        "steps[0].config.if.any[2].value: unknown contact field 'emial' (did you mean 'email'?)"
        " (line 12)",
    ]


def test_custom_contact_fields_can_be_given() -> None:
    document = workflow("- id: a\n  type: send_sms\n  config: {message: '{{contact.tier}}'}\n")

    assert not check_document(document).ok
    assert check_document(document, ctx=ValidationContext(contact_fields=frozenset({"tier"}))).ok


def test_it_checks_settings_and_trigger_options() -> None:
    document = """\
name: T
trigger:
  type: schedule
  config: {cron: '0 9 * * 1', timezone: Mars/Olympus}
  filters: [{field: tags, operator: nope}]
settings:
  timezone: Europe/Berlinn
  business_hours: {monday: [nonsense]}
  exit_conditions: {all: 3}
steps:
  - id: a
    type: exit
"""
    errors = messages(check_document(document).errors)

    assert errors[0] == "trigger.config.timezone: unknown time zone 'Mars/Olympus' (line 4)"
    assert errors[1] == "trigger.filters[0].operator: unknown operator 'nope' (line 5)"
    assert errors[2] == "settings.timezone: unknown time zone 'Europe/Berlinn' (line 7)"
    assert errors[3].startswith("settings.business_hours: ")
    assert errors[-1] == "settings.exit_conditions.all: must be a list of rules (line 9)"


def test_on_error_must_be_fail_continue_or_a_step() -> None:
    document = workflow(
        """\
        - id: a
          type: send_sms
          config: {message: hi}
          on_error: retry
        - id: b
          type: send_sms
          config: {message: hi}
          on_error: a
        """
    )

    assert messages(check_document(document).errors) == [
        "steps[0].on_error: must be fail, continue or a step id; unknown step 'retry' (line 8)"
    ]


def test_it_warns_about_unreachable_steps() -> None:
    document = workflow(
        "- id: a\n  type: send_sms\n  config: {message: hi}\n  next: end\n- id: b\n  type: exit\n"
    )

    assert messages(check_document(document).warnings) == [
        "steps[1]: step 'b' is unreachable: no step leads to it (line 9)"
    ]


def test_it_warns_about_a_loop_without_a_wait() -> None:
    document = workflow(
        """\
        - id: a
          type: add_tag
          config: {tag: x}
        - id: b
          type: condition
          config: {if: [{field: tags, operator: contains, value: y}], then: end, else: a}
        """
    )

    assert messages(check_document(document).warnings) == [
        "steps[0]: loop a → b → a has no wait, delay or goal: it repeats at once until "
        "max_step_visits (50) fails the enrollment (line 5)"
    ]


def test_a_retry_loop_that_pauses_and_can_leave_is_not_warned() -> None:
    document = workflow(
        """\
        - id: call
          type: http_request
          config: {url: 'https://example.com/'}
          on_error: pause
          next: end
        - id: pause
          type: wait
          config: {duration: 10m}
          next: call
        """
    )

    assert check_document(document).warnings == []


def test_a_step_that_targets_itself_is_a_loop() -> None:
    document = workflow("- id: a\n  type: add_tag\n  config: {tag: x}\n  delay: 1h\n  next: a\n")

    assert messages(check_document(document).warnings) == [
        "steps[0]: loop a → a has no way out: only a goal, an exit condition or "
        "max_step_visits (50) ends it (line 5)"
    ]


def test_it_warns_when_a_step_reads_a_step_that_cannot_have_run() -> None:
    document = workflow(
        """\
        - id: a
          type: send_sms
          config: {message: '{{steps.b.result}}'}
        - id: b
          type: ask_ai
          config: {prompt: 'Summarise {{steps.b.result}}'}
        """
    )

    first, second = messages(check_document(document).warnings)
    assert first == (
        "steps[0].config.message: reads steps.b but step 'b' cannot have run before this step"
        " (line 7)"
    )
    # An earlier answer read by an ask_ai instruction is untrusted text (docs/ai.md).
    assert second.startswith("steps[1].config.prompt: step 'b': the instruction reads steps.b")


def test_a_goal_is_reachable_by_jumping_and_its_branches_are_checked() -> None:
    document = workflow(
        """\
        - id: a
          type: send_sms
          config: {message: hi}
          next: end
        - id: won
          type: goal
          config: {condition: {field: tags, operator: contains, value: paid}, on_success: thanks, timeout: 2d, on_timeout: nudge}
        - id: thanks
          type: send_sms
          config: {message: thanks}
        - id: nudge
          type: send_sms
          config: {message: nudge}
        """
    )

    assert messages(check_document(document).warnings) == [
        "steps[1].config.on_success: branch target 'thanks' falls through into 'nudge', the "
        "on_timeout target; give 'thanks' a next (e.g. end) to keep the branches apart (line 11)"
    ]


def test_goal_on_timeout_needs_a_timeout() -> None:
    document = workflow("- id: g\n  type: goal\n  config: {condition: [], on_timeout: end}\n")

    assert messages(check_document(document).errors) == [
        "steps[0].config: on_timeout needs a timeout (line 7)"
    ]


def test_wait_takes_duration_or_until_not_both() -> None:
    document = workflow("- id: w\n  type: wait\n  config: {duration: 1d, until: tomorrow}\n")

    assert messages(check_document(document).errors) == [
        "steps[0].config: give duration or until, not both (line 7)"
    ]


def test_a_delay_given_twice_is_refused() -> None:
    document = workflow(
        "- id: a\n  type: send_sms\n  delay: 1h\n  config: {message: hi, delay: 2h}\n"
    )

    assert messages(check_document(document).errors) == [
        "steps[0]: delay is given twice: in config and on the step (line 5)"
    ]


def test_validation_results_keep_lines_from_the_parsed_document() -> None:
    parsed = parse_definition(workflow("- id: a\n  type: exit\n  next: b\n"))

    assert parsed.lines.line_for("steps[0].next") == 7
    assert parsed.definition.lines.line_for("steps[0].config.reason") == 5
