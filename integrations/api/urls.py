from django.urls import path

from integrations.api.views import IntegrationViewSet

urlpatterns = [
    path(
        "integrations",
        IntegrationViewSet.as_view({"get": "list", "post": "create"}, name="Integrations"),
        name="api-integrations",
    ),
    path(
        "integrations/<str:integration_id>",
        IntegrationViewSet.as_view(
            {"get": "retrieve", "put": "update", "delete": "destroy"}, name="Integration"
        ),
        name="api-integration-detail",
    ),
    path(
        "integrations/<str:integration_id>/auth-schema",
        # Named, so the browsable API's breadcrumbs read Integrations / Integration / Auth schema.
        IntegrationViewSet.as_view({"get": "auth_schema"}, name="Auth schema"),
        name="api-integration-auth-schema",
    ),
]
