from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated

from accounts.access import ReadOrApiKeyOrOperator
from core.api.envelope import ok
from core.api.validation import validate_input
from integrations import services
from integrations.api import serializers as s
from integrations.selectors import integration_get, integration_list

INTEGRATION_ID = OpenApiParameter(
    "integration_id",
    type=str,
    location=OpenApiParameter.PATH,
    description="Integration id, e.g. salesforce",
    examples=[OpenApiExample("Salesforce", value="salesforce")],
)


class IntegrationViewSet(viewsets.ViewSet):
    """The catalog. Anyone signed in reads it; API keys and operators change it."""

    permission_classes = [IsAuthenticated, ReadOrApiKeyOrOperator]

    def _context(self) -> dict:
        return {"request": self.request}

    @extend_schema(
        operation_id="integrations_list",
        parameters=[
            OpenApiParameter("category", str, required=False, description="e.g. crm, payment, database"),
            OpenApiParameter(
                "status", enum=["active", "inactive"], required=False, description="Default: active"
            ),
            OpenApiParameter("q", str, required=False, description="Searches name and description"),
        ],
        responses=s.IntegrationListEnvelope,
    )
    def list(self, request):
        query = validate_input(s.IntegrationListQuery, request.query_params)
        integrations = integration_list(
            category=query.get("category"), status=query.get("status", "active"), q=query.get("q")
        )
        items = s.IntegrationListItemOutput(integrations, many=True, context=self._context()).data
        return ok(integrations=items, total=len(items))

    @extend_schema(
        operation_id="integrations_create",
        request=s.IntegrationDocumentInput,
        responses={201: s.IntegrationSavedEnvelope},
    )
    def create(self, request):
        integration = services.integration_create(document=request.data)
        return ok(
            201,
            message="Integration created successfully",
            integration=s.IntegrationOutput(integration, context=self._context()).data,
        )

    @extend_schema(
        operation_id="integrations_retrieve", parameters=[INTEGRATION_ID], responses=s.IntegrationEnvelope
    )
    def retrieve(self, request, integration_id: str):
        integration = integration_get(integration_id=integration_id)
        return ok(integration=s.IntegrationOutput(integration, context=self._context()).data)

    @extend_schema(
        operation_id="integrations_update",
        parameters=[INTEGRATION_ID],
        request=s.IntegrationDocumentInput,
        responses=s.IntegrationSavedEnvelope,
    )
    def update(self, request, integration_id: str):
        integration = integration_get(integration_id=integration_id)
        integration = services.integration_update(integration=integration, document=request.data)
        return ok(
            message="Integration updated successfully",
            integration=s.IntegrationOutput(integration, context=self._context()).data,
        )

    @extend_schema(
        operation_id="integrations_destroy",
        parameters=[INTEGRATION_ID],
        responses={200: s.IntegrationDeletedEnvelope},
    )
    def destroy(self, request, integration_id: str):
        integration = integration_get(integration_id=integration_id)
        if services.integration_delete(integration=integration):
            return ok(message="Integration deleted successfully", deleted=True)
        return ok(
            message="Integration deactivated: it has connections or ships with the catalog", deleted=False
        )

    @extend_schema(
        operation_id="integrations_auth_schema", parameters=[INTEGRATION_ID], responses=s.AuthSchemaEnvelope
    )
    def auth_schema(self, request, integration_id: str):
        integration = integration_get(integration_id=integration_id)
        return ok(
            integration=s.IntegrationSummaryOutput(integration).data,
            authMethods=s.AuthMethodSerializer(integration.auth_methods, many=True).data,
        )
