"""CRM steps: tags, contact fields, leads, follow-up tasks and registered generic records.

Values are templates rendered over the step's namespaces; the writes go through
``ctx.services.crm`` (live: the database, once per step; dry-run: the sample contact dict).
"""

from __future__ import annotations

from typing import Any

from engine.language.durations import DurationError, parse_duration

from .base import StepContext, StepFailed, StepHandler, StepResult, register
from .sending import render_text


def _config(step: Any) -> dict[str, Any]:
    return step.get("config") or {}


def _fields(ctx: StepContext, value: Any, where: str) -> dict[str, Any]:
    rendered = ctx.render(value or {})
    if not isinstance(rendered, dict) or not rendered:
        raise StepFailed(f"{where} must be a non-empty mapping of field names to values")
    return rendered


def _required(ctx: StepContext, value: Any, where: str) -> str:
    text = render_text(ctx, value, where=where).strip()
    if not text:
        raise StepFailed(f"{where} rendered to an empty value")
    return text


class _TagHandler(StepHandler):
    in_database = True

    def handle(self, ctx: StepContext, step) -> StepResult:
        tag = _required(ctx, _config(step).get("tag"), f"{self.kind}.tag")[:100]
        method = getattr(ctx.services.crm, self.kind)
        result = method(ctx=ctx, step_id=step["id"], tag=tag)
        return StepResult(output=result, input={"tag": tag})


@register
class AddTagHandler(_TagHandler):
    kind = "add_tag"


@register
class RemoveTagHandler(_TagHandler):
    kind = "remove_tag"


@register
class UpdateContactHandler(StepHandler):
    kind = "update_contact"
    in_database = True

    def handle(self, ctx: StepContext, step) -> StepResult:
        fields = _fields(ctx, _config(step).get("fields"), "update_contact.fields")
        result = ctx.services.crm.update_contact(ctx=ctx, step_id=step["id"], fields=fields)
        return StepResult(output=result, input={"fields": fields})


@register
class CreateLeadHandler(StepHandler):
    kind = "create_lead"

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = _config(step)
        values = {
            "name": _required(ctx, config.get("name"), "create_lead.name"),
            "email": render_text(ctx, config.get("email"), where="create_lead.email").strip(),
            "phone": render_text(ctx, config.get("phone"), where="create_lead.phone").strip(),
            "source": render_text(ctx, config.get("source"), where="create_lead.source").strip(),
        }
        result = ctx.services.crm.create_lead(ctx=ctx, step_id=step["id"], **values)
        return StepResult(output=result, input=values)


@register
class UpdateLeadHandler(StepHandler):
    kind = "update_lead"

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = _config(step)
        raw_id = config.get("lead_id", config.get("leadId"))
        lead_id = _required(ctx, raw_id, "update_lead.lead_id")
        updates = _fields(ctx, config.get("updates"), "update_lead.updates")
        result = ctx.services.crm.update_lead(
            ctx=ctx, step_id=step["id"], lead_id=lead_id, updates=updates
        )
        return StepResult(output=result, input={"lead_id": lead_id, "updates": updates})


@register
class ScheduleFollowUpHandler(StepHandler):
    kind = "schedule_follow_up"
    in_database = True

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = _config(step)
        try:
            delay = parse_duration(config.get("delay") or 0)
        except DurationError as exc:
            raise StepFailed(f"schedule_follow_up.delay: {exc}") from None
        title = _required(ctx, config.get("message"), "schedule_follow_up.message")
        due_at = ctx.now + delay
        result = ctx.services.crm.create_task(
            ctx=ctx, step_id=step["id"], title=title, due_at=due_at
        )
        return StepResult(output=result, input={"title": title, "due_at": due_at.isoformat()})


@register
class CreateRecordHandler(StepHandler):
    kind = "create_record"

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = _config(step)
        model = _required(ctx, config.get("model"), "create_record.model")
        fields = ctx.render(config.get("fields") or {})
        if not isinstance(fields, dict):
            raise StepFailed("create_record.fields must be a mapping of field names to values")
        result = ctx.services.crm.create_record(
            ctx=ctx, step_id=step["id"], model=model, fields=fields
        )
        return StepResult(output=result, input={"model": model, "fields": fields})


@register
class UpdateRecordHandler(StepHandler):
    kind = "update_record"

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = _config(step)
        model = _required(ctx, config.get("model"), "update_record.model")
        record_id = _required(ctx, config.get("record_id"), "update_record.record_id")
        fields = _fields(ctx, config.get("fields"), "update_record.fields")
        result = ctx.services.crm.update_record(
            ctx=ctx, step_id=step["id"], model=model, record_id=record_id, fields=fields
        )
        step_input = {"model": model, "record_id": record_id, "fields": fields}
        return StepResult(output=result, input=step_input)
