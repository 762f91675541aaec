"""CRM kinds: tags, contact fields, generic records, leads and follow-up tasks."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from engine.definition.fieldtypes import Duration
from engine.definition.registry import Group, StepConfig, register_step_kind

FIELDS_HELP = "Field name → value or template"


class _TagConfig(StepConfig):
    tag: str = Field(min_length=1, description="Tag name; may use {{ variables }}")


@register_step_kind(
    "add_tag",
    group=Group.CRM,
    label="Add tag",
    description="Add a tag to the contact.",
    has_side_effects=True,
)
class AddTagConfig(_TagConfig):
    pass


@register_step_kind(
    "remove_tag",
    group=Group.CRM,
    label="Remove tag",
    description="Remove a tag from the contact.",
    has_side_effects=True,
)
class RemoveTagConfig(_TagConfig):
    pass


@register_step_kind(
    "update_contact",
    group=Group.CRM,
    label="Update contact",
    description="Set fields on the contact (custom_fields.<name> for custom ones).",
    has_side_effects=True,
)
class UpdateContactConfig(StepConfig):
    fields: dict[str, Any] = Field(min_length=1, description=FIELDS_HELP)


@register_step_kind(
    "create_record",
    group=Group.CRM,
    label="Create record",
    description="Create a row of a registered CRM model.",
    has_side_effects=True,
)
class CreateRecordConfig(StepConfig):
    model: str = Field(min_length=1, description="Model label, e.g. crm.Task")
    fields: dict[str, Any] = Field(default_factory=dict, description=FIELDS_HELP)


@register_step_kind(
    "update_record",
    group=Group.CRM,
    label="Update record",
    description="Update a row of a registered CRM model.",
    has_side_effects=True,
)
class UpdateRecordConfig(StepConfig):
    model: str = Field(min_length=1, description="Model label, e.g. crm.Booking")
    record_id: str | int = Field(description="Primary key of the row; may be a template")
    fields: dict[str, Any] = Field(min_length=1, description=FIELDS_HELP)


@register_step_kind(
    "create_lead",
    group=Group.CRM,
    label="Create lead",
    description="Create a lead (a contact with the lead stage).",
    has_side_effects=True,
)
class CreateLeadConfig(StepConfig):
    name: str = Field(min_length=1, description="Full name; may use {{ variables }}")
    email: str | None = Field(None, description="Email address")
    phone: str | None = Field(None, description="Phone number")
    source: str | None = Field(None, description="Where the lead came from")


@register_step_kind(
    "update_lead",
    group=Group.CRM,
    label="Update lead",
    description="Update a lead's fields.",
    has_side_effects=True,
)
class UpdateLeadConfig(StepConfig):
    lead_id: str | int = Field(
        validation_alias=AliasChoices("lead_id", "leadId"),
        description="The lead's id; may be a template",
    )
    updates: dict[str, Any] = Field(min_length=1, description=FIELDS_HELP)


@register_step_kind(
    "schedule_follow_up",
    group=Group.CRM,
    label="Schedule follow-up",
    description="Create a CRM task for staff, due after a delay.",
    has_side_effects=True,
)
class ScheduleFollowUpConfig(StepConfig):
    duration_fields = ("delay",)

    delay: Duration = Field(description="When the task falls due, from now")
    message: str = Field(min_length=1, description="Task text; may use {{ variables }}")
