"""Workflows API: thin views — input serializer → one service/selector → output serializer.

Paths are the Python specification's (``/api/workflows``, ``/api/workflows/{id}/publish`` …);
roles and errors are described in docs/api.md.
"""

from __future__ import annotations

import django_filters
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, parsers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.errors import ApiError
from api.tenancy import ADMIN, EDITOR
from api.views import TenantViewSet, flag

from . import api_serializers as s
from . import selectors, services
from .api_parsers import DOCUMENT_PARSERS, DefinitionDocument, upload_text
from .models import Enrollment, Workflow

PUBLISHER_ACTIONS = (
    "publish",
    "pause",
    "resume",
    "archive",
    "enroll",
    "destroy",
    "webhook",
    "rotate_webhook_secret",
)


class EnrollmentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Enrollment.Status.choices)
    current_step = django_filters.CharFilter()
    contact = django_filters.NumberFilter(field_name="contact_id")
    enrolled_after = django_filters.IsoDateTimeFilter(field_name="enrolled_at", lookup_expr="gte")
    enrolled_before = django_filters.IsoDateTimeFilter(field_name="enrolled_at", lookup_expr="lt")

    class Meta:
        model = Enrollment
        fields = ["status", "current_step", "contact", "enrolled_after", "enrolled_before"]


class WorkflowFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Workflow.Status.choices)
    trigger_type = django_filters.CharFilter()
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Workflow
        fields = ["status", "trigger_type", "name"]


