"""An enrollment's run as the PHP execution-engine plan's JSON log."""

from __future__ import annotations

from typing import Any

from workflows.models import Enrollment, StepLog

STATUS = {
    StepLog.Status.SUCCEEDED: "success",
    StepLog.Status.WAITING: "success",
    StepLog.Status.SKIPPED: "success",
    StepLog.Status.CANCELLED: "cancelled",
    StepLog.Status.FAILED: "failed",
    StepLog.Status.RETRYING: "failed",
    StepLog.Status.RUNNING: "running",
}


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def run_log(*, enrollment: Enrollment) -> dict[str, Any]:
    """``{execution_id, workflow_id, start_time, end_time, status, steps: [...]}``."""
    logs = list(StepLog.objects.filter(enrollment=enrollment).order_by("started_at", "id"))
    finished = enrollment.status in (Enrollment.Status.COMPLETED, Enrollment.Status.EXITED)
    status = {True: "completed", False: "running"}[finished]
    if enrollment.status == Enrollment.Status.FAILED:
        status = "failed"
    return {
        "execution_id": str(enrollment.pk),
        "workflow_id": enrollment.workflow_id,
        "workflow_version": enrollment.version.number,
        "start_time": _iso(enrollment.enrolled_at),
        "end_time": _iso(enrollment.completed_at),
        "status": status,
        "exit_reason": enrollment.exit_reason or None,
        "error": enrollment.error or None,
        "steps": [
            {
                "step_id": log.step_id,
                "name": log.step_name or log.step_id,
                "type": log.step_type,
                "start_time": _iso(log.started_at),
                "end_time": _iso(log.finished_at),
                "status": STATUS.get(log.status, log.status),
                "output_vars": log.parsed_output or {},
                "error": log.error_message or None,
                "tokens": log.token_usage,
                "cost": str(log.cost) if log.cost is not None else None,
                "duration_ms": log.duration_ms,
            }
            for log in logs
        ],
    }
