"""Workflows: the editable draft, immutable published versions, and the runtime rows.

Static graph (Workflow, WorkflowStep, WorkflowVersion) is kept apart from the runtime
(Enrollment, StepLog, ScheduledAction, SideEffect), as viewflow does.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.tenancy import Link, TenantLinkedModel

# ``db_index=False`` on a ForeignKey: its column leads one of the model's composite indexes or
# unique rules, which serves lookups by it as well; an index of its own would only cost every
# INSERT a write (tests/test_redundant_indexes.py finds any that come back).


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


class Workflow(TenantLinkedModel):
    tenant_links = (
        Link("published_version", target="workflow_id", source="id", message="is not this one's"),
    )

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    tenant = models.ForeignKey(
        "crm.Tenant", db_index=False, on_delete=models.CASCADE, related_name="workflows"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    trigger_type = models.CharField(max_length=50, default="manual")
    trigger_config = models.JSONField(default=dict, blank=True)
    trigger_filters = models.JSONField(default=list, blank=True)
    settings = models.JSONField(
        default=dict,
        blank=True,
        help_text="allow_reenrollment, timezone, business_hours, exit_conditions, max_step_visits",
    )
    # Where the draft came from when imported, kept verbatim for reference.
    source_text = models.TextField(blank=True)
    source_format = models.CharField(max_length=10, blank=True)
    published_version = models.ForeignKey(
        "WorkflowVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    published_at = models.DateTimeField(null=True, blank=True)
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token)
    webhook_secret = models.CharField(max_length=128, default=new_webhook_secret)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="workflow_unique_tenant_name")
        ]
        indexes = [
            models.Index(
                fields=["tenant", "status", "trigger_type"], name="workflow_trigger_lookup"
            )
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowStep(TenantLinkedModel):
    """One step of the editable draft; publishing compiles these into a WorkflowVersion."""

    tenant_links = (Link("prompt", source="workflow__tenant_id"),)

    workflow = models.ForeignKey(
        Workflow, db_index=False, on_delete=models.CASCADE, related_name="steps"
    )
    step_id = models.SlugField(max_length=100, help_text="Unique in the workflow; used by targets")
    order = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=50)
    prompt = models.ForeignKey(
        "prompts.Prompt", on_delete=models.SET_NULL, null=True, blank=True, related_name="steps"
    )
    config = models.JSONField(default=dict, blank=True)
    condition_rules = models.JSONField(default=list, blank=True)
    delay = models.CharField(max_length=50, blank=True, help_text="e.g. 30m, 1d, 2h30m, PT1H")
    next_step = models.CharField(max_length=100, blank=True, help_text="A step id, end, exit…")
    on_error = models.CharField(max_length=100, blank=True, help_text="fail, continue or a step id")

    class Meta:
        ordering = ["workflow", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "step_id"], name="step_unique_id_in_workflow"
            )
        ]

    def __str__(self) -> str:
        return f"{self.step_id} ({self.type})"


class WorkflowVersion(models.Model):
    """An immutable, validated definition; enrollments pin the version they started on."""

    workflow = models.ForeignKey(
        Workflow, db_index=False, on_delete=models.CASCADE, related_name="versions"
    )
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    checksum = models.CharField(max_length=64)
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"


class Enrollment(TenantLinkedModel):
    """A contact walking a workflow; workflow, contact and pinned version are all its tenant's."""

    tenant_links = (
        Link("workflow"),
        Link("contact"),
        Link(
            "version", target="workflow_id", source="workflow_id", message="is another workflow's"
        ),
    )

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        WAITING = "waiting", "Waiting"
        COMPLETED = "completed", "Completed"
        EXITED = "exited", "Exited"
        FAILED = "failed", "Failed"

    LIVE_STATUSES = (Status.ACTIVE, Status.WAITING)

    tenant = models.ForeignKey(
        "crm.Tenant", db_index=False, on_delete=models.CASCADE, related_name="enrollments"
    )
    workflow = models.ForeignKey(
        Workflow, db_index=False, on_delete=models.CASCADE, related_name="enrollments"
    )
    # Versions are never deleted on their own (the admin refuses); they go with their workflow.
    version = models.ForeignKey(
        WorkflowVersion, on_delete=models.CASCADE, related_name="enrollments"
    )
    contact = models.ForeignKey(
        settings.STUDIO_CONTACT_MODEL,
        db_index=False,
        on_delete=models.CASCADE,
        related_name="enrollments",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    current_step = models.CharField(max_length=100, blank=True)
    # steps.<id>.* results, the trigger payload and A/B assignments accumulated on the way.
    context = models.JSONField(default=dict, blank=True)
    visits = models.JSONField(default=dict, blank=True, help_text="step id → times run")
    step_count = models.PositiveIntegerField(default=0)
    # Copied from the version's settings at enrollment; the constraints below read it.
    reenrollable = models.BooleanField(default=False)
    # 1 for the contact's first enrollment in this workflow (any version), 2 for the next…
    sequence = models.PositiveIntegerField(default=1)
    # Its workflow is paused: no step runs until resume clears it. On the row the executor
    # locks anyway, so checking it costs no query.
    held = models.BooleanField(default=False)
    exit_reason = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [
            # "Once per contact" counts every earlier enrollment, whatever its version: the
            # contact's first enrollment (sequence 1) and any enrollment without re-enrollment
            # share one slot per (workflow, contact), so a once-only enrollment can only be the
            # first. A partial unique index: SQLite adds it without rebuilding the table.
            models.UniqueConstraint(
                fields=["workflow", "contact"],
                condition=Q(reenrollable=False) | Q(sequence=1),
                name="enrollment_once_is_first",
            ),
            models.UniqueConstraint(
                fields=["workflow", "contact"],
                condition=Q(status__in=["active", "waiting"]),
                name="enrollment_one_live_per_contact",
            ),
            # Each of a contact's enrollments in a workflow has its own number. Two that race
            # (the second's INSERT waits for the first's live row, then goes on with the next
            # number it computed before the first committed) would share one; the loser is
            # refused here and enrollment_create tries again (migration 0013 renumbered the
            # pairs made before). Also the one index of the contact's next ``sequence`` in a
            # workflow (MAX over contact and workflow, enrollment.py): with only (contact,
            # status) the planner, without statistics, AND-ed it with (workflow, status) and
            # read every enrollment of the workflow for each new one (bench/README.md, "Hot
            # queries").
            models.UniqueConstraint(
                fields=["contact", "workflow", "sequence"], name="enrollment_sequence_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["workflow", "status"], name="enrollment_workflow_status"),
            models.Index(fields=["tenant", "status"], name="enrollment_tenant_status"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.workflow} ({self.status})"


class StepLog(TenantLinkedModel):
    """One row per step execution: the audit trail, the timeline and the outbox."""

    tenant_links = (
        Link("workflow"),
        Link("version", target="workflow__tenant_id"),
        Link("enrollment"),
        Link("prompt"),
        Link("parent"),
    )

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        RETRYING = "retrying", "Retrying"
        SKIPPED = "skipped", "Skipped"
        WAITING = "waiting", "Waiting"
        # A wait the enrollment left before it ended (manual exit, exit condition, a goal met
        # elsewhere, the workflow archived): it did not succeed and leads nowhere.
        CANCELLED = "cancelled", "Cancelled"

    tenant = models.ForeignKey(
        "crm.Tenant", db_index=False, on_delete=models.CASCADE, related_name="step_logs"
    )
    workflow = models.ForeignKey(
        Workflow,
        db_index=False,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="logs",
    )
    version = models.ForeignKey(
        WorkflowVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="logs"
    )
    enrollment = models.ForeignKey(
        Enrollment,
        db_index=False,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="logs",
    )
    step_id = models.CharField(max_length=100)
    step_type = models.CharField(max_length=50)
    step_name = models.CharField(max_length=255, blank=True)
    visit = models.PositiveIntegerField(default=1)
    attempt = models.PositiveIntegerField(default=1)
    # Set on few rows (AI steps; a child log): indexed only where set (Meta.indexes), so the
    # other steps' logs write no index entry for them.
    prompt = models.ForeignKey(
        "prompts.Prompt",
        db_index=False,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="logs",
    )
    parent = models.ForeignKey(
        "self",
        db_index=False,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
    )
    triggering_object_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    input_context = models.JSONField(null=True, blank=True)
    raw_output = models.JSONField(null=True, blank=True)
    parsed_output = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    next_step = models.CharField(max_length=100, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    # Output tokens include thinking; thinking and cached (prompt) tokens are also kept apart.
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    thinking_tokens = models.PositiveIntegerField(null=True, blank=True)
    cached_tokens = models.PositiveIntegerField(null=True, blank=True)
    token_usage = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # A retry after a provider call that may have completed (its worker died mid-call): sent
    # again with the same idempotency key; the provider should drop it, but someone may look.
    possible_duplicate = models.BooleanField(default=False)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(fields=["enrollment", "started_at"], name="steplog_enrollment_time"),
            models.Index(fields=["tenant", "started_at"], name="steplog_tenant_time"),
            models.Index(fields=["workflow", "status"], name="steplog_workflow_status"),
            models.Index(
                fields=["prompt"], name="steplog_prompt", condition=Q(prompt__isnull=False)
            ),
            models.Index(
                fields=["parent"], name="steplog_parent", condition=Q(parent__isnull=False)
            ),
            models.Index(fields=["started_at"], name="steplog_started"),
        ]

    def __str__(self) -> str:
        return f"{self.step_id} #{self.visit} {self.status}"


class ScheduledAction(TenantLinkedModel):
    """Due work as a row: every delay, wait, goal timeout and retry. Nothing waits in the broker."""

    tenant_links = (Link("enrollment"),)

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Claimed"
        # The workflow is paused: kept, not claimed; resume makes it pending again.
        HELD = "held", "Held (workflow paused)"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    class Kind(models.TextChoices):
        RUN_STEP = "run_step", "Run step"
        RESUME = "resume", "Resume after wait"
        GOAL_TIMEOUT = "goal_timeout", "Goal timeout"
        RETRY = "retry", "Retry"

    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        Enrollment, db_index=False, on_delete=models.CASCADE, related_name="scheduled_actions"
    )
    step_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.RUN_STEP)
    # The enrollment's step_count when this was scheduled; a stale row (the enrollment moved
    # on, e.g. a goal jump) is recognised by a mismatch and dropped.
    seq = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status="pending"), name="scheduled_pending_due"
            ),
            models.Index(
                fields=["claimed_at"], condition=Q(status="claimed"), name="scheduled_claimed"
            ),
            models.Index(fields=["enrollment", "status"], name="scheduled_enrollment"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.step_id} at {self.due_at:%Y-%m-%d %H:%M:%S} ({self.status})"


class SideEffect(TenantLinkedModel):
    """Idempotency record: one outbound action per (enrollment, step, visit) key."""

    tenant_links = (Link("enrollment"),)

    class Status(models.TextChoices):
        STARTED = "started", "Started"
        DONE = "done", "Done"

    key = models.CharField(max_length=200, unique=True)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, null=True, blank=True, related_name="side_effects"
    )
    step_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=50)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.STARTED)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key


class EnrollJob(models.Model):
    """A large manual enrollment running in the background; its progress is readable."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="enroll_jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # {"contact_ids": [...]} or {"filters": {...}}: what to enroll, as the request said it.
    selection = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    enrolled = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When its task was last sent: a job still queued one lease later lost its message and is
    # sent again (services.enroll_jobs_resend), at most once per lease.
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["sent_at"], name="enroll_job_queued", condition=Q(status="queued"))
        ]

    def __str__(self) -> str:
        return f"enroll job {self.pk} ({self.status} {self.processed}/{self.total})"
