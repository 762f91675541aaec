"""Walking a definition: successors, targets and the step graph the executor and checks share."""

from __future__ import annotations

from typing import Literal

from engine.definition.fieldtypes import EXIT_PREFIX
from engine.definition.registry import get_step_kind
from engine.definition.schema import Step, WorkflowDefinition

END = "end"
EXIT = "exit"
ON_ERROR_BUILTINS = ("fail", "continue")

TargetKind = Literal["step", "end", "exit"]


def parse_target(target: str) -> tuple[TargetKind, str | None]:
    """``("step", id)``, ``("end", None)`` or ``("exit", reason)`` (bare ``exit``: "exit")."""
    if target == END:
        return ("end", None)
    if target == EXIT:
        return ("exit", EXIT)
    if target.startswith(EXIT_PREFIX):
        return ("exit", target[len(EXIT_PREFIX) :] or EXIT)
    return ("step", target)


def step_by_id(defn: WorkflowDefinition, step_id: str) -> Step:
    """The step with this id; KeyError naming the id when there is none."""
    for step in defn.steps:
        if step.id == step_id:
            return step
    raise KeyError(f"workflow '{defn.name}' has no step '{step_id}'")


def step_index(defn: WorkflowDefinition, step_id: str) -> int:
    for index, step in enumerate(defn.steps):
        if step.id == step_id:
            return index
    raise KeyError(f"workflow '{defn.name}' has no step '{step_id}'")


def successor(defn: WorkflowDefinition, step_id: str) -> str:
    """Where the step continues: its ``next``, else the next listed step, else ``end``."""
    index = step_index(defn, step_id)
    step = defn.steps[index]
    if step.next:
        return step.next
    return defn.steps[index + 1].id if index + 1 < len(defn.steps) else END


def targets_of(step: Step) -> list[str]:
    """Every explicit target of the step: config targets, ``next``, and a step id in on_error."""
    found = [target for _, target in step.config.targets()]
    if step.next:
        found.append(step.next)
    if step.on_error not in ON_ERROR_BUILTINS:
        found.append(step.on_error)
    return found


def outcomes(defn: WorkflowDefinition, step: Step) -> list[str]:
    """Every target the step can lead to, with defaults (fall-through) filled in."""
    kind = get_step_kind(step.type)
    if kind is not None and kind.ends:
        return []
    after = successor(defn, step.id)
    config_targets = [target for _, target in step.config.targets()]
    if kind is not None and kind.branches:
        declared = _branch_slots(step)
        result = [t or after for t in declared] if declared else [after]
    else:
        result = [*config_targets, after]
    if step.on_error not in ON_ERROR_BUILTINS:
        result.append(step.on_error)
    elif step.on_error == "continue":
        result.append(after)
    return list(dict.fromkeys(result))


def _branch_slots(step: Step) -> list[str | None]:
    """A branching step's alternatives, None where the slot falls back to the successor."""
    config = step.config
    if step.type == "ab_split":
        return [variant.next for variant in config.variants]  # type: ignore[attr-defined]
    return [getattr(config, name, None) for name in config.target_fields]


def step_graph(defn: WorkflowDefinition) -> dict[str, list[str]]:
    """Step id → the step ids it can go to (built-in targets and unknown ids left out)."""
    ids = {step.id for step in defn.steps}
    return {step.id: [t for t in outcomes(defn, step) if t in ids] for step in defn.steps}
