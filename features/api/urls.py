from django.urls import path

from features.api.views import (
    FeatureHandlerViewSet,
    FeatureMappingViewSet,
    FeatureRunViewSet,
    FeatureTemplateViewSet,
    FieldTypeViewSet,
)

urlpatterns = [
    path(
        "feature-templates",
        FeatureTemplateViewSet.as_view({"get": "list"}, name="Feature templates"),
        name="api-feature-templates",
    ),
    path(
        "feature-templates/<str:template_id>",
        FeatureTemplateViewSet.as_view({"get": "retrieve"}, name="Feature template"),
        name="api-feature-template-detail",
    ),
    path(
        "integrations/<str:integration_id>/feature-mappings",
        FeatureMappingViewSet.as_view({"get": "list", "post": "create"}, name="Feature mappings"),
        name="api-feature-mappings",
    ),
    path(
        "integrations/<str:integration_id>/feature-mappings/<str:mapping_id>",
        FeatureMappingViewSet.as_view(
            {"get": "retrieve", "put": "update", "delete": "destroy"}, name="Feature mapping"
        ),
        name="api-feature-mapping-detail",
    ),
    path(
        "integrations/<str:integration_id>/feature-mappings/<str:mapping_id>/preview",
        FeatureMappingViewSet.as_view({"post": "preview"}, name="Preview"),
        name="api-feature-mapping-preview",
    ),
    path(
        "user-integrations/<str:connection_id>/features/<str:mapping_id>/run",
        FeatureRunViewSet.as_view({"post": "run"}, name="Run feature"),
        name="api-feature-run",
    ),
    path(
        "feature-handlers",
        FeatureHandlerViewSet.as_view({"get": "list"}, name="Feature handlers"),
        name="api-feature-handlers",
    ),
    path(
        "field-types", FieldTypeViewSet.as_view({"get": "list"}, name="Field types"), name="api-field-types"
    ),
]
