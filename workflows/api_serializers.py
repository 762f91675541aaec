"""Serializers of the workflows API: inputs are checked here, definitions by the engine."""

from __future__ import annotations

from rest_framework import serializers

from .models import EnrollJob, Enrollment, StepLog, Workflow, WorkflowStep, WorkflowVersion

JSON_OBJECT = serializers.DictField


class TriggerOut(serializers.Serializer):
    type = serializers.CharField()
    config = serializers.DictField()
    filters = serializers.JSONField()


class WorkflowOut(serializers.ModelSerializer):
    trigger = serializers.SerializerMethodField()
    published_version = serializers.IntegerField(
        source="published_version.number", allow_null=True, default=None
    )

    class Meta:
        model = Workflow
        fields = [
            "id",
            "name",
            "description",
            "status",
            "trigger",
            "settings",
            "published_version",
            "published_at",
            "created_at",
            "updated_at",
        ]

    def get_trigger(self, obj: Workflow) -> TriggerOut:
        return {
            "type": obj.trigger_type,
            "config": obj.trigger_config,
            "filters": obj.trigger_filters,
        }


class StepOut(serializers.ModelSerializer):
    workflow = serializers.IntegerField(source="workflow_id", read_only=True)
    next = serializers.CharField(source="next_step")
    prompt = serializers.IntegerField(source="prompt_id", allow_null=True)

    class Meta:
        model = WorkflowStep
        fields = [
            "id",
            "workflow",
            "step_id",
            "order",
            "name",
            "type",
            "config",
            "delay",
            "next",
            "on_error",
            "prompt",
        ]


class StepCountsOut(serializers.Serializer):
    waiting_at = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()


class VariantOut(serializers.Serializer):
    variant = serializers.CharField()
    enrolled = serializers.IntegerField()
    goal_conversions = serializers.IntegerField()


class StatsOut(serializers.Serializer):
    enrolled = serializers.IntegerField()
    active = serializers.IntegerField()
    waiting = serializers.IntegerField()
    completed = serializers.IntegerField()
    exited = serializers.IntegerField()
    failed = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    runs = serializers.IntegerField()
    last_run = serializers.DateTimeField(allow_null=True)
    tokens = serializers.IntegerField()
    cost = serializers.CharField(help_text="USD")
    steps = serializers.DictField(child=StepCountsOut())
    ab_tests = serializers.DictField(child=VariantOut(many=True))


class WorkflowDetailOut(WorkflowOut):
    steps = StepOut(many=True, read_only=True)
    stats = serializers.SerializerMethodField()

    class Meta(WorkflowOut.Meta):
        fields = [*WorkflowOut.Meta.fields, "steps", "stats"]

    def get_stats(self, obj) -> StatsOut:
        return self.context["stats"]


class WorkflowIn(serializers.Serializer):
    """A definition (canonical keys; the TypeScript shape is accepted too)."""

    name = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    version = serializers.IntegerField(required=False)
    trigger = serializers.DictField(required=False)
    settings = serializers.DictField(required=False)
    steps = serializers.ListField(child=serializers.DictField(), required=False)
    metadata = serializers.DictField(required=False)


class PublishIn(serializers.Serializer):
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class VersionOut(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)

    class Meta:
        model = WorkflowVersion
        fields = ["number", "checksum", "note", "created_by", "created_at"]


class VersionDetailOut(VersionOut):
    class Meta(VersionOut.Meta):
        fields = [*VersionOut.Meta.fields, "definition"]


class ProblemOut(serializers.Serializer):
    path = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class PublishOut(serializers.Serializer):
    version = VersionOut()
    warnings = ProblemOut(many=True)


class WebhookOut(serializers.Serializer):
    """A workflow's inbound webhook (``selectors.webhook_endpoint``), with its absolute URL."""

    url = serializers.CharField()
    path = serializers.CharField()
    token = serializers.CharField()
    secret = serializers.CharField()
    signing = serializers.CharField()
    headers = serializers.DictField(child=serializers.CharField())
    accepting = serializers.BooleanField()


