"""Navigation helpers the executor uses: successors, targets and built-in targets."""

from __future__ import annotations

import pytest

from engine.definition import parse_definition, parse_target, step_by_id, successor, targets_of
from tests.definition.helpers import workflow

DOCUMENT = workflow(
    """\
    - id: first
      type: send_sms
      config: {message: hi}
      on_error: last
    - id: split
      type: ab_split
      config:
        variants: [{name: A, weight: 1, next: last}, {name: B, weight: 3}]
      next: exit_bored
    - id: last
      type: exit
    """
)


@pytest.fixture
def definition():
    return parse_definition(DOCUMENT).definition


def test_a_step_without_next_falls_through_to_the_next_listed_step(definition) -> None:
    assert successor(definition, "first") == "split"


def test_an_explicit_next_wins_and_the_last_step_ends(definition) -> None:
    assert successor(definition, "split") == "exit_bored"
    assert successor(definition, "last") == "end"


def test_targets_of_lists_config_targets_next_and_on_error(definition) -> None:
    assert targets_of(step_by_id(definition, "split")) == ["last", "exit_bored"]
    assert targets_of(step_by_id(definition, "first")) == ["last"]


def test_step_by_id_names_the_missing_step(definition) -> None:
    with pytest.raises(KeyError, match="workflow 'Test' has no step 'nope'"):
        step_by_id(definition, "nope")
    with pytest.raises(KeyError, match="has no step 'nope'"):
        successor(definition, "nope")


@pytest.mark.parametrize(
    ("target", "parsed"),
    [
        ("end", ("end", None)),
        ("exit", ("exit", "exit")),
        ("exit_success", ("exit", "success")),
        ("welcome", ("step", "welcome")),
    ],
)
def test_parse_target_knows_the_built_in_targets(target: str, parsed: tuple) -> None:
    assert parse_target(target) == parsed
