"""Engine-owned rows: webhook deliveries seen (replay protection)."""

from __future__ import annotations

from django.db import models


class WebhookDelivery(models.Model):
    """A delivery id accepted for a workflow; a second POST with it is a replay."""

    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    delivery_id = models.CharField(max_length=200)
    # Hex HMAC of what was signed: the same request under a new delivery id is still a replay.
    signature = models.CharField(max_length=64, null=True, blank=True)
    contact_id = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "delivery_id"], name="webhook_delivery_unique"
            ),
            models.UniqueConstraint(
                fields=["workflow", "signature"], name="webhook_signature_unique"
            ),
        ]
        indexes = [models.Index(fields=["received_at"], name="webhook_delivery_received")]

    def __str__(self) -> str:
        return f"{self.delivery_id} → workflow {self.workflow_id}"


class SideEffectAttempt(models.Model):
    """A provider call about to be made, written outside the step's transaction.

    If the worker dies mid-call the step's transaction (and its SideEffect row) roll back, but
    this row stays: the next run of the step knows the call may have happened, sends again
    with the same idempotency key and flags its StepLog ``possible_duplicate``.
    """

    key = models.CharField(max_length=200, unique=True)
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["started_at"], name="sideeffect_attempt_started")]

    def __str__(self) -> str:
        return self.key
