from django.urls import path

from features.api.views import (
    FeatureHandlerViewSet,
    FeatureMappingViewSet,
    FeatureRunViewSet,
    FeatureTemplateViewSet,
    FieldTypeViewSet,
)

urlpatterns = [
    path("feature-templates", FeatureTemplateViewSet.as_view({"get": "list"}), name="api-feature-templates"),
    path(
        "feature-templates/<str:template_id>",
        FeatureTemplateViewSet.as_view({"get": "retrieve"}),
        name="api-feature-template-detail",
    ),
    path(
        "integrations/<str:integration_id>/feature-mappings",
        FeatureMappingViewSet.as_view({"get": "list", "post": "create"}),
        name="api-feature-mappings",
    ),
    path(
        "integrations/<str:integration_id>/feature-mappings/<str:mapping_id>",
        FeatureMappingViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
        name="api-feature-mapping-detail",
    ),
    path(
        "integrations/<str:integration_id>/feature-mappings/<str:mapping_id>/preview",
        FeatureMappingViewSet.as_view({"post": "preview"}),
        name="api-feature-mapping-preview",
    ),
    path(
        "user-integrations/<str:connection_id>/features/<str:mapping_id>/run",
        FeatureRunViewSet.as_view({"post": "run"}),
        name="api-feature-run",
    ),
    path("feature-handlers", FeatureHandlerViewSet.as_view({"get": "list"}), name="api-feature-handlers"),
    path("field-types", FieldTypeViewSet.as_view({"get": "list"}), name="api-field-types"),
]
