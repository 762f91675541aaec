"""``condition`` (alias ``branch``): go to ``then`` when the rules hold, else to ``else``."""

from __future__ import annotations

from engine.language.conditions import ConditionError, evaluate

from .base import StepContext, StepFailed, StepHandler, StepResult, register


@register
class ConditionHandler(StepHandler):
    kind = "condition"
    pure = True

    def handle(self, ctx: StepContext, step) -> StepResult:
        config = step.get("config") or {}
        # Fields are paths and template values are rendered by evaluate(); no pre-rendering.
        rules = config.get("if") or []
        errors: list[str] = []
        try:
            matched = evaluate(rules, ctx.data, errors=errors)
        except ConditionError as exc:
            raise StepFailed(f"condition rules: {exc}") from exc
        target = config.get("then") if matched else config.get("else")
        output: dict = {"result": matched}
        if errors:  # expressions that failed at run time did not hold; the step log says why
            output["expression_errors"] = errors
        return StepResult(output=output, next=target or None, input={"if": rules})