class DiffOut(serializers.Serializer):
    added = serializers.ListField(child=serializers.CharField())
    removed = serializers.ListField(child=serializers.CharField())
    changed = serializers.ListField(child=serializers.CharField())
    trigger_changed = serializers.BooleanField()
    settings_changed = serializers.BooleanField()
    text = serializers.CharField()


class RollbackIn(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class ImportOut(serializers.Serializer):
    workflow = WorkflowOut()
    created = serializers.BooleanField()
    format = serializers.CharField()
    converted_from_typescript = serializers.BooleanField()
    errors = ProblemOut(many=True)
    warnings = ProblemOut(many=True)
    published_version = serializers.IntegerField(allow_null=True)


class ExportQuery(serializers.Serializer):
    format = serializers.ChoiceField(choices=["yaml", "json"], default="yaml")
    version = serializers.IntegerField(min_value=1, required=False)


class EnrollIn(serializers.Serializer):
    """Exactly one of contact_id, contact_ids, filters (rules in the condition format)."""

    contact_id = serializers.IntegerField(required=False)
    contact_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=100_000
    )
    filters = serializers.JSONField(required=False)

    def validate(self, attrs):
        given = [k for k in ("contact_id", "contact_ids", "filters") if k in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                "give exactly one of contact_id, contact_ids or filters"
            )
        return attrs


class EnrollJobOut(serializers.ModelSerializer):
    workflow = serializers.IntegerField(source="workflow_id")

    class Meta:
        model = EnrollJob
        fields = [
            "id",
            "workflow",
            "status",
            "total",
            "processed",
            "enrolled",
            "error",
            "created_at",
            "finished_at",
        ]


class EnrollOut(serializers.Serializer):
    selected = serializers.IntegerField()
    enrolled = serializers.IntegerField()
    skipped = serializers.IntegerField()
    job = EnrollJobOut(allow_null=True)


class EnrollmentOut(serializers.ModelSerializer):
    workflow = serializers.IntegerField(source="workflow_id")
    contact = serializers.IntegerField(source="contact_id")
    version = serializers.IntegerField(source="version.number")

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "workflow",
            "contact",
            "version",
            "status",
            "current_step",
            "exit_reason",
            "error",
            "enrolled_at",
            "updated_at",
            "completed_at",
        ]


class RetryStartedOut(serializers.Serializer):
    step_id = serializers.CharField()
    attempt = serializers.IntegerField(help_text="The attempt number the step runs as")
    held = serializers.BooleanField(help_text="True: the workflow is paused; runs on resume")


class RetryOut(EnrollmentOut):
    """The enrollment (now active) and the retry that was set going."""

    retry = RetryStartedOut(read_only=True)

    class Meta(EnrollmentOut.Meta):
        fields = [*EnrollmentOut.Meta.fields, "retry"]


class TimelineEntryOut(serializers.Serializer):
    step_id = serializers.CharField()
    type = serializers.CharField()
    status = serializers.CharField()
    visit = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    next_step = serializers.CharField()
    error = serializers.CharField()


class EnrollmentDetailOut(EnrollmentOut):
    timeline = serializers.SerializerMethodField()

    class Meta(EnrollmentOut.Meta):
        fields = [*EnrollmentOut.Meta.fields, "context", "visits", "step_count", "timeline"]

    def get_timeline(self, obj) -> TimelineEntryOut(many=True):
        return self.context["timeline"]


class ExitIn(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, default="manual")


class StepLogOut(serializers.ModelSerializer):
    cost = serializers.DecimalField(max_digits=10, decimal_places=6, allow_null=True)
    prompt = serializers.IntegerField(source="prompt_id", allow_null=True)

    class Meta:
        model = StepLog
        fields = [
            "id",
            "step_id",
            "step_type",
            "step_name",
            "visit",
            "attempt",
            "status",
            "prompt",
            "input_context",
            "raw_output",
            "parsed_output",
            "error_message",
            "next_step",
            "model_name",
            "input_tokens",
            "output_tokens",
            "token_usage",
            "cost",
            "started_at",
            "finished_at",
            "duration_ms",
        ]


