"""OpenAPI additions for every API operation: the tenant selector and the error responses."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from .tenancy import TENANT_HEADER, TENANT_PARAM


class ErrorDetailSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, required=False)
    path = serializers.CharField(required=False, help_text="definition path, e.g. steps[2].next")
    line = serializers.IntegerField(allow_null=True, required=False)
    message = serializers.CharField()
    severity = serializers.CharField(required=False)


class ErrorSerializer(serializers.Serializer):
    """The one error shape (see api.errors)."""

    code = serializers.CharField()
    message = serializers.CharField()
    details = ErrorDetailSerializer(many=True)


ERROR_CODES = ("400", "401", "403", "404", "405", "406", "409", "415", "429", "500")


class StudioAutoSchema(AutoSchema):
    """Adds ``X-Tenant`` / ``tenant`` to tenant-scoped views and the error responses to all."""

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if getattr(self.view, "tenant_scoped", True):
            params += [
                OpenApiParameter(
                    TENANT_HEADER,
                    str,
                    OpenApiParameter.HEADER,
                    description="Tenant slug or id (needed when you belong to several)",
                ),
                OpenApiParameter(TENANT_PARAM, str, description="Same as the X-Tenant header"),
            ]
        return params

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction == "response":
            for code in ERROR_CODES:
                if code not in responses:
                    responses[code] = self._get_response_for_code(ErrorSerializer, code)
        return responses
