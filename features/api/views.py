from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.access import ReadOrApiKeyOrOperator
from core.api.envelope import ok
from core.api.validation import validate_input
from core.errors import ValidationFailed
from features import selectors, services
from features.api import serializers as s
from features.handlers import KINDS, handlers_of_kind
from features.preview import feature_mapping_preview
from features.runs import feature_mapping_run
from features.vocabulary import vocabulary
from integrations.api.serializers import ProviderAnswerOutput


class FeatureTemplateViewSet(viewsets.ViewSet):
    """Legacy, read-only: feature templates (features are now added within integrations)."""

    @extend_schema(
        operation_id="feature_templates_list", responses=s.FeatureTemplateListEnvelope, deprecated=True
    )
    def list(self, request):
        return ok(features=s.FeatureTemplateOutput(selectors.feature_template_list(), many=True).data)

    @extend_schema(
        operation_id="feature_templates_retrieve", responses=s.FeatureTemplateEnvelope, deprecated=True
    )
    def retrieve(self, request, template_id=None):
        template = selectors.feature_template_get(template_id=template_id)
        return ok(feature=s.FeatureTemplateOutput(template).data)


def _mapping_arguments(data) -> dict:
    """The service's keyword arguments from a request body; shape problems become a 400."""
    if not isinstance(data, dict):
        raise ValidationFailed(["The request body must be a JSON object"])
    if "featureTemplateId" not in data:
        raise ValidationFailed(["featureTemplateId is required (null for a feature without a template)"])
    return {
        "feature_template_id": data.get("featureTemplateId"),
        "feature_template_name": data.get("featureTemplateName"),
        "field_mappings": data.get("fieldMappings"),
        "api_config": data.get("apiConfig"),
        "extra_fields": data.get("extraFields"),
        "status": data.get("status", "active"),
    }


class FeatureMappingViewSet(viewsets.ViewSet):
    """How an integration implements features. Anyone signed in reads; keys and operators write."""

    permission_classes = [IsAuthenticated, ReadOrApiKeyOrOperator]

    def get_permissions(self):
        if self.action == "preview":  # computes only, writes nothing
            return [IsAuthenticated()]
        return super().get_permissions()

    @extend_schema(operation_id="feature_mappings_list", responses=s.FeatureMappingListEnvelope)
    def list(self, request, integration_id=None):
        integration = selectors.feature_integration_get(integration_id=integration_id)
        mappings = selectors.feature_mapping_list(integration=integration)
        return ok(featureMappings=s.FeatureMappingOutput(mappings, many=True).data)

    @extend_schema(operation_id="feature_mappings_retrieve", responses=s.FeatureMappingOnlyEnvelope)
    def retrieve(self, request, integration_id=None, mapping_id=None):
        integration = selectors.feature_integration_get(integration_id=integration_id)
        mapping = selectors.feature_mapping_get(integration=integration, mapping_id=mapping_id)
        return ok(mapping=s.FeatureMappingOutput(mapping).data)

    @extend_schema(
        operation_id="feature_mappings_create",
        request=s.FeatureMappingInput,
        responses={201: s.FeatureMappingEnvelope},
    )
    def create(self, request, integration_id=None):
        integration = selectors.feature_integration_get(integration_id=integration_id)
        mapping = services.feature_mapping_create(integration=integration, **_mapping_arguments(request.data))
        return ok(
            201, mapping=s.FeatureMappingOutput(mapping).data, message="Feature mapping created successfully"
        )

    @extend_schema(
        operation_id="feature_mappings_update",
        request=s.FeatureMappingInput,
        responses=s.FeatureMappingEnvelope,
    )
    def update(self, request, integration_id=None, mapping_id=None):
        integration = selectors.feature_integration_get(integration_id=integration_id)
        mapping = selectors.feature_mapping_get(integration=integration, mapping_id=mapping_id)
        mapping = services.feature_mapping_update(mapping=mapping, **_mapping_arguments(request.data))
        return ok(
            mapping=s.FeatureMappingOutput(mapping).data, message="Feature mapping updated successfully"
        )

    @extend_schema(operation_id="feature_mappings_delete", responses=s.MessageEnvelope)
    def destroy(self, request, integration_id=None, mapping_id=None):
        integration = selectors.feature_integration_get(integration_id=integration_id)
        mapping = selectors.feature_mapping_get(integration=integration, mapping_id=mapping_id)
        services.feature_mapping_delete(mapping=mapping)
        return ok(message="Feature mapping deleted successfully")

    @extend_schema(
        operation_id="feature_mappings_preview", request=s.PreviewInput, responses=s.PreviewEnvelope
    )
    def preview(self, request, integration_id=None, mapping_id=None):
        integration = selectors.feature_integration_get(integration_id=integration_id)
        mapping = selectors.feature_mapping_get(integration=integration, mapping_id=mapping_id)
        if not isinstance(request.data, dict):
            raise ValidationFailed(["The request body must be a JSON object"])
        data = validate_input(s.PreviewInput, request.data)
        return ok(**feature_mapping_preview(mapping=mapping, user_input=data.get("input") or {}))


class FeatureHandlerViewSet(viewsets.ViewSet):
    @extend_schema(
        operation_id="feature_handlers_list",
        parameters=[OpenApiParameter("kind", enum=list(KINDS), required=False)],
        responses=s.HandlerListEnvelope,
    )
    def list(self, request):
        query = validate_input(s.HandlerListQuery, request.query_params)
        handlers = [h.describe() for h in handlers_of_kind(query.get("kind"))]
        # The order handlers run in for each field (see features/preview.py).
        order = ["adminValue/overrides", "valueHandler", "fieldType", "validationHandler", "submitHandler"]
        return ok(handlers=handlers, order=order)


class FieldTypeViewSet(viewsets.ViewSet):
    @extend_schema(operation_id="field_types_list", responses=s.FieldTypesEnvelope)
    def list(self, request):
        return ok(**vocabulary())


class FeatureRunViewSet(viewsets.ViewSet):
    """Running a feature through a connection: API keys and the connection's owner."""

    throttle_classes = ()  # a run is a proxied call, limited per connection by PROXY_RATE

    @extend_schema(
        operation_id="feature_mappings_run",
        description=(
            "Runs the mapping on `input` exactly as the preview does (admin value or input, value handler, "
            "type check, validation handler, submit handler), then sends the request through the "
            "connection with the proxy's rules, and answers the provider's result as the proxy does. "
            "Nothing is sent when a field is invalid: 400 with every field error in `errors`. 404 when "
            "the mapping is not one of the connection's integration; 409 for an inactive mapping or "
            "connection; 429 past PROXY_RATE."
        ),
        request=s.PreviewInput,
        responses=ProviderAnswerOutput,
    )
    def run(self, request, connection_id=None, mapping_id=None):
        if not isinstance(request.data, dict):
            raise ValidationFailed(["The request body must be a JSON object"])
        data = validate_input(s.PreviewInput, request.data)
        result = feature_mapping_run(
            actor=request.user,
            connection_id=connection_id,
            mapping_id=mapping_id,
            user_input=data.get("input") or {},
        )
        return Response(result)
