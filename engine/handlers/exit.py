"""``exit``: end the enrollment with a reason."""

from __future__ import annotations

from .base import StepContext, StepHandler, StepResult, register


@register
class ExitHandler(StepHandler):
    kind = "exit"
    pure = True

    def handle(self, ctx: StepContext, step) -> StepResult:
        reason = str(ctx.render((step.get("config") or {}).get("reason") or "exit"))
        target = "exit" if reason == "exit" else f"exit_{reason}"
        return StepResult(output={"reason": reason}, next=target)
