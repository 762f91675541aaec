"""``wait``: pause the enrollment for a duration, until a time, or until business hours."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils.dateparse import parse_datetime

from engine.language.business_hours import next_business_time
from engine.language.durations import DurationError, parse_duration

from .base import StepContext, StepFailed, StepHandler, StepResult, register


def business_hours_spec(settings_: dict) -> dict:
    spec = dict(settings_.get("business_hours") or {})
    spec.setdefault("timezone", settings_.get("timezone") or "UTC")
    return spec


@register
class WaitHandler(StepHandler):
    kind = "wait"
    pure = True

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = step.get("config") or {}
        resume_at = self._resume_at(ctx, config)
        if config.get("business_hours_only"):
            resume_at = next_business_time(resume_at, business_hours_spec(ctx.workflow_settings))
        output = {
            "resume_at": resume_at.isoformat(),
            "waited_seconds": _seconds(resume_at, ctx.now),
        }
        if resume_at <= ctx.now:
            return StepResult(output=output, input=dict(config))
        return StepResult(output=output, resume_at=resume_at, status="waiting", input=dict(config))

    def _resume_at(self, ctx: StepContext, config: dict) -> datetime:
        if config.get("until"):
            rendered = ctx.render(config["until"])
            moment = rendered if isinstance(rendered, datetime) else parse_datetime(str(rendered))
            if moment is None:
                raise StepFailed(
                    f"wait.until rendered to {rendered!r}, which is not a date and time"
                )
            if moment.tzinfo is None:
                raise StepFailed(f"wait.until {rendered!r} has no time zone")
            return moment
        try:
            return ctx.now + parse_duration(config.get("duration", 0))
        except DurationError as exc:
            raise StepFailed(str(exc)) from exc


def _seconds(later: datetime, earlier: datetime) -> int:
    return max(0, int((later - earlier) / timedelta(seconds=1)))
