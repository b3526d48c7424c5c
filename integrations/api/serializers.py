"""Shapes of the catalog API. Responses are built from the integration's document; the request
body of POST/PUT is a document too, validated by ``integrations.documents`` (these serializers
describe it for OpenAPI)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.envelope import envelope
from core.api.fields import StatusField, TimestampField
from integrations.models import Integration

FIELD_TYPES = ["string", "text", "password", "url", "email", "number", "select", "textarea"]
AUTH_METHOD_TYPES = ["OAUTH", "API-KEY", "BASIC", "BEARER", "CUSTOM"]


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]})
class ScalarField(serializers.JSONField):
    """A string, number or boolean (select option values, defaults, showWhen values)."""


class OptionSerializer(serializers.Serializer):
    value = ScalarField()
    label = serializers.CharField()


class ShowWhenSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = ScalarField()


class AuthFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=FIELD_TYPES)
    required = serializers.BooleanField(default=False)
    secret = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False)
    helpText = serializers.CharField(required=False)
    docsUrl = serializers.CharField(required=False)
    placeholder = serializers.CharField(required=False)
    pattern = serializers.CharField(
        required=False, help_text="A regular expression the whole value must match"
    )
    patternMessage = serializers.CharField(required=False)
    minLength = serializers.IntegerField(required=False)
    maxLength = serializers.IntegerField(required=False)
    default = ScalarField(required=False)
    options = OptionSerializer(many=True, required=False)
    showWhen = ShowWhenSerializer(
        required=False, help_text="Show (and require) only when field `key` has `value`"
    )


class AuthMethodSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=AUTH_METHOD_TYPES)
    label = serializers.CharField()
    description = serializers.CharField(required=False)
    fields = AuthFieldSerializer(many=True)
    additionalFields = AuthFieldSerializer(many=True, default=list)
    apply = serializers.DictField(
        help_text="How the credentials are put on a request (bearer, header, query, basic, OAuth 2.0)"
    )
    testRequest = serializers.DictField(required=False)


class IntegrationDocumentInput(serializers.Serializer):
    """The integration document (``integrations/auth_schema.schema.json``)."""

    id = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]{0,63}$")
    displayName = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    category = serializers.CharField()
    iconUrl = serializers.CharField(
        required=False, help_text="A path on this app; defaults to the app's icon"
    )
    status = serializers.ChoiceField(choices=Integration.Status.choices)
    docsUrl = serializers.URLField(required=False)
    baseUrl = serializers.CharField(
        help_text="API root; {{variables}} come from a connection's configuredVariables"
    )
    allowedHosts = serializers.ListField(child=serializers.CharField(), required=False)
    headers = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Sent with every proxied request; values may use ${user.email}, ${user.name}, "
        "${user.userId} and ${connection.<configured variable>}",
    )
    testRequest = serializers.DictField()
    authMethods = AuthMethodSerializer(many=True)


@extend_schema_field(OpenApiTypes.URI)
class AbsoluteUrlField(serializers.CharField):
    """A path on this app, answered as an absolute URL built from the request."""

    def to_representation(self, value):
        request = self.context.get("request")
        return request.build_absolute_uri(value) if request else value


class IntegrationListItemOutput(serializers.Serializer):
    id = serializers.CharField()
    displayName = serializers.CharField(source="display_name")
    description = serializers.CharField()
    category = serializers.CharField()
    iconUrl = AbsoluteUrlField(source="icon_url")
    status = serializers.CharField()
    baseUrl = serializers.CharField(source="base_url")
    authMethods = serializers.SerializerMethodField()

    def get_authMethods(self, integration: Integration) -> list[str]:
        return [method["id"] for method in integration.auth_methods]


class IntegrationOutput(IntegrationListItemOutput):
    """The whole document, plus the served icon and timestamps. Its document part can be sent
    back with PUT."""

    docsUrl = serializers.CharField(source="document.docsUrl", required=False)
    allowedHosts = serializers.ListField(
        child=serializers.CharField(), source="document.allowedHosts", required=False
    )
    headers = serializers.DictField(child=serializers.CharField(), source="document.headers", required=False)
    testRequest = serializers.DictField(source="document.testRequest")
    authMethods = AuthMethodSerializer(many=True, source="auth_methods")
    createdAt = TimestampField(source="created_at")
    updatedAt = TimestampField(source="updated_at")


class IntegrationSummaryOutput(serializers.Serializer):
    id = serializers.CharField()
    displayName = serializers.CharField(source="display_name")
    baseUrl = serializers.CharField(source="base_url")


class IntegrationListQuery(serializers.Serializer):
    category = serializers.CharField(required=False, max_length=64)
    status = StatusField(choices=Integration.Status.choices)
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)


IntegrationListEnvelope = envelope(
    "IntegrationListEnvelope",
    integrations=IntegrationListItemOutput(many=True),
    total=serializers.IntegerField(),
)


IntegrationEnvelope = envelope("IntegrationEnvelope", integration=IntegrationOutput())


IntegrationSavedEnvelope = envelope(
    "IntegrationSavedEnvelope",
    integration=IntegrationOutput(),
    message=serializers.CharField(),
)


IntegrationDeletedEnvelope = envelope(
    "IntegrationDeletedEnvelope",
    message=serializers.CharField(),
    deleted=serializers.BooleanField(help_text="False when the integration was deactivated instead"),
)


AuthSchemaEnvelope = envelope(
    "AuthSchemaEnvelope",
    integration=IntegrationSummaryOutput(),
    authMethods=AuthMethodSerializer(many=True),
)


class ProviderAnswerOutput(serializers.Serializer):
    """A provider's answer to a request sent through a connection (the proxy, a feature run).
    ``success``: it answered 2xx or 3xx."""

    success = serializers.BooleanField()
    status = serializers.IntegerField(help_text="The provider's HTTP status")
    message = serializers.CharField(required=False, help_text="For a 4xx or 5xx answer")
    headers = serializers.DictField(child=serializers.CharField())
    contentType = serializers.CharField()
    bodyEncoding = serializers.ChoiceField(choices=["json", "text", "base64"])
    body = serializers.JSONField(allow_null=True)
