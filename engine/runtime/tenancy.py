"""The engine's own tenant check: never run an enrollment whose links leave its tenant.

The database refuses such rows (triggers of the crm and workflows migrations), but rows
written before those triggers, or on a database without them, must not run another tenant's
definition or contact (or, through the tenant, its prompts) under this tenant. One query per
enrollment per process: links never change once written.
"""

from __future__ import annotations

from django.db.models import F

from workflows.models import Enrollment

_VERIFIED_MAX = 20_000
_verified: set[int] = set()


def forget_verified() -> None:
    """Forget every checked enrollment (tests: a rolled-back id may be used again)."""
    _verified.clear()


def mark_consistent(enrollment_id: int) -> None:
    """Record an enrollment whose links its creator has just checked (``enrollment_create``),
    so its first task does not query them again."""
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified.add(enrollment_id)


def cross_tenant_problem(enrollment: Enrollment) -> str | None:
    """Why ``enrollment`` may not run (its workflow or contact is another tenant's, or its
    version another workflow's), or None when its links are consistent."""
    if enrollment.pk in _verified:
        return None
    consistent = Enrollment.objects.filter(
        pk=enrollment.pk,
        workflow__tenant_id=F("tenant_id"),
        version__workflow_id=F("workflow_id"),
        contact__tenant_id=F("tenant_id"),
    ).exists()
    if not consistent:
        return (
            f"enrollment {enrollment.pk} links a workflow, version or contact of another tenant "
            "(or a version of another workflow): refused to run"
        )
    mark_consistent(enrollment.pk)
    return None
