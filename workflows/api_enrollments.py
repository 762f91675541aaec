"""Enrollments API: detail, exit, retry, step logs, the PHP plan's run log; enroll job progress."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from api.tenancy import ADMIN, EDITOR
from api.views import TenantViewSet
from engine.runtime.runlog import run_log

from . import api_serializers as s
from . import selectors, services
from .models import EnrollJob, Enrollment


class EnrollmentViewSet(TenantViewSet):
    """One enrollment: what it holds, forcing it out, and what its steps did."""

    lookup_value_regex = "[0-9]+"
    serializer_class = s.EnrollmentDetailOut
    action_roles = {"exit": ADMIN, "retry": EDITOR}

    def get_queryset(self):
        return Enrollment.objects.filter(tenant=self.tenant)

    def get_object(self) -> Enrollment:
        return selectors.enrollment_get(tenant=self.tenant, pk=self.kwargs["pk"])

    @extend_schema(responses=s.EnrollmentDetailOut)
    def retrieve(self, request, pk=None):
        enrollment = self.get_object()
        timeline = selectors.enrollment_timeline(enrollment=enrollment)
        return Response(s.EnrollmentDetailOut(enrollment, context={"timeline": timeline}).data)

    @extend_schema(request=s.ExitIn, responses=s.EnrollmentOut)
    @action(detail=True, methods=["post"])
    def exit(self, request, pk=None):
        serializer = s.ExitIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        enrollment = services.enrollment_exit_now(
            enrollment=self.get_object(), reason=serializer.validated_data["reason"]
        )
        return Response(s.EnrollmentOut(enrollment).data)

    @extend_schema(request=None, responses=s.RetryOut)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Run the failed step again (failed → active); ``409 retry_refused`` says why not."""
        enrollment = self.get_object()
        started = services.enrollment_retry(enrollment=enrollment, actor=request.user)
        body = {"step_id": started.step_id, "attempt": started.attempt, "held": started.held}
        return Response({**s.EnrollmentOut(enrollment).data, "retry": body})

    @extend_schema(responses=s.StepLogOut(many=True))
    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        enrollment = self.get_object()
        page = self.paginate_queryset(enrollment.logs.order_by("started_at", "id"))
        return self.get_paginated_response(s.StepLogOut(page, many=True).data)

    @extend_schema(responses=s.RunLogOut)
    @action(detail=True, methods=["get"])
    def runlog(self, request, pk=None):
        return Response(run_log(enrollment=self.get_object()))


class EnrollJobViewSet(TenantViewSet):
    """Progress of a background enrollment (``POST …/enroll`` answered 202 with its id)."""

    lookup_value_regex = "[0-9]+"
    serializer_class = s.EnrollJobOut

    def get_queryset(self):
        return EnrollJob.objects.filter(tenant=self.tenant)

    @extend_schema(responses=s.EnrollJobOut)
    def retrieve(self, request, pk=None):
        return Response(s.EnrollJobOut(get_object_or_404(self.get_queryset(), pk=pk)).data)
