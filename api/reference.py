"""Reference endpoints for the builder: the data dictionary, the step/trigger catalog and the
definition's JSON Schema."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from engine.definition import step_catalog, trigger_catalog, workflow_json_schema

from .dictionary import data_dictionary

DICTIONARY = inline_serializer(
    "DataDictionary",
    {
        "models": serializers.ListField(child=serializers.DictField()),
        "tags": serializers.ListField(child=serializers.CharField()),
    },
)
CATALOG = inline_serializer(
    "Catalog",
    {
        "triggers": serializers.ListField(child=serializers.DictField()),
        "steps": serializers.ListField(child=serializers.DictField()),
    },
)


class DataDictionaryView(APIView):
    """``GET /api/schema``: models, fields, types, choices and relations; the tenant's tags."""

    @extend_schema(responses=DICTIONARY)
    def get(self, request):
        return Response(data_dictionary(tenant=request.tenant))


class CatalogView(APIView):
    """``GET /api/catalog``: trigger kinds and step kinds with config fields and JSON Schemas."""

    tenant_scoped = False
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=CATALOG)
    def get(self, request):
        return Response({"triggers": trigger_catalog(), "steps": step_catalog()})


class DefinitionSchemaView(APIView):
    """``GET /api/definition-schema``: the JSON Schema of a whole workflow definition."""

    tenant_scoped = False
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request):
        return Response(workflow_json_schema())
