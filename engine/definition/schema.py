"""The canonical workflow definition: pydantic models for workflow, trigger, settings and steps."""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializeAsAny,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.definition import kinds as _kinds  # noqa: F401 - registers the built-in kinds
from engine.definition.fieldtypes import (
    BUILTIN_TARGETS,
    EXIT_PREFIX,
    STEP_ID_PATTERN,
    Duration,
    Rules,
)
from engine.definition.problems import LineMap, did_you_mean
from engine.definition.registry import StepConfig, get_step_kind, step_kind_names
from engine.definition.triggers import TRIGGER_KINDS, TriggerConfig, get_trigger_kind

# The import alias that is an AI step over a stored prompt of the same name.
WORKOUT_PLAN_ALIAS = "generate_workout_plan"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Trigger(_Model):
    """What enrolls a contact: an event kind, its config, and filters over the contact/event."""

    type: str = Field(description="Trigger kind, e.g. contact_created, tag_added, schedule")
    config: SerializeAsAny[TriggerConfig] = Field(
        default_factory=dict, validate_default=True, description="Kind-specific options"
    )
    filters: Rules | None = Field(None, description="Rules the contact/event must pass")

    @model_validator(mode="before")
    @classmethod
    def _schedule_alias(cls, data: Any) -> Any:
        # TIME_BASED triggers call their cron "schedule".
        if isinstance(data, dict) and isinstance(data.get("config"), dict):
            kind = get_trigger_kind(str(data.get("type", "")))
            config = data["config"]
            if kind and kind.type == "schedule" and "schedule" in config and "cron" not in config:
                config = {("cron" if k == "schedule" else k): v for k, v in config.items()}
                data = {**data, "config": config}
        return data

    @field_validator("type", mode="before")
    @classmethod
    def _canonical_type(cls, value: Any) -> str:
        kind = get_trigger_kind(str(value)) if isinstance(value, str) else None
        if kind is None:
            hint = did_you_mean(str(value).lower(), TRIGGER_KINDS)
            raise PydanticCustomError(
                "studio", "unknown trigger type '{value}'{hint}", {"value": value, "hint": hint}
            )
        return kind.type

    @field_validator("config", mode="plain")
    @classmethod
    def _typed_config(cls, value: Any, info: ValidationInfo) -> TriggerConfig:
        kind = TRIGGER_KINDS.get(info.data.get("type", ""))
        if kind is None:
            return TriggerConfig()
        if isinstance(value, kind.config_model):
            return value
        return kind.config_model.model_validate({} if value is None else value)


class Settings(_Model):
    """Workflow-wide behaviour."""

    allow_reenrollment: bool = Field(
        False, description="Let a contact enroll again after finishing"
    )
    timezone: str = Field("UTC", description="IANA zone for waits, business hours and schedules")
    business_hours: dict[str, Any] | None = Field(
        None, description="Opening hours per weekday (and holidays) for business-hours waits"
    )
    exit_conditions: Rules | None = Field(
        None, description="Rules that end an enrollment whenever they hold"
    )
    max_step_visits: int = Field(
        50, ge=1, le=10_000, description="Times one enrollment may run one step (loop guard)"
    )


class Step(_Model):
    """One step: a kind with its config, an optional delay before it, and where to go next."""

    id: str = Field(max_length=100, description="Slug unique in the workflow; used by targets")
    type: str = Field(description="Step kind, e.g. send_email, wait, condition")
    name: str = Field("", max_length=255, description="Label shown in the studio")
    config: SerializeAsAny[StepConfig] = Field(
        default_factory=dict, validate_default=True, description="Kind-specific config"
    )
    delay: Duration | None = Field(None, description="Wait this long before running the step")
    next: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Target after the step; default the next listed step",
    )
    on_error: str = Field(
        "fail", min_length=1, max_length=100, description="fail, continue or a step id"
    )

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if str(data.get("type", "")).lower() == WORKOUT_PLAN_ALIAS:
            config = data.get("config") or {}
            variables = dict(config) if isinstance(config, dict) else {}
            data["type"] = "ai_prompt"
            data["config"] = {"prompt": WORKOUT_PLAN_ALIAS, "variables": variables}
        return _hoist_config_delay(data)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.match(STEP_ID_PATTERN, value):
            raise PydanticCustomError(
                "studio",
                "step id '{value}' must be a slug: letters, digits, _ and -",
                {"value": value},
            )
        if value in BUILTIN_TARGETS or value.startswith(EXIT_PREFIX):
            raise PydanticCustomError(
                "studio", "step id '{value}' is reserved for a built-in target", {"value": value}
            )
        return value

    @field_validator("type", mode="before")
    @classmethod
    def _canonical_type(cls, value: Any) -> str:
        kind = get_step_kind(value) if isinstance(value, str) else None
        if kind is None:
            hint = did_you_mean(str(value).lower(), step_kind_names())
            raise PydanticCustomError(
                "studio", "unknown step type '{value}'{hint}", {"value": value, "hint": hint}
            )
        return kind.type

    @field_validator("config", mode="plain")
    @classmethod
    def _typed_config(cls, value: Any, info: ValidationInfo) -> StepConfig:
        kind = get_step_kind(info.data.get("type", ""))
        if kind is None:
            return StepConfig()
        if isinstance(value, kind.config_model):
            return value
        return kind.config_model.model_validate({} if value is None else value)


def _hoist_config_delay(data: dict[str, Any]) -> dict[str, Any]:
    """Move ``config.delay`` to the step (the nurture example's form) unless the kind owns it."""
    config = data.get("config")
    kind = get_step_kind(str(data.get("type", "")))
    if not isinstance(config, dict) or "delay" not in config or kind is None:
        return data
    if "delay" in _accepted_keys(kind.config_model):
        return data
    config = dict(config)
    delay = config.pop("delay")
    if data.get("delay") not in (None, "", 0):
        raise PydanticCustomError("studio", "delay is given twice: in config and on the step")
    data["config"] = config
    data["delay"] = None if delay in (None, "", 0) else delay
    return data


def _accepted_keys(model: type[BaseModel]) -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
        choices = getattr(field.validation_alias, "choices", None)
        keys.update(c for c in choices or () if isinstance(c, str))
    return keys


class WorkflowDefinition(_Model):
    """A whole workflow; the YAML/JSON documents, the draft rows and versions all compile to it."""

    name: str = Field(min_length=1, max_length=255, description="Workflow name")
    description: str = Field("", description="What the workflow is for")
    version: int = Field(1, ge=1, description="Informational; published versions are numbered")
    trigger: Trigger = Field(description="What enrolls contacts")
    settings: Settings = Field(default_factory=Settings, description="Workflow-wide behaviour")
    steps: list[Step] = Field(min_length=1, description="Steps in order; see fall-through")
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free-form data kept from imports (e.g. enabled)"
    )

    # Source lines by path, filled by the parser; not part of the definition's value.
    _lines: LineMap = PrivateAttr(default_factory=LineMap)

    @property
    def lines(self) -> LineMap:
        return self._lines

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkflowDefinition):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]
