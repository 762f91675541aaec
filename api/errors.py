"""One error shape for every API answer that is not a success (4xx and 5xx).

    {"code": "not_found", "message": "No workflow 12 in tenant 'acme'.",
     "details": [{"field": "steps[3].config.then", "path": "steps[3].config.then",
                  "line": 14, "message": "unknown step 'x'"}]}

``details`` is always a list; an entry names a request ``field`` (serializer errors) and/or
a definition ``path`` with its source ``line`` (workflow problems). Domain exceptions of the
services are mapped here, once, so views stay thin.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from engine.definition import DefinitionError, Problem

logger = logging.getLogger("api")


class ApiError(exceptions.APIException):
    """An error with our ``code``, ``message`` and ``details``; raise it from services' callers."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "bad_request",
        status_code: int = 400,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or []


def problem_details(problems: list[Problem], *, severity: str = "error") -> list[dict[str, Any]]:
    """Definition problems as error details: path, line (or None), message, severity."""
    return [
        {"path": p.path, "line": p.line, "message": p.message, "severity": severity}
        for p in problems
    ]


def error_body(code: str, message: str, details: list | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or []}


def _flatten(detail: Any, field: str = "") -> list[dict[str, Any]]:
    """DRF's nested ``{field: [msg]}`` / ``[{...}]`` errors as ``[{field, message}]``."""
    if isinstance(detail, dict):
        out: list[dict[str, Any]] = []
        for key, value in detail.items():
            if key == "non_field_errors":
                out += _flatten(value, field)
            else:
                out += _flatten(value, f"{field}.{key}" if field else str(key))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": field or None, "message": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            out += _flatten(item, f"{field}[{index}]")
        return out
    return [{"field": field or None, "message": str(detail)}]


# Domain exceptions (by class name, so this module imports no app code) → (status, code).
DOMAIN_ERRORS: dict[str, tuple[int, str]] = {
    "WorkflowBusy": (409, "workflow_busy"),
    "WorkflowNameTaken": (409, "name_taken"),
    "StepOrderError": (400, "invalid_order"),
    "ConditionError": (400, "invalid_rules"),
    "WorkflowStateError": (409, "invalid_state"),
    "EnrollmentRefused": (409, "enrollment_refused"),
    "RetryRefused": (409, "retry_refused"),
    "ManualEnrollError": (400, "invalid_selection"),
    "DryRunError": (400, "invalid_test_input"),
    "PromptInvalid": (400, "invalid_prompt"),
    "PromptNotFound": (404, "not_found"),
    "PromptInUse": (409, "prompt_in_use"),
    "CostCapReached": (402, "cost_cap_reached"),
    "RecordRefused": (400, "record_refused"),
}


