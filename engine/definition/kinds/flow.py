"""Flow kinds: wait, condition, A/B split, goal and exit."""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from engine.definition.fieldtypes import Duration, Rules, Target
from engine.definition.registry import Group, StepConfig, register_step_kind

DEFAULT_CONTINUE = "Default: continue to the next step"


@register_step_kind(
    "wait",
    group=Group.FLOW,
    label="Wait",
    description="Pause for a duration or until a moment, optionally counting business hours only.",
)
class WaitConfig(StepConfig):
    duration_fields = ("duration",)

    duration: Duration | None = Field(
        None,
        validation_alias=AliasChoices("duration", "delay"),
        description="How long: 30m, 1d, 2h30m or ISO 8601",
    )
    until: str | None = Field(None, description="A datetime or a template giving one")
    business_hours_only: bool = Field(False, description="Count only the workflow's business hours")

    @model_validator(mode="after")
    def _one_of(self) -> WaitConfig:
        if not self.duration and not self.until:
            raise PydanticCustomError("studio", "needs duration or until")
        if self.duration and self.until:
            raise PydanticCustomError("studio", "give duration or until, not both")
        return self


@register_step_kind(
    "condition",
    group=Group.FLOW,
    label="Condition",
    description="Branch on rules: go to then when they hold, else otherwise.",
    aliases=("branch",),
    target_fields=("then", "else_"),
    branches=True,
)
class ConditionConfig(StepConfig):
    rules_fields = ("if_",)

    if_: Rules = Field(alias="if", description="Rules; a list means all must hold")
    then: Target | None = Field(None, description=f"Target when the rules hold. {DEFAULT_CONTINUE}")
    else_: Target | None = Field(
        None, alias="else", description=f"Target otherwise. {DEFAULT_CONTINUE}"
    )


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50, description="Variant name, recorded per run")
    weight: int | float = Field(gt=0, description="Relative weight (> 0)")
    next: Target | None = Field(None, description=f"Target of this variant. {DEFAULT_CONTINUE}")


@register_step_kind(
    "ab_split",
    group=Group.FLOW,
    label="A/B split",
    description="Send each enrollment down one weighted variant (deterministic per enrollment).",
    branches=True,
)
class AbSplitConfig(StepConfig):
    variants: list[Variant] = Field(min_length=2, description="At least two weighted variants")

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, variants: list[Variant]) -> list[Variant]:
        seen: set[str] = set()
        for variant in variants:
            if variant.name in seen:
                raise PydanticCustomError(
                    "studio", "variant name '{name}' is used twice", {"name": variant.name}
                )
            seen.add(variant.name)
        return variants

    def targets(self) -> list[tuple[str, str]]:
        return [(f"variants[{i}].next", v.next) for i, v in enumerate(self.variants) if v.next]


@register_step_kind(
    "goal",
    group=Group.FLOW,
    label="Goal",
    description=(
        "Wait until the condition holds, then go to on_success. An enrollment anywhere in the "
        "workflow that meets the goal jumps here."
    ),
    target_fields=("on_success", "on_timeout"),
    branches=True,
)
class GoalConfig(StepConfig):
    duration_fields = ("timeout",)
    rules_fields = ("condition",)

    condition: Rules = Field(description="Rules that mean the goal is met")
    on_success: Target | None = Field(
        None, description=f"Target when the goal is met. {DEFAULT_CONTINUE}"
    )
    timeout: Duration | None = Field(None, description="Give up waiting after this long")
    on_timeout: Target | None = Field(
        None, description=f"Target after the timeout. {DEFAULT_CONTINUE}"
    )

    @model_validator(mode="after")
    def _timeout_target_needs_timeout(self) -> GoalConfig:
        if self.on_timeout and not self.timeout:
            raise PydanticCustomError("studio", "on_timeout needs a timeout")
        return self


@register_step_kind(
    "exit",
    group=Group.FLOW,
    label="Exit",
    description="End the enrollment with an exit reason.",
    ends=True,
)
class ExitConfig(StepConfig):
    reason: str | None = Field(None, max_length=100, description="Exit reason, recorded")
