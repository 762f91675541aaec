"""The run endpoint (the PHP plan's and the TypeScript write-up's) and the write-up's
create / update / list routes, answering in its ``{"success": true, …}`` envelope."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.tenancy import ADMIN
from api.views import TenantViewSet, flag
from engine.runtime.runlog import run_log

from . import api_serializers as s
from . import selectors, services
from .models import Enrollment, Workflow

ENVELOPE = inline_serializer(
    "TypeScriptWorkflowEnvelope",
    {"success": serializers.BooleanField(), "workflow": serializers.DictField()},
)
LIST_ENVELOPE = inline_serializer(
    "TypeScriptWorkflowList",
    {
        "success": serializers.BooleanField(),
        "workflows": serializers.ListField(child=serializers.DictField()),
        "stats": serializers.DictField(required=False),
        "count": serializers.IntegerField(),
        "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True),
    },
)
RUN_OUT = inline_serializer(
    "RunResult",
    {
        "success": serializers.BooleanField(),
        "execution_id": serializers.CharField(allow_null=True),
        "status": serializers.CharField(),
        "errors": serializers.ListField(child=serializers.CharField()),
        "workflow_id": serializers.IntegerField(),
        "contact_id": serializers.IntegerField(),
        "result": serializers.DictField(),
        "run_log": serializers.DictField(allow_null=True),
    },
)


def typescript_workflow(workflow: Workflow, counts: dict | None) -> dict:
    """One workflow in the write-up's shape (ids as strings, camelCase, run counters)."""
    counts = counts or {}
    return {
        "id": str(workflow.pk),
        "tenantId": str(workflow.tenant_id),
        **services.typescript_document(workflow=workflow),
        "status": workflow.status,
        "createdAt": workflow.created_at.isoformat(),
        "updatedAt": workflow.updated_at.isoformat(),
        "runCount": counts.get("runs", 0),
        "successCount": counts.get("successes", 0),
        "errorCount": counts.get("errors", 0),
        "lastRunAt": counts["last_run"].isoformat() if counts.get("last_run") else None,
    }


class TypeScriptRoutes(TenantViewSet):
    """``/api/workflows/create|update|list|run``."""

    action_roles = {"run": ADMIN}
    serializer_class = s.WorkflowOut

    def _envelope(self, workflow: Workflow, code=status.HTTP_200_OK) -> Response:
        counts = selectors.workflow_counts(workflows=Workflow.objects.filter(pk=workflow.pk))
        body = {"success": True, "workflow": typescript_workflow(workflow, counts.get(workflow.pk))}
        return Response(body, status=code)

    @extend_schema(request=s.TypeScriptWorkflowIn, responses={201: ENVELOPE})
    @action(detail=False, methods=["post"], url_path="create")
    def ts_create(self, request):
        data = _object(request.data)
        if data.get("enabled") is True:
            self.require_role(ADMIN, "enabling (publishing) a workflow")
        workflow = services.workflow_save_typescript(
            tenant=self.tenant, data=data, user=request.user
        )
        return self._envelope(workflow, status.HTTP_201_CREATED)

    @extend_schema(request=s.TypeScriptUpdateIn, responses=ENVELOPE)
    @action(detail=False, methods=["post"], url_path="update")
    def ts_update(self, request):
        data = _object(request.data)
        raw = data.pop("workflowId", data.pop("id", None))
        if raw is None or not str(raw).isdigit():
            raise serializers.ValidationError(
                {"workflowId": f"required, a workflow id (got {raw!r})"}
            )
        workflow = get_object_or_404(Workflow.objects.filter(tenant=self.tenant), pk=int(raw))
        if "enabled" in data:
            self.require_role(ADMIN, "enabling or disabling a workflow")
        workflow = services.workflow_save_typescript(
            tenant=self.tenant, data=data, workflow=workflow, user=request.user
        )
        return self._envelope(workflow)

    @extend_schema(
        parameters=[
            OpenApiParameter("enabledOnly", bool, description="only enabled (active) workflows"),
            OpenApiParameter("includeStats", bool, description="add the stats block"),
        ],
        responses=LIST_ENVELOPE,
    )
    @action(detail=False, methods=["get"], url_path="list")
    def ts_list(self, request):
        workflows = (
            selectors.workflows_for(tenant=self.tenant)
            .prefetch_related("steps")
            .order_by("name", "id")
        )
        if flag(request.GET.get("enabledOnly")):
            workflows = workflows.filter(status=Workflow.Status.ACTIVE)
        page = self.paginate_queryset(workflows)
        counts = selectors.workflow_counts(workflows=workflows)
        body = {
            "success": True,
            "workflows": [typescript_workflow(w, counts.get(w.pk)) for w in page],
            "count": self.paginator.page.paginator.count,
            "next": self.paginator.get_next_link(),
            "previous": self.paginator.get_previous_link(),
        }
        if flag(request.GET.get("includeStats")):
            body["stats"] = _list_stats(workflows, counts)
        return Response(body)

    @extend_schema(
        request=s.RunIn,
        parameters=[s.RunQuery],
        responses={200: RUN_OUT, 202: RUN_OUT},
    )
    @action(detail=False, methods=["post"], url_path="run")
    def run(self, request):
        data = s.RunIn(data=request.data)
        data.is_valid(raise_exception=True)
        query = s.RunQuery(data=request.GET)
        query.is_valid(raise_exception=True)
        body = data.validated_data
        workflow = get_object_or_404(
            Workflow.objects.filter(tenant=self.tenant), pk=body["workflow_id"]
        )
        started = services.workflow_run(
            workflow=workflow,
            input_vars=body["input_vars"],
            contact_id=body["contact_id"],
            user=request.user,
        )
        enrollment = started.enrollment
        if enrollment is None:
            raise services.WorkflowStateError(
                f"contact {started.contact.pk} is already in workflow '{workflow.name}' "
                "and it does not allow re-enrollment"
            )
        wait = query.validated_data["wait"]
        if wait:
            enrollment = selectors.enrollment_wait(enrollment=enrollment, seconds=wait)
        return Response(_run_body(enrollment, waited=bool(wait)), status=200 if wait else 202)


def _run_body(enrollment: Enrollment, *, waited: bool) -> dict:
    results = selectors.enrollment_results(enrollment=enrollment)
    failed = enrollment.status == Enrollment.Status.FAILED
    errors = [enrollment.error] if enrollment.error else []
    execution_id = str(enrollment.pk)
    return {
        "success": not failed,
        "execution_id": execution_id,
        "status": enrollment.status,
        "errors": errors,
        "workflow_id": enrollment.workflow_id,
        "contact_id": enrollment.contact_id,
        "result": {
            "success": not failed,
            "executionId": execution_id,
            "actionsExecuted": len(results),
            "results": results,
        },
        "run_log": run_log(enrollment=enrollment) if waited else None,
    }


def _object(data) -> dict:
    if not isinstance(data, dict):
        raise serializers.ValidationError("the body must be a JSON object")
    return dict(data)


def _list_stats(workflows, counts: dict) -> dict:
    runs = sum(c["runs"] for c in counts.values())
    successes = sum(c["successes"] for c in counts.values())
    errors = sum(c["errors"] for c in counts.values())
    return {
        "totalWorkflows": workflows.count(),
        "enabledWorkflows": workflows.filter(status=Workflow.Status.ACTIVE).count(),
        "totalExecutions": runs,
        "successRate": round(successes / (successes + errors), 4) if successes + errors else None,
    }
