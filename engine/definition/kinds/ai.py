"""AI kinds: a stored library prompt, or an inline question."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.definition.kinds.messaging import Channel
from engine.definition.registry import Group, StepConfig, register_step_kind


@register_step_kind(
    "ai_prompt",
    group=Group.AI,
    label="AI prompt",
    description="Run a prompt from the prompt library; its output lands in steps.<id>.result.",
    aliases=("generate_workout_plan",),
    has_side_effects=True,
)
class AiPromptConfig(StepConfig):
    prompt: str = Field(min_length=1, description="Name of a library prompt")
    version: int | None = Field(
        None, ge=1, description="Prompt version; default the latest active one"
    )
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Prompt variables: name → value or template"
    )
    channel: str | None = Field(None, description="Channel hint passed to the prompt")


@register_step_kind(
    "ask_ai",
    group=Group.AI,
    label="Ask AI",
    description="Ask the model an inline question; its answer lands in steps.<id>.result.",
    has_side_effects=True,
)
class AskAiConfig(StepConfig):
    prompt: str = Field(min_length=1, description="The question or instruction; a template")
    variables: dict[str, Any] = Field(default_factory=dict, description="Extra template values")
    channel: Channel | None = Field(None, description="Channel hint (voice answers are short)")
    model: str | None = Field(None, description="Model name; default the studio's model")
