"""Exactly-once side effects: one SideEffect row per (enrollment, step, visit) key.

Called inside the executor's transaction, which holds the enrollment's row lock, so two
deliveries of one step never act at once. A re-run finds the stored result and returns it.
If a worker dies mid-call the transaction (and the row) roll back; the step runs again
with the same key, which the provider receives too (``Idempotency-Key``, Twilio's
idempotency token, the email Message-ID) so it can drop the duplicate on its side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflows.models import SideEffect


def perform_once(
    *,
    key: str,
    tenant_id: int,
    enrollment_id: int | None,
    step_id: str,
    kind: str,
    action: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """Run ``action`` unless ``key`` already has a result; returns (result, replayed)."""
    existing = SideEffect.objects.filter(key=key).first()
    if existing is not None and existing.status == SideEffect.Status.DONE:
        return dict(existing.result or {}), True
    fields = {"tenant_id": tenant_id, "enrollment_id": enrollment_id, "step_id": step_id}
    try:
        result = action()
    except Exception:
        # The attempt may have reached the provider: leave a trace; a retry re-sends with
        # the same key. (One row write on failure only; success writes the row once, below.)
        if existing is None:
            SideEffect.objects.create(key=key, kind=kind, **fields)
        raise
    if existing is None:
        SideEffect.objects.create(
            key=key, kind=kind, status=SideEffect.Status.DONE, result=result, **fields
        )
    else:
        existing.status = SideEffect.Status.DONE
        existing.result = result
        existing.save(update_fields=["status", "result", "updated_at"])
    return result, False


def step_once(
    ctx, *, tenant_id: int, step_id: str, kind: str, action: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``perform_once`` keyed by the running step (ctx is the handler's StepContext)."""
    result, _replayed = perform_once(
        key=ctx.idempotency_key(step_id),
        tenant_id=tenant_id,
        enrollment_id=ctx.enrollment_id,
        step_id=step_id,
        kind=kind,
        action=action,
    )
    return result
