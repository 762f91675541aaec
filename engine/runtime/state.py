"""Enrollment states and the transitions allowed between them, in one place."""

from __future__ import annotations

from workflows.models import Enrollment

S = Enrollment.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    S.ACTIVE: frozenset({S.ACTIVE, S.WAITING, S.COMPLETED, S.EXITED, S.FAILED}),
    S.WAITING: frozenset({S.ACTIVE, S.WAITING, S.COMPLETED, S.EXITED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.EXITED: frozenset(),
    S.FAILED: frozenset(),
}
LIVE = frozenset({S.ACTIVE, S.WAITING})
FINAL = frozenset({S.COMPLETED, S.EXITED, S.FAILED})


class InvalidTransition(Exception):
    pass


def can_move(source: str, target: str) -> bool:
    return target in TRANSITIONS.get(source, frozenset())


def reopen(enrollment: Enrollment) -> None:
    """The one way out of a final state: failed → active, for a retry of the failed step
    (``engine.runtime.retry``). Every other path goes through ``move``, which never leaves a
    final state, so a redelivered task cannot revive a finished run. Raises InvalidTransition
    for any enrollment that is not failed."""
    if enrollment.status != S.FAILED:
        raise InvalidTransition(f"enrollment {enrollment.pk}: {enrollment.status} → active")
    enrollment.status = S.ACTIVE


def move(enrollment: Enrollment, target: str) -> None:
    """Set the status, refusing moves out of a final state (a finished run stays finished)."""
    if not can_move(enrollment.status, target):
        raise InvalidTransition(f"enrollment {enrollment.pk}: {enrollment.status} → {target}")
    enrollment.status = target
