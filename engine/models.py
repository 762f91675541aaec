"""Engine-owned rows: webhook deliveries (replay protection and the work they owe)."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

# ``db_index=False`` on a ForeignKey: its column leads one of the model's composite indexes or
# unique rules, which serves lookups by it as well; an index of its own would only cost every
# INSERT a write (tests/test_redundant_indexes.py finds any that come back).


class WebhookDelivery(models.Model):
    """A delivery id accepted for a workflow; a second POST with it is a replay.

    The row is also the record of the enrollment it owes until ``outcome`` is set: the sweep
    re-sends the task of a delivery with no outcome (``engine.runtime.scheduler.sweep``).
    """

    class Outcome(models.TextChoices):
        ENROLLED = "enrolled", "Enrolled"
        FILTERED = "filtered", "Filters did not pass"
        NOT_ENROLLED = "not_enrolled", "Not enrolled (already in, re-entry refused, paused)"
        GONE = "gone", "Contact or workflow gone"
        UNKNOWN = "unknown", "Received before outcomes were recorded"

    workflow = models.ForeignKey(
        "workflows.Workflow",
        db_index=False,
        on_delete=models.CASCADE,
        related_name="webhook_deliveries",
    )
    delivery_id = models.CharField(max_length=200)
    # Hex HMAC of what was signed: the same request under a new delivery id is still a replay.
    signature = models.CharField(max_length=64, null=True, blank=True)
    contact_id = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # What the enrollment task needs to redo the work if its message is lost: the trigger
    # data as sent to it (bounded by STUDIO_WEBHOOK_MAX_BYTES; a UUID contact id is stored as
    # text, which loads the contact alike). Null on rows from before 0005.
    trigger = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    # Set in the transaction that enrolls the contact or decides not to (Outcome); blank while
    # the work is still owed, which is what the sweep looks for.
    outcome = models.CharField(max_length=20, blank=True, default="")
    handled_at = models.DateTimeField(null=True, blank=True)
    # When the task was last sent (the request, then each re-send by the sweep): the lease clock.
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "delivery_id"], name="webhook_delivery_unique"
            ),
            models.UniqueConstraint(
                fields=["workflow", "signature"], name="webhook_signature_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["received_at"], name="webhook_delivery_received"),
            # The sweep's question, "which deliveries are still owed?", over those rows only.
            models.Index(
                fields=["sent_at"], name="webhook_delivery_owed", condition=models.Q(outcome="")
            ),
        ]

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
