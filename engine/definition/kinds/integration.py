"""Integration kinds: outbound HTTP (SSRF-guarded by the handler)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator

from engine.definition.registry import Group, StepConfig, register_step_kind


@register_step_kind(
    "http_request",
    group=Group.INTEGRATION,
    label="HTTP request",
    description="Call a webhook or API; the response lands in steps.<id>.result.",
    aliases=("call_webhook",),
    has_side_effects=True,
)
class HttpRequestConfig(StepConfig):
    url: str = Field(
        min_length=1,
        validation_alias=AliasChoices("url", "webhookUrl"),
        description="http(s) URL; private addresses are refused at run time",
    )
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        "POST", description="HTTP method"
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers")
    body: Any = Field(None, description="JSON body; strings inside may use {{ variables }}")
    timeout: int | float = Field(10, gt=0, le=120, description="Seconds before giving up")

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value
