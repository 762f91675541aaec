"""Prompt library API: CRUD (an edit is a new version), versions, activate/archive, try-it.

Thin views over prompts/services.py; roles: viewer reads, editor writes drafts and tests,
admin activates, archives and deletes.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.tenancy import ADMIN
from api.views import TenantViewSet

from . import services
from .models import Prompt

WRITABLE = [
    "name",
    "category",
    "system_prompt_text",
    "user_prompt_text",
    "model_name",
    "provider",
    "generation_config",
    "template_variables",
    "status",
]


class PromptOut(serializers.ModelSerializer):
    class Meta:
        model = Prompt
        fields = ["id", "version", *WRITABLE, "created_at", "updated_at"]


class PromptIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    system_prompt_text = serializers.CharField()
    user_prompt_text = serializers.CharField(required=False, allow_blank=True, default="")
    model_name = serializers.CharField(max_length=100, required=False, default="")
    provider = serializers.ChoiceField(Prompt.Provider.choices, required=False, default="")
    generation_config = serializers.DictField(required=False, default=dict)
    template_variables = serializers.ListField(
        child=serializers.CharField(), required=False, default=list
    )
    status = serializers.ChoiceField(Prompt.Status.choices, required=False, default="active")


class PromptEditIn(serializers.Serializer):
    """Fields of the next version (unchanged ones are copied from this one)."""

    category = serializers.CharField(max_length=100, required=False, allow_blank=True)
    system_prompt_text = serializers.CharField(required=False)
    user_prompt_text = serializers.CharField(required=False, allow_blank=True)
    model_name = serializers.CharField(max_length=100, required=False)
    provider = serializers.ChoiceField(Prompt.Provider.choices, required=False)
    generation_config = serializers.DictField(required=False)
    template_variables = serializers.ListField(child=serializers.CharField(), required=False)
    status = serializers.ChoiceField(Prompt.Status.choices, required=False, default="draft")


class PromptTestIn(serializers.Serializer):
    variables = serializers.DictField(required=False, default=dict)
    input = serializers.CharField(required=False, allow_blank=True, default="")


class PromptTestOut(serializers.Serializer):
    status = serializers.CharField()
    output = serializers.JSONField(allow_null=True)
    raw_output = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    model = serializers.CharField()
    input_tokens = serializers.IntegerField(allow_null=True)
    output_tokens = serializers.IntegerField(allow_null=True)
    tokens = serializers.IntegerField(allow_null=True)
    cost = serializers.CharField(allow_null=True, help_text="USD")
    duration_ms = serializers.IntegerField(allow_null=True)
    log_id = serializers.IntegerField()


class PromptViewSet(mixins.ListModelMixin, TenantViewSet):
    """Every version of every prompt of the tenant; ``?name=`` narrows to one prompt."""

    lookup_value_regex = "[0-9]+"
    serializer_class = PromptOut
    filterset_fields = ["name", "status", "category"]
    action_roles = {"activate": ADMIN, "archive": ADMIN, "destroy": ADMIN}

    def get_queryset(self):
        return Prompt.objects.filter(tenant=self.tenant).order_by("name", "-version")

    def get_object(self) -> Prompt:
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    @extend_schema(request=PromptIn, responses={201: PromptOut})
    def create(self, request):
        data = _valid(PromptIn, request.data)
        prompt = services.prompt_create(tenant=self.tenant, **data)
        return Response(PromptOut(prompt).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=PromptOut)
    def retrieve(self, request, pk=None):
        return Response(PromptOut(self.get_object()).data)

    @extend_schema(
        request=PromptEditIn,
        responses={201: PromptOut},
        description="Prompts are never edited in place: this makes the next version (a draft "
        "unless status says otherwise) and answers with it.",
    )
    def update(self, request, pk=None):
        return self.new_version(request, pk)

    @extend_schema(request=PromptEditIn, responses={201: PromptOut})
    def partial_update(self, request, pk=None):
        return self.new_version(request, pk)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.prompt_delete(prompt=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["get"], responses=PromptOut(many=True))
    @extend_schema(methods=["post"], request=PromptEditIn, responses={201: PromptOut})
    @action(detail=True, methods=["get", "post"])
    def versions(self, request, pk=None):
        prompt = self.get_object()
        if request.method == "POST":
            return self.new_version(request, pk)
        siblings = self.get_queryset().filter(name=prompt.name)
        page = self.paginate_queryset(siblings)
        return self.get_paginated_response(PromptOut(page, many=True).data)

    def new_version(self, request, pk) -> Response:
        data = _valid(PromptEditIn, request.data)
        if data.get("status") == Prompt.Status.ACTIVE:
            self.require_role(ADMIN, "making an active version")
        prompt = services.prompt_new_version(prompt=self.get_object(), **data)
        return Response(PromptOut(prompt).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=PromptOut)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        return Response(PromptOut(services.prompt_activate(prompt=self.get_object())).data)

    @extend_schema(request=None, responses=PromptOut)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return Response(PromptOut(services.prompt_archive(prompt=self.get_object())).data)

    @extend_schema(request=PromptTestIn, responses=PromptTestOut)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        data = _valid(PromptTestIn, request.data)
        log = services.prompt_try(
            prompt=self.get_object(),
            variables=data["variables"],
            user_input=data["input"],
            user=request.user,
        )
        return Response(
            {
                "status": log.status,
                "output": log.parsed_output,
                "raw_output": log.raw_output,
                "error": log.error_message,
                "model": log.model_name,
                "input_tokens": log.input_tokens,
                "output_tokens": log.output_tokens,
                "tokens": log.token_usage,
                "cost": str(log.cost) if log.cost is not None else None,
                "duration_ms": log.duration_ms,
                "log_id": log.pk,
            }
        )


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
