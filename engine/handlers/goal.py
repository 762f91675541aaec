"""``goal``: continue when the condition holds; otherwise wait for it until the timeout.

While any step of the workflow runs or any CRM event arrives for the contact, the engine
re-checks the goals of the enrollment's version and jumps here when one is met.
"""

from __future__ import annotations

from engine.language.conditions import ConditionError, evaluate
from engine.language.durations import parse_duration

from .base import StepContext, StepFailed, StepHandler, StepResult, register


def goal_met(step, data) -> bool:
    condition = (step.get("config") or {}).get("condition")
    if not condition:
        return False
    try:
        return evaluate(condition, data)
    except ConditionError as exc:
        raise StepFailed(f"goal condition: {exc}") from exc


@register
class GoalHandler(StepHandler):
    kind = "goal"
    pure = True

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = step.get("config") or {}
        if goal_met(step, ctx.data):
            return StepResult(output={"met": True}, next=config.get("on_success") or None)
        if not config.get("timeout"):
            # No timeout: wait for the goal as long as it takes.
            return StepResult(output={"met": False}, waiting_for_goal=True, status="waiting")
        resume_at = ctx.now + parse_duration(config["timeout"])
        return StepResult(
            output={"met": False, "timeout_at": resume_at.isoformat()},
            resume_at=resume_at,
            waiting_for_goal=True,
            status="waiting",
        )
