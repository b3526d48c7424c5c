from django.urls import path

from integrations.api.views import IntegrationViewSet

urlpatterns = [
    path(
        "integrations", IntegrationViewSet.as_view({"get": "list", "post": "create"}), name="api-integrations"
    ),
    path(
        "integrations/<str:integration_id>",
        IntegrationViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"}),
        name="api-integration-detail",
    ),
    path(
        "integrations/<str:integration_id>/auth-schema",
        IntegrationViewSet.as_view({"get": "auth_schema"}),
        name="api-integration-auth-schema",
    ),
]