def _domain(exc: Exception) -> tuple[int, str] | None:
    for klass in type(exc).__mro__:
        if klass.__name__ in DOMAIN_ERRORS:
            return DOMAIN_ERRORS[klass.__name__]
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes the one error shape."""
    response = _handle(exc)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(int(exc.wait) + 1)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        view = context.get("view")
        header = view.get_authenticate_header(context["request"]) if view else None
        if header:
            response["WWW-Authenticate"] = header
            response.status_code = 401
    return response


def _handle(exc: Exception) -> Response:
    if isinstance(exc, ApiError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, DefinitionError):
        return Response(
            error_body(
                "invalid_definition",
                "The workflow definition cannot be read; see details for where.",
                problem_details(list(exc.problems)),
            ),
            status=400,
        )
    if hasattr(exc, "result") and type(exc).__name__ == "PublishRefused":
        result = exc.result
        return Response(
            error_body(
                "publish_refused",
                f"The draft has {len(result.errors)} error(s); nothing was published.",
                problem_details(result.errors)
                + problem_details(result.warnings, severity="warning"),
            ),
            status=400,
        )
    domain = _domain(exc)
    if domain is not None:
        return Response(error_body(domain[1], str(exc)), status=domain[0])
    if isinstance(exc, IntegrityError):
        # A race with another request (two creates of one name); nothing was saved.
        logger.warning("API write refused by a database constraint: %s", exc)
        return Response(
            error_body("conflict", "The change conflicts with existing data; nothing was saved."),
            status=409,
        )
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return Response(error_body("not_found", _not_found_message(exc)), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("permission_denied", str(exc) or "Not allowed."), status=403)
    if isinstance(exc, DjangoValidationError):
        details = _flatten(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        return Response(error_body("invalid", "The request is not valid.", details), status=400)
    if isinstance(exc, exceptions.ValidationError):
        details = _flatten(exc.detail)
        message = "; ".join(
            f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details[:5]
        )
        return Response(error_body("invalid", message or "Invalid input.", details), status=400)
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        return Response(error_body(str(code), str(exc.detail)), status=exc.status_code)
    incident = uuid.uuid4().hex[:12]
    logger.exception("API request failed (incident %s)", incident)
    return Response(
        error_body(
            "server_error",
            f"Something went wrong on our side; it is logged as incident {incident}.",
        ),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _not_found_message(exc: Exception) -> str:
    text = str(exc)
    # Django's "No Workflow matches the given query." is fine; ORM errors are not for users.
    if not text or "matching query does not exist" in text:
        return "Not found (or not in your tenant)."
    return text


# A 404 must not depend on a CSRF cookie: without this a POST to a path no route matches
# answered Django's HTML "CSRF verification failed" page (the middleware checks every
# non-DRF view before it runs), not the JSON 404 docs/api.md promises.
@csrf_exempt
def not_found_view(request, *args, **kwargs) -> JsonResponse:
    """Any /api/ path that matches no route: 404 in the one error shape."""
    return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)


def _machine_facing(request) -> bool:
    """Paths whose callers are programs (the API, inbound webhooks): errors in JSON."""
    return request.path.startswith(("/api/", "/hooks/"))


def server_error_view(request, *args, **kwargs):
    """handler500: the error shape for /api/ paths, Django's plain 500 page elsewhere."""
    if not _machine_facing(request):
        return defaults.server_error(request, *args, **kwargs)
    return JsonResponse(
        error_body("server_error", "Something went wrong on our side; it is logged."), status=500
    )


def page_not_found_view(request, exception=None, *args, **kwargs):
    """handler404: the error shape for /hooks/ paths (/api/ has its own catch-all route),
    Django's page elsewhere."""
    if not _machine_facing(request):
        return defaults.page_not_found(request, exception, *args, **kwargs)
    return not_found_view(request)


def bad_request_view(request, exception=None, *args, **kwargs):
    """handler400 (a host not in ALLOWED_HOSTS, a malformed request Django refuses before any
    view): the error shape for /api/ and /hooks/ paths, Django's page elsewhere."""
    if not _machine_facing(request):
        return defaults.bad_request(request, exception, *args, **kwargs)
    message = (
        "The request was refused before it reached an endpoint: its Host header is not one "
        "this server answers to (ALLOWED_HOSTS), or the request is malformed."
    )
    return JsonResponse(error_body("bad_request", message), status=400)


def permission_denied_view(request, exception=None, *args, **kwargs):
    """handler403 outside DRF's own handling: the error shape for /api/ and /hooks/ paths."""
    if not _machine_facing(request):
        return defaults.permission_denied(request, exception, *args, **kwargs)
    return JsonResponse(error_body("permission_denied", "You may not do this here."), status=403)


def csrf_failure_view(request, reason: str = "", *args, **kwargs):
    """``CSRF_FAILURE_VIEW``: the error shape for /api/ and /hooks/ paths (DRF's views check
    CSRF themselves, for session logins only; this answers any other view there), Django's
    page elsewhere."""
    if not _machine_facing(request):
        return csrf.csrf_failure(request, reason=reason)
    return JsonResponse(
        error_body(
            "csrf_failed",
            f"CSRF check failed ({reason}): send an API token (Authorization: Bearer …), "
            "or the CSRF token with a session login.",
        ),
        status=403,
    )