class WorkflowViewSet(
    mixins.ListModelMixin,
    TenantViewSet,
):
    """Workflows of the caller's tenant and everything done to one."""

    lookup_value_regex = "[0-9]+"
    serializer_class = s.WorkflowOut
    filterset_class = WorkflowFilter
    action_roles = dict.fromkeys(PUBLISHER_ACTIONS, ADMIN) | {"test": EDITOR}

    def get_queryset(self):
        return selectors.workflows_for(tenant=self.tenant)

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def _detail(self, workflow, code=status.HTTP_200_OK) -> Response:
        stats = selectors.workflow_stats(workflow=workflow)
        body = s.WorkflowDetailOut(workflow, context={"stats": stats}).data
        return Response(body, status=code)

    @extend_schema(request=s.WorkflowIn, responses={201: s.WorkflowDetailOut})
    def create(self, request):
        data = _valid(s.WorkflowIn, request.data)
        workflow = services.workflow_create(tenant=self.tenant, data=data)
        return self._detail(workflow, status.HTTP_201_CREATED)

    @extend_schema(responses=s.WorkflowDetailOut)
    def retrieve(self, request, pk=None):
        return self._detail(self.get_object())

    @extend_schema(request=s.WorkflowIn, responses=s.WorkflowDetailOut)
    def update(self, request, pk=None):
        data = _valid(s.WorkflowIn, request.data)
        workflow = services.workflow_update(workflow=self.get_object(), changes=data, replace=True)
        return self._detail(workflow)

    @extend_schema(request=s.WorkflowIn, responses=s.WorkflowDetailOut)
    def partial_update(self, request, pk=None):
        data = _valid(s.WorkflowIn, request.data, partial=True)
        workflow = services.workflow_update(workflow=self.get_object(), changes=data)
        return self._detail(workflow)

    @extend_schema(
        parameters=[OpenApiParameter("force", bool, description="exit live enrollments first")],
        responses={204: None},
    )
    def destroy(self, request, pk=None):
        services.workflow_delete(workflow=self.get_object(), force=flag(request.GET.get("force")))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.PublishIn, responses={201: s.PublishOut, 200: s.PublishOut})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """201 with the new version; 200 with the live one when the draft equals it (the
        service writes nothing then: a second click is not a new version)."""
        data = _valid(s.PublishIn, request.data)
        workflow = self.get_object()
        published = services.workflow_publish_outcome(
            workflow=workflow, user=request.user, note=data["note"]
        )
        version = published.version
        result = services.definition_validate(
            tenant=self.tenant, definition=services.load_definition(version.definition)
        )
        return Response(
            {
                "version": s.VersionOut(version).data,
                "warnings": [p.as_dict() for p in result.warnings],
            },
            status=status.HTTP_201_CREATED if published.created else status.HTTP_200_OK,
        )

    def _webhook(self, request, workflow) -> Response:
        endpoint = selectors.webhook_endpoint(workflow=workflow)
        return Response({"url": request.build_absolute_uri(endpoint["path"]), **endpoint})

    @extend_schema(request=None, responses=s.WebhookOut)
    @action(detail=True, methods=["get"])
    def webhook(self, request, pk=None):
        """Where to POST and how to sign, the secret included (admins and owners)."""
        return self._webhook(request, self.get_object())

    @extend_schema(request=None, responses=s.WebhookOut)
    @action(detail=True, methods=["post"], url_path="webhook/rotate-secret")
    def rotate_webhook_secret(self, request, pk=None):
        """A new signing secret; the old one is refused from now on (the URL stays)."""
        workflow = services.workflow_webhook_rotate(workflow=self.get_object())
        return self._webhook(request, workflow)

    @extend_schema(request=None, responses=s.WorkflowOut)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return Response(
            s.WorkflowOut(services.workflow_pause(workflow=self.get_object()).workflow).data
        )

    @extend_schema(request=None, responses=s.WorkflowOut)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return Response(
            s.WorkflowOut(services.workflow_resume(workflow=self.get_object()).workflow).data
        )

    @extend_schema(request=None, responses=s.WorkflowOut)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return Response(
            s.WorkflowOut(services.workflow_archive(workflow=self.get_object()).workflow).data
        )

    @extend_schema(
        request={
            "application/yaml": OpenApiTypes.STR,
            "application/json": OpenApiTypes.OBJECT,
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        parameters=[OpenApiParameter("publish", bool, description="publish after importing")],
        responses={200: s.ImportOut, 201: s.ImportOut},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[*DOCUMENT_PARSERS, parsers.MultiPartParser],
    )
    def import_(self, request):
        publish = flag(request.GET.get("publish"))
        if publish:
            self.require_role(ADMIN, "publishing")
        text, fmt = _document(request)
        done = services.workflow_import_and_publish(
            tenant=self.tenant, text=text, format=fmt, publish=publish, user=request.user
        )
        imported = done.imported
        body = {
            "workflow": s.WorkflowOut(imported.workflow).data,
            "created": imported.created,
            "format": imported.workflow.source_format,
            "converted_from_typescript": imported.legacy,
            "errors": [p.as_dict() for p in imported.result.errors],
            "warnings": [p.as_dict() for p in imported.result.warnings],
            "published_version": done.version.number if done.version else None,
        }
        return Response(body, status=201 if imported.created else 200)

    @extend_schema(
        parameters=[s.ExportQuery],
        responses={
            (200, "application/yaml"): OpenApiTypes.OBJECT,
            (200, "application/json"): OpenApiTypes.OBJECT,
        },
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        query = _valid(s.ExportQuery, request.GET)
        workflow = self.get_object()
        text = selectors.workflow_export(
            workflow=workflow, version=query.get("version"), fmt=query["format"]
        )
        kind = "application/yaml" if query["format"] == "yaml" else "application/json"
        name = slugify(workflow.name) or f"workflow-{workflow.pk}"
        if query.get("version"):
            name += f"-v{query['version']}"
        response = HttpResponse(text, content_type=f"{kind}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.{query["format"]}"'
        return response

    @extend_schema(responses=s.VersionOut(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        versions = self.get_object().versions.select_related("created_by").order_by("-number")
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(s.VersionOut(page, many=True).data)

    @extend_schema(responses=s.VersionDetailOut)
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)")
    def version(self, request, pk=None, number=None):
        version = get_object_or_404(self.get_object().versions, number=number)
        return Response(s.VersionDetailOut(version).data)

    @extend_schema(responses=s.DiffOut)
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<old>[0-9]+)/diff/(?P<new>[0-9]+)")
    def diff(self, request, pk=None, old=None, new=None):
        diff = selectors.version_diff(workflow=self.get_object(), old=int(old), new=int(new))
        return Response(diff)

    @extend_schema(request=s.RollbackIn, responses=s.WorkflowDetailOut)
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        data = _valid(s.RollbackIn, request.data)
        workflow = services.workflow_rollback(workflow=self.get_object(), number=data["version"])
        return self._detail(workflow)

    @extend_schema(request=s.EnrollIn, responses={200: s.EnrollOut, 202: s.EnrollOut})
    @action(detail=True, methods=["post"])
    def enroll(self, request, pk=None):
        data = _valid(s.EnrollIn, request.data)
        ids = [data["contact_id"]] if "contact_id" in data else data.get("contact_ids")
        outcome = services.workflow_enroll(
            workflow=self.get_object(),
            contact_ids=ids,
            filters=data.get("filters"),
            user=request.user,
        )
        body = {
            "selected": outcome.selected,
            "enrolled": outcome.enrolled,
            "skipped": outcome.selected - outcome.enrolled,
            "job": s.EnrollJobOut(outcome.job).data if outcome.job else None,
        }
        return Response(body, status=202 if outcome.job else 200)

    @extend_schema(
        responses=s.EnrollmentOut(many=True),
        parameters=[
            OpenApiParameter("status", str, enum=Enrollment.Status.values),
            OpenApiParameter("current_step", str),
            OpenApiParameter("contact", int),
            OpenApiParameter("enrolled_after", OpenApiTypes.DATETIME),
            OpenApiParameter("enrolled_before", OpenApiTypes.DATETIME),
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def enrollments(self, request, pk=None):
        queryset = selectors.enrollments_for(workflow=self.get_object())
        queryset = EnrollmentFilter(request.GET, queryset=queryset, request=request)
        if not queryset.is_valid():
            raise ValidationError(queryset.errors)
        page = self.paginate_queryset(queryset.qs)
        return self.get_paginated_response(s.EnrollmentOut(page, many=True).data)

    @extend_schema(responses=s.StatsOut)
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        return Response(selectors.workflow_stats(workflow=self.get_object()))

    @extend_schema(request=s.TestIn, responses=s.TestOut)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        data = _valid(s.TestIn, request.data)
        report = services.workflow_test(workflow=self.get_object(), **data)
        return Response(report)


def _valid(serializer_class, data, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _document(request) -> tuple[str, str | None]:
    """The uploaded file (field ``file``) or the raw body, and the format it claims."""
    upload = request.FILES.get("file") if request.content_type.startswith("multipart/") else None
    if upload is not None:
        return upload_text(upload)
    data = request.data
    if not isinstance(data, DefinitionDocument) or not data.strip():
        raise ApiError(
            "Send the workflow as the body (Content-Type application/yaml or application/json)"
            " or as a multipart file field named 'file'.",
            code="no_document",
            details=[{"field": "file", "message": "required"}],
        )
    return str(data), data.format
