"""``wait``: pause the enrollment for a duration, until a time, or until business hours."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from engine.language.business_hours import add_business_time, next_business_time
from engine.language.durations import DurationError, parse_duration

from .base import StepContext, StepFailed, StepHandler, StepResult, register


def business_hours_spec(settings_: dict) -> dict:
    spec = dict(settings_.get("business_hours") or {})
    # The hours' own zone, else the workflow's (or its tenant's: the zone the run activated).
    spec.setdefault("timezone", settings_.get("timezone") or timezone.get_current_timezone_name())
    return spec


@register
class WaitHandler(StepHandler):
    kind = "wait"
    pure = True

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = step.get("config") or {}
        business = business_hours_spec(ctx.workflow_settings)
        if config.get("business_hours_only") and not config.get("until"):
            # Only open time counts, from the next opening on (docs/workflow-format.md).
            resume_at = add_business_time(ctx.now, self._duration(config), business)
        else:
            resume_at = self._resume_at(ctx, config)
            if config.get("business_hours_only"):
                resume_at = next_business_time(resume_at, business)
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
                # Wall-clock time where the workflow is (the runtime activates its zone).
                moment = moment.replace(tzinfo=timezone.get_current_timezone())
            return moment
        return ctx.now + self._duration(config)

    def _duration(self, config: dict) -> timedelta:
        try:
            return parse_duration(config.get("duration", 0))
        except DurationError as exc:
            raise StepFailed(str(exc)) from exc


def _seconds(later: datetime, earlier: datetime) -> int:
    return max(0, int((later - earlier) / timedelta(seconds=1)))
