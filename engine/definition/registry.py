"""The step-kind registry: one config model per kind, looked up by name or alias in any case."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict


class Group(StrEnum):
    MESSAGING = "messaging"
    AI = "ai"
    CRM = "crm"
    INTEGRATION = "integration"
    FLOW = "flow"


class StepConfig(BaseModel):
    """Base of every step kind's config; unknown keys are refused so typos surface."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # Set by register_step_kind: the config fields whose values are step targets.
    target_fields: ClassVar[tuple[str, ...]] = ()
    # Config fields holding durations and condition rules, checked at validation.
    duration_fields: ClassVar[tuple[str, ...]] = ()
    rules_fields: ClassVar[tuple[str, ...]] = ()

    def targets(self) -> list[tuple[str, str]]:
        """(config path, target) pairs this config may jump to, in declaration order."""
        found: list[tuple[str, str]] = []
        for name in self.target_fields:
            value: Any = getattr(self, name, None)
            if isinstance(value, str) and value:
                found.append((type(self).model_fields[name].alias or name, value))
        return found


@dataclass(frozen=True)
class StepKind:
    """Everything the studio knows about one kind except how to run it (that is the handler's)."""

    type: str
    group: Group
    label: str
    description: str
    config_model: type[StepConfig]
    aliases: tuple[str, ...] = ()
    target_fields: tuple[str, ...] = ()
    has_side_effects: bool = False
    # Whether the kind branches: targets name alternatives, not a single continuation.
    branches: bool = False
    # Whether the kind ends the enrollment (nothing runs after it).
    ends: bool = False


_KINDS: dict[str, StepKind] = {}
_NAMES: dict[str, str] = {}

C = TypeVar("C", bound=type[StepConfig])


def register_step_kind(
    type: str,
    *,
    group: Group | str,
    label: str,
    description: str,
    aliases: tuple[str, ...] = (),
    target_fields: tuple[str, ...] = (),
    has_side_effects: bool = False,
    branches: bool = False,
    ends: bool = False,
) -> Callable[[C], C]:
    """Class decorator registering ``cls`` as the config model of step kind ``type``."""

    def decorate(cls: C) -> C:
        kind = StepKind(
            type=type,
            group=Group(group),
            label=label,
            description=description,
            config_model=cls,
            aliases=tuple(aliases),
            target_fields=tuple(target_fields),
            has_side_effects=has_side_effects,
            branches=branches,
            ends=ends,
        )
        cls.target_fields = tuple(target_fields)
        for name in (type, *aliases):
            owner = _NAMES.get(name.lower())
            if owner is not None and owner != type:
                raise ValueError(f"step kind name '{name}' is already used by '{owner}'")
        _KINDS[type] = kind
        for name in (type, *aliases):
            _NAMES[name.lower()] = type
        return cls

    return decorate


def get_step_kind(name: str) -> StepKind | None:
    """The kind called ``name`` (canonical name or alias, any case), or None."""
    canonical = _NAMES.get(str(name).strip().lower())
    return _KINDS[canonical] if canonical else None


def step_kinds() -> Iterator[StepKind]:
    """Every registered kind, in registration order."""
    return iter(list(_KINDS.values()))


def step_kind_names() -> list[str]:
    return list(_KINDS)
