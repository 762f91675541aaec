"""Everything under /api/: the apps' API routes, the OpenAPI schema and its docs page."""

from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularSwaggerView,
    SpectacularYAMLAPIView,
)

from .errors import not_found_view
from .reference import CatalogView, DataDictionaryView, DefinitionSchemaView

urlpatterns = [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="api-openapi-json"),
    path("openapi.yaml", SpectacularYAMLAPIView.as_view(), name="api-openapi-yaml"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-openapi-json"), name="api-docs"),
    path("schema", DataDictionaryView.as_view(), name="api-data-dictionary"),
    path("catalog", CatalogView.as_view(), name="api-catalog"),
    path("definition-schema", DefinitionSchemaView.as_view(), name="api-definition-schema"),
    path("", include("workflows.api_urls")),
    path("", include("prompts.api_urls")),
    # Anything else under /api/ is a 404 in the API's error shape, not an HTML page.
    re_path(r"^.*$", not_found_view),
]
