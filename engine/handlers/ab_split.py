"""``ab_split``: a weighted, deterministic variant per enrollment, recorded in the output."""

from __future__ import annotations

import hashlib

from .base import StepContext, StepFailed, StepHandler, StepResult, register


def pick_variant(variants: list[dict], *, seed: str) -> dict:
    """The same seed always picks the same variant; over many seeds the weights hold."""
    total = sum(float(v.get("weight", 0)) for v in variants)
    if total <= 0:
        raise StepFailed("ab_split needs variants with positive weights")
    digest = hashlib.sha256(seed.encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * total
    running = 0.0
    for variant in variants:
        running += float(variant.get("weight", 0))
        if point < running:
            return variant
    return variants[-1]


@register
class AbSplitHandler(StepHandler):
    kind = "ab_split"
    pure = True

    def handle(self, ctx: StepContext, step) -> StepResult:
        variants = (step.get("config") or {}).get("variants") or []
        # The enrollment (or a dry-run's --seed) fixes the draw, so a re-run picks the same.
        owner = ctx.data.get("enrollment", {}).get("seed") or ctx.enrollment_id or ctx.contact_id
        variant = pick_variant(variants, seed=f"{owner}:{step['id']}")
        return StepResult(output={"variant": variant.get("name")}, next=variant.get("next") or None)
