"""/api/ routes of the workflows app (no trailing slashes: the Python specification's paths)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import WorkflowViewSet
from .api_enrollments import EnrollJobViewSet, EnrollmentViewSet
from .api_steps import FlatStepViewSet, WorkflowStepViewSet
from .api_typescript import TypeScriptRoutes

router = SimpleRouter(trailing_slash=False)
router.register("workflows", WorkflowViewSet, basename="api-workflow")
router.register("workflow-steps", FlatStepViewSet, basename="api-workflow-step")
router.register("enrollments", EnrollmentViewSet, basename="api-enrollment")
router.register("enroll-jobs", EnrollJobViewSet, basename="api-enroll-job")

STEP_ITEM = {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}

urlpatterns = [
    path("workflows/create", TypeScriptRoutes.as_view({"post": "ts_create"}), name="api-ts-create"),
    path("workflows/update", TypeScriptRoutes.as_view({"post": "ts_update"}), name="api-ts-update"),
    path("workflows/list", TypeScriptRoutes.as_view({"get": "ts_list"}), name="api-ts-list"),
    path("workflows/run", TypeScriptRoutes.as_view({"post": "run"}), name="api-workflow-run"),
    path(
        "workflows/<int:workflow_pk>/steps",
        WorkflowStepViewSet.as_view({"get": "list", "post": "create"}),
        name="api-step-list",
    ),
    path(
        "workflows/<int:workflow_pk>/steps/reorder",
        WorkflowStepViewSet.as_view({"post": "reorder"}),
        name="api-step-reorder",
    ),
    path(
        "workflows/<int:workflow_pk>/steps/<int:pk>",
        WorkflowStepViewSet.as_view(STEP_ITEM),
        name="api-step-detail",
    ),
    *router.urls,
]
