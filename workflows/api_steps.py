"""Draft steps API: nested ``/api/workflows/{id}/steps`` (with reorder) and the Laravel plan's
flat ``/api/workflow-steps``. Every write re-checks the step against its kind's schema."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.views import TenantViewSet
from prompts.models import Prompt

from . import api_serializers as s
from . import services
from .models import Workflow, WorkflowStep


def step_fields(data: dict, *, tenant) -> dict:
    """Serializer output → service fields; a prompt id must be of ``tenant`` (else 404)."""
    fields = dict(data)
    fields.pop("workflow", None)
    if "next" in fields:
        fields["next_step"] = fields.pop("next")
    if fields.get("prompt") is not None:
        fields["prompt"] = get_object_or_404(
            Prompt.objects.filter(tenant=tenant), pk=fields["prompt"]
        )
    return fields


class _StepWrites(TenantViewSet):
    serializer_class = s.StepOut
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return WorkflowStep.objects.filter(workflow__tenant=self.tenant).select_related("workflow")

    def get_object(self) -> WorkflowStep:
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    @extend_schema(responses=s.StepOut)
    def retrieve(self, request, **kwargs):
        return Response(s.StepOut(self.get_object()).data)

    @extend_schema(request=s.StepIn, responses=s.StepOut)
    def update(self, request, **kwargs):
        return self._update(request, partial=False)

    @extend_schema(request=s.StepIn, responses=s.StepOut)
    def partial_update(self, request, **kwargs):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool) -> Response:
        step = self.get_object()
        serializer = s.StepIn(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fields = step_fields(serializer.validated_data, tenant=self.tenant)
        return Response(s.StepOut(services.step_update(step=step, fields=fields)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, **kwargs):
        services.step_delete(step=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkflowStepViewSet(_StepWrites):
    """Steps of one workflow's draft, in order."""

    def workflow(self) -> Workflow:
        return get_object_or_404(
            Workflow.objects.filter(tenant=self.tenant), pk=self.kwargs["workflow_pk"]
        )

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WorkflowStep.objects.none()
        return super().get_queryset().filter(workflow_id=self.kwargs["workflow_pk"])

    @extend_schema(responses=s.StepOut(many=True))
    def list(self, request, **kwargs):
        page = self.paginate_queryset(self.workflow().steps.order_by("order", "id"))
        return self.get_paginated_response(s.StepOut(page, many=True).data)

    @extend_schema(request=s.StepIn, responses={201: s.StepOut})
    def create(self, request, **kwargs):
        workflow = self.workflow()
        serializer = s.StepIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = step_fields(serializer.validated_data, tenant=self.tenant)
        step = services.step_create(workflow=workflow, fields=fields)
        return Response(s.StepOut(step).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ReorderIn, responses=s.StepOut(many=True))
    @action(detail=False, methods=["post"])
    def reorder(self, request, **kwargs):
        workflow = self.workflow()
        serializer = s.ReorderIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        rows = services.steps_reorder(
            workflow=workflow, step_ids=serializer.validated_data["step_ids"]
        )
        return Response(s.StepOut(rows, many=True).data)


class FlatStepViewSet(_StepWrites):
    """The Laravel plan's ``/api/workflow-steps``: the same steps, workflow named in the body."""

    @extend_schema(
        parameters=[OpenApiParameter("workflow", int, description="only this workflow's steps")],
        responses=s.StepOut(many=True),
    )
    def list(self, request, **kwargs):
        queryset = self.get_queryset().order_by("workflow_id", "order", "id")
        if request.GET.get("workflow", "").isdigit():
            queryset = queryset.filter(workflow_id=int(request.GET["workflow"]))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.StepOut(page, many=True).data)

    @extend_schema(request=s.FlatStepIn, responses={201: s.StepOut})
    def create(self, request, **kwargs):
        serializer = s.FlatStepIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        workflow = get_object_or_404(
            Workflow.objects.filter(tenant=self.tenant), pk=serializer.validated_data["workflow"]
        )
        fields = step_fields(serializer.validated_data, tenant=self.tenant)
        step = services.step_create(workflow=workflow, fields=fields)
        return Response(s.StepOut(step).data, status=status.HTTP_201_CREATED)
