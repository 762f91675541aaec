"""The runtime view of a published definition: steps by id, successors, goals.

A WorkflowVersion never changes, so its Flow is built once per process and cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings

from engine.language.durations import parse_duration
from workflows.models import WorkflowVersion

END = "end"
EXIT = "exit"
EXIT_PREFIX = "exit_"


def parse_target(target: str | None) -> tuple[str, str | None]:
    """("step", id) | ("end", None) | ("exit", reason)."""
    if not target or target == END:
        return ("end", None)
    if target == EXIT:
        return ("exit", "exit")
    if target.startswith(EXIT_PREFIX):
        return ("exit", target[len(EXIT_PREFIX) :] or "exit")
    return ("step", target)


@dataclass(frozen=True)
class Flow:
    name: str
    steps: tuple[Mapping[str, Any], ...]
    index: Mapping[str, int]
    settings: Mapping[str, Any]
    goal_ids: tuple[str, ...]
    trigger: Mapping[str, Any]

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> Flow:
        steps = tuple(definition.get("steps") or ())
        index = {step["id"]: position for position, step in enumerate(steps)}
        goals = tuple(step["id"] for step in steps if step.get("type") == "goal")
        return cls(
            name=str(definition.get("name", "")),
            steps=steps,
            index=index,
            settings=dict(definition.get("settings") or {}),
            goal_ids=goals,
            trigger=dict(definition.get("trigger") or {}),
        )

    @property
    def first_target(self) -> str:
        return self.steps[0]["id"] if self.steps else END

    def step(self, step_id: str) -> Mapping[str, Any]:
        return self.steps[self.index[step_id]]

    def has_step(self, step_id: str) -> bool:
        return step_id in self.index

    def successor(self, step_id: str) -> str:
        """The explicit ``next``, else the step listed after this one, else ``end``."""
        step = self.step(step_id)
        if step.get("next"):
            return str(step["next"])
        position = self.index[step_id] + 1
        return self.steps[position]["id"] if position < len(self.steps) else END

    def delay_of(self, step_id: str) -> timedelta:
        step = self.step(step_id)
        raw = step.get("delay")
        if raw in (None, "", 0, "0"):
            return timedelta(0)
        return parse_duration(raw)

    @property
    def max_step_visits(self) -> int:
        return int(self.settings.get("max_step_visits") or settings.STUDIO_MAX_STEP_VISITS)


_FLOWS: dict[int, Flow] = {}


def flow_for_version(version: int | WorkflowVersion) -> Flow:
    """The Flow of a published version (an id or the row). Versions never change and ids are
    never reused, so the id is the cache key; tests, whose rolled-back ids repeat, clear the
    cache with ``forget_flows``."""
    version_id = version if isinstance(version, int) else version.pk
    flow = _FLOWS.get(version_id)
    if flow is None:
        if isinstance(version, int):
            definition = WorkflowVersion.objects.values_list("definition", flat=True).get(
                pk=version_id
            )
        else:
            definition = version.definition
        flow = Flow.from_definition(definition)
        if len(_FLOWS) > 4096:
            _FLOWS.clear()
        _FLOWS[version_id] = flow
    return flow


def forget_flows() -> None:
    _FLOWS.clear()