class RunLogStepOut(serializers.Serializer):
    step_id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    start_time = serializers.CharField(allow_null=True)
    end_time = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    output_vars = serializers.JSONField()
    error = serializers.CharField(allow_null=True)
    tokens = serializers.IntegerField(allow_null=True)
    cost = serializers.CharField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)


class RunLogOut(serializers.Serializer):
    """The PHP plan's execution log."""

    execution_id = serializers.CharField()
    workflow_id = serializers.IntegerField()
    workflow_version = serializers.IntegerField()
    start_time = serializers.CharField(allow_null=True)
    end_time = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    exit_reason = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    steps = RunLogStepOut(many=True)


class TestIn(serializers.Serializer):
    contact_id = serializers.IntegerField(required=False)
    contact = serializers.DictField(required=False, default=dict)
    trigger = serializers.DictField(required=False, default=dict)
    events = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    version = serializers.IntegerField(required=False, min_value=1)
    seed = serializers.IntegerField(required=False)


class TestOut(serializers.Serializer):
    status = serializers.CharField()
    exit_reason = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    path = serializers.ListField(child=serializers.CharField())
    steps = serializers.ListField(child=serializers.DictField())
    events = serializers.ListField(child=serializers.DictField())
    outbox = serializers.ListField(child=serializers.DictField())
    changes = serializers.ListField(child=serializers.DictField())


class StepIn(serializers.Serializer):
    """A draft step; ``config`` is checked against the step kind's schema."""

    step_id = serializers.SlugField(max_length=100)
    type = serializers.CharField(max_length=50)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    config = serializers.DictField(required=False, default=dict)
    delay = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    next = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    on_error = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    prompt = serializers.IntegerField(required=False, allow_null=True, default=None)
    order = serializers.IntegerField(required=False, min_value=0)


class FlatStepIn(StepIn):
    workflow = serializers.IntegerField()


class ReorderIn(serializers.Serializer):
    step_ids = serializers.ListField(child=serializers.CharField(), min_length=1)


class RunIn(serializers.Serializer):
    """The PHP plan's body (workflow_id, input_vars) or the TypeScript one (workflowId,
    triggerData); contact_id/contactId pick the contact."""

    workflow_id = serializers.IntegerField(required=False)
    workflowId = serializers.CharField(required=False)
    input_vars = serializers.DictField(required=False)
    triggerData = serializers.DictField(required=False)
    contact_id = serializers.IntegerField(required=False)
    contactId = serializers.IntegerField(required=False)

    def validate(self, attrs):
        raw = attrs.get("workflow_id", attrs.get("workflowId"))
        if raw is None:
            raise serializers.ValidationError({"workflow_id": "required (or workflowId)"})
        if not str(raw).isdigit():
            raise serializers.ValidationError({"workflow_id": f"'{raw}' is not a workflow id"})
        return {
            "workflow_id": int(raw),
            "input_vars": attrs.get("input_vars", attrs.get("triggerData")) or {},
            "contact_id": attrs.get("contact_id", attrs.get("contactId")),
        }


class RunQuery(serializers.Serializer):
    wait = serializers.IntegerField(min_value=0, max_value=60, default=0)


class TypeScriptActionIn(serializers.Serializer):
    """One action of the TypeScript write-up (checked by the definition parser)."""

    id = serializers.CharField()
    type = serializers.CharField(help_text="any case: SEND_MESSAGE, send_message …")
    name = serializers.CharField(required=False)
    config = serializers.DictField(required=False)
    nextActionId = serializers.CharField(allow_null=True, required=False)


class TypeScriptWorkflowIn(serializers.Serializer):
    """The write-up's workflow body: ``enabled: true`` publishes (needs admin)."""

    name = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    trigger = serializers.DictField()
    conditions = serializers.ListField(child=serializers.DictField(), required=False)
    actions = TypeScriptActionIn(many=True)


class TypeScriptUpdateIn(serializers.Serializer):
    """``workflowId`` and the keys to change."""

    workflowId = serializers.CharField()
    name = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    trigger = serializers.DictField(required=False)
    conditions = serializers.ListField(child=serializers.DictField(), required=False)
    actions = TypeScriptActionIn(many=True, required=False)
