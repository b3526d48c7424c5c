from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from connections.api.representations import oauth_state
from connections.models import AuditEvent, CheckRun, Connection, ProxyCall
from connections.proxy import METHODS
from connections.selectors import (
    HISTORY_LIMIT,
    MAX_PAGE_SIZE,
    connection_credentials,
    connection_credentials_masked,
    connection_secrets_visible_to,
)
from core.api.envelope import envelope
from core.api.fields import StatusField, TextField, TimestampField
from core.api.validation import validate_input

# --- Input


def _object_field(name: str, **kwargs) -> serializers.DictField:
    return serializers.DictField(error_messages={"not_a_dict": f"{name} must be an object"}, **kwargs)


class ConnectInput(serializers.Serializer):
    """userId is required for API keys and operators; a signed-in end user may leave it out."""

    userId = TextField(max_length=64)
    integrationId = TextField(max_length=64)
    authMethodId = TextField(max_length=64)
    connectionName = TextField(max_length=200, required=False, allow_blank=True)
    configuredVariables = _object_field("configuredVariables", required=False)
    credentials = _object_field("credentials")

    def __init__(self, *args, user_id_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["userId"].required = user_id_required


class ConnectionUpdateInput(serializers.Serializer):
    connectionName = TextField(max_length=200, required=False, allow_blank=True)
    authMethodId = TextField(max_length=64, required=False)
    authMethodLabel = TextField(max_length=200, required=False)
    configuredVariables = _object_field("configuredVariables", required=False)
    credentials = _object_field(
        "credentials",
        required=False,
        help_text="Re-encrypted. A password or secret field omitted or left empty keeps its stored value.",
    )
    status = StatusField(choices=Connection.Status.choices)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [f"{name} cannot be updated"] for name in unknown})
        return super().to_internal_value(data)


class OAuthStartInput(serializers.Serializer):
    """userId is required for API keys and operators; a signed-in end user may leave it out."""

    userId = serializers.CharField(max_length=64)
    integrationId = serializers.CharField(max_length=64)
    authMethodId = serializers.CharField(max_length=64)
    connectionName = serializers.CharField(max_length=200, required=False, allow_blank=True)
    configuredVariables = _object_field("configuredVariables", required=False)
    connectionId = serializers.CharField(
        max_length=40,
        required=False,
        help_text="Reconnect this connection: it keeps its id, name and history",
    )
    returnUrl = serializers.CharField(
        max_length=2000,
        required=False,
        help_text="Where the user lands afterwards, with connectionId and status added; must match "
        "OAUTH_RETURN_URL_ALLOWLIST (or be a path on this app)",
    )

    def __init__(self, *args, user_id_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["userId"].required = user_id_required


class OAuthAppInput(serializers.Serializer):
    clientId = serializers.CharField(max_length=500)
    clientSecret = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Encrypted; never returned. Omitted or empty keeps the stored one.",
    )


class CheckRunListQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=HISTORY_LIMIT)


class MyConnectionsQuery(serializers.Serializer):
    userId = TextField(max_length=64, required=False)
    status = StatusField(choices=Connection.Status.choices)
    integrationId = TextField(max_length=64, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False)
    cursor = serializers.CharField(max_length=200, required=False)
    offset = serializers.IntegerField(min_value=0, required=False, default=0)


class ConnectionDeleteQuery(serializers.Serializer):
    permanent = serializers.BooleanField(required=False, default=False)


# --- Output


class _IntegrationSummary(serializers.Serializer):
    displayName = serializers.CharField(source="display_name")
    category = serializers.CharField()
    iconUrl = serializers.CharField(source="icon_url")


class _IntegrationDetail(_IntegrationSummary):
    description = serializers.CharField()


class _OAuthState(serializers.Serializer):
    scopes = serializers.ListField(child=serializers.CharField(), help_text="Scopes the provider granted")
    expiresAt = TimestampField(allow_null=True, help_text="When the access token expires (null: it does not)")
    hasRefreshToken = serializers.BooleanField()
    needsReconnect = serializers.BooleanField(help_text="The provider refused the grant: sign in again")
    reconnectReason = serializers.CharField(
        allow_null=True, help_text="The provider's reason, when needsReconnect"
    )


class _Credentials(serializers.Serializer):
    encrypted = serializers.CharField(
        help_text="The stored token: v1.<key id>.<nonce and AES-256-GCM ciphertext>"
    )
    decrypted = serializers.DictField(help_text="Password and secret fields are masked as ••••••••••••")


class ConnectionCreatedOutput(serializers.ModelSerializer):
    connectionId = serializers.CharField(source="connection_id")
    userId = TextField(source="user.user_id")
    integrationId = TextField(source="integration_id")
    integrationName = serializers.CharField(source="integration.display_name")
    connectionName = TextField(source="connection_name")
    authMethodId = TextField(source="auth_method_id")
    authMethodLabel = TextField(source="auth_method_label")
    createdAt = TimestampField(source="created_at")

    class Meta:
        model = Connection
        fields = [
            "connectionId",
            "userId",
            "integrationId",
            "integrationName",
            "connectionName",
            "authMethodId",
            "authMethodLabel",
            "status",
            "createdAt",
        ]


class AccountOutput(serializers.Serializer):
    accountId = serializers.CharField(help_text="The account's id at the provider")
    displayName = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)


class ConnectionListItemOutput(ConnectionCreatedOutput):
    """Secrets always masked. With context ``reveal_secrets_to`` (an actor), the detail view
    shows that actor the decrypted values if they may see them."""

    # DictField, not JSONField: the schema (and Swagger's example) says object, not "string".
    configuredVariables = serializers.DictField(
        source="configured_variables", help_text="The auth method's additionalFields, by name"
    )
    credentials = serializers.SerializerMethodField()
    lastTestStatus = serializers.CharField(source="last_test_status", allow_null=True)
    lastTestMessage = serializers.CharField(source="last_test_message", allow_null=True)
    lastTestDate = TimestampField(source="last_test_date", allow_null=True)
    consecutiveFailures = serializers.IntegerField(
        source="consecutive_failures", help_text="Tests failed in a row since the last success"
    )
    needsAttention = serializers.BooleanField(
        source="needs_attention",
        help_text="True after CONNECTION_ATTENTION_AFTER (default 3) failed tests in a row",
    )
    updatedAt = TimestampField(source="updated_at")
    account = AccountOutput(
        allow_null=True,
        help_text="The connected account, read after a successful test or sign-in when the integration "
        "says how (its identity block); null until then",
    )
    integration = _IntegrationSummary()
    oauth = serializers.SerializerMethodField(
        help_text="Sign-in (OAuth 2.0 authorization code) connections only; null for the others"
    )

    class Meta(ConnectionCreatedOutput.Meta):
        fields = ConnectionCreatedOutput.Meta.fields[:-1] + [
            "configuredVariables",
            "credentials",
            "lastTestStatus",
            "lastTestMessage",
            "lastTestDate",
            "consecutiveFailures",
            "needsAttention",
            "account",
            "oauth",
            "createdAt",
            "updatedAt",
            "integration",
        ]

    @extend_schema_field(_OAuthState(allow_null=True))
    def get_oauth(self, connection: Connection) -> dict | None:
        return oauth_state(connection)

    @extend_schema_field(_Credentials)
    def get_credentials(self, connection: Connection) -> dict:
        decrypted = connection_credentials(connection=connection)
        actor = self.context.get("reveal_secrets_to")
        if actor is None or not connection_secrets_visible_to(actor=actor, connection=connection):
            decrypted = connection_credentials_masked(connection=connection, credentials=decrypted)
        return {"encrypted": connection.credentials_encrypted, "decrypted": decrypted}


class ConnectionDetailOutput(ConnectionListItemOutput):
    integration = _IntegrationDetail()


class ConnectionUpdatedOutput(serializers.ModelSerializer):
    connectionId = serializers.CharField(source="connection_id")
    connectionName = TextField(source="connection_name")
    updatedAt = TimestampField(source="updated_at")

    class Meta:
        model = Connection
        fields = ["connectionId", "connectionName", "updatedAt"]


class ProxyInput(serializers.Serializer):
    PATH_MAX_LENGTH = 2000

    method = serializers.ChoiceField(
        choices=METHODS, error_messages={"invalid_choice": f"method must be one of {', '.join(METHODS)}"}
    )
    path = serializers.CharField(
        max_length=PATH_MAX_LENGTH,
        trim_whitespace=False,
        help_text="Relative to the connection's base URL (/contacts?limit=5); absolute URLs, //host, @, "
        "backslashes and dot segments (also encoded) are refused",
    )
    query = _object_field(
        "query", required=False, default=dict, help_text="Query parameters; a list value repeats the name"
    )
    headers = _object_field(
        "headers",
        child=serializers.CharField(trim_whitespace=False, allow_blank=True),
        required=False,
        default=dict,
        help_text="Forwarded, except hop-by-hop headers, Authorization, Cookie, Host and Content-Length",
    )
    body = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text="JSON is sent as JSON; a string is sent as it is (set its Content-Type in headers)",
    )


_PROXY_INPUT_FIELDS = ("method", "path", "query", "headers", "body")


def proxy_input(data) -> dict:
    """``data`` validated as ``ProxyInput`` validates it. A host product calls the proxy for each
    request it makes, and building the serializer cost as much as sending the request: the usual
    shape (a known method, an ASCII path, text headers) is checked here, to the same result, and
    anything else goes through the serializer, which gives the error messages."""
    if type(data) is not dict:
        return validate_input(ProxyInput, data)
    method, path = data.get("method"), data.get("path")
    query, headers = data.get("query", {}), data.get("headers", {})
    if not (
        type(method) is str
        and method in METHODS
        and type(path) is str
        and 0 < len(path) <= ProxyInput.PATH_MAX_LENGTH
        and path.isascii()
        and "\x00" not in path
        and type(query) is dict
        and type(headers) is dict
        and all(type(value) is str and "\x00" not in value and value.isascii() for value in headers.values())
    ):
        return validate_input(ProxyInput, data)
    # Query values and the body are any JSON the parser accepted, as ProxyInput leaves them.
    return {
        "method": method,
        "path": path,
        "query": dict(query),
        "headers": dict(headers),
        "body": data.get("body"),
    }


class ProxyCallOutput(serializers.ModelSerializer):
    """One proxied call: never a body, a header or a query value."""

    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    durationMs = serializers.IntegerField(source="duration_ms")
    featureMappingId = serializers.CharField(source="feature_mapping_id")
    createdAt = TimestampField(source="created_at")

    class Meta:
        model = ProxyCall
        fields = ["method", "path", "statusCode", "durationMs", "attempts", "error", "actor"]
        fields += ["featureMappingId", "createdAt"]


class AuditEventOutput(serializers.ModelSerializer):
    createdAt = TimestampField(source="created_at")
    fields = serializers.ListField(
        child=serializers.CharField(), help_text="Names of the fields involved, never values"
    )

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "fields", "createdAt"]


class CheckRunOutput(serializers.ModelSerializer):
    """A test run as pages poll it (CONTRACTS.md). Never holds a credential."""

    id = serializers.CharField(source="run_id")
    connectionId = serializers.CharField(source="connection.connection_id")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    responseTime = serializers.IntegerField(
        source="response_time_ms", allow_null=True, help_text="Milliseconds"
    )
    errorMessage = serializers.CharField(source="error_message", allow_null=True)
    queuedAt = TimestampField(source="queued_at")
    startedAt = TimestampField(source="started_at", allow_null=True)
    finishedAt = TimestampField(source="finished_at", allow_null=True)

    class Meta:
        model = CheckRun
        fields = [
            "id",
            "connectionId",
            "status",
            "statusCode",
            "responseTime",
            "message",
            "errorMessage",
            "endpoint",
            "queuedAt",
            "startedAt",
            "finishedAt",
        ]


class CheckRunQueuedOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="run_id")
    statusUrl = serializers.SerializerMethodField(help_text="GET it until status is success or error")

    class Meta:
        model = CheckRun
        fields = ["id", "status", "statusUrl"]

    def get_statusUrl(self, run: CheckRun) -> str:
        return reverse("api-connection-test-detail", args=[run.run_id])


class CheckResultOutput(serializers.ModelSerializer):
    """The seed's ``testResult``: responseTime on success, errorMessage on failure."""

    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    responseTime = serializers.IntegerField(source="response_time_ms", allow_null=True, required=False)
    errorMessage = serializers.CharField(source="error_message", required=False)
    timestamp = TimestampField(source="started_at")

    class Meta:
        model = CheckRun
        fields = ["status", "statusCode", "responseTime", "errorMessage", "timestamp", "endpoint"]

    def to_representation(self, run: CheckRun) -> dict:
        data = super().to_representation(run)
        data.pop("errorMessage" if run.status == CheckRun.Status.SUCCESS else "responseTime")
        return data


# --- Envelopes (OpenAPI)


OAuthStartEnvelope = envelope(
    "OAuthStartEnvelope",
    authorizationUrl=serializers.CharField(
        help_text="Send the user's browser here: the provider's consent page"
    ),
    expiresAt=TimestampField(help_text="The sign-in must finish before this (10 minutes)"),
)


class OAuthAppOutput(serializers.Serializer):
    integrationId = serializers.CharField()
    authMethodId = serializers.CharField()
    configured = serializers.BooleanField()
    source = serializers.CharField(allow_null=True, help_text="admin, environment, or null when not set up")
    clientId = serializers.CharField(allow_null=True)
    hasClientSecret = serializers.BooleanField()
    callbackUrl = serializers.CharField(help_text="Register this redirect URI at the provider")


OAuthAppEnvelope = envelope("OAuthAppEnvelope", oauthApp=OAuthAppOutput())


ConnectionCreatedEnvelope = envelope(
    "ConnectionCreatedEnvelope",
    message=serializers.CharField(),
    connectionId=serializers.CharField(),
    connection=ConnectionCreatedOutput(),
)


class _Stats(serializers.Serializer):
    active = serializers.IntegerField()
    inactive = serializers.IntegerField()
    total = serializers.IntegerField()
    recent = serializers.IntegerField(help_text="Connections created in the last 7 days")


MyConnectionsEnvelope = envelope(
    "MyConnectionsEnvelope",
    connections=ConnectionListItemOutput(many=True),
    total=serializers.IntegerField(help_text="Connections matching the filters (on every page)"),
    stats=_Stats(help_text="All the user's connections, whatever the filters"),
    nextCursor=serializers.CharField(
        required=False,
        allow_null=True,
        help_text="Send as cursor for the next page; null or absent on the last page",
    ),
)


ConnectionEnvelope = envelope("ConnectionEnvelope", connection=ConnectionDetailOutput())


ConnectionUpdatedEnvelope = envelope(
    "ConnectionUpdatedEnvelope",
    message=serializers.CharField(),
    connection=ConnectionUpdatedOutput(),
)


ConnectionDeletedEnvelope = envelope(
    "ConnectionDeletedEnvelope",
    message=serializers.CharField(),
    connectionId=serializers.CharField(),
)


ConnectionHistoryEnvelope = envelope(
    "ConnectionHistoryEnvelope",
    history=AuditEventOutput(many=True),
    proxyCalls=ProxyCallOutput(many=True, help_text="The newest calls made through the connection"),
)


CheckResultEnvelope = envelope(
    "CheckResultEnvelope",
    message=serializers.CharField(),
    testResult=CheckResultOutput(),
)


CheckRunQueuedEnvelope = envelope(
    "CheckRunQueuedEnvelope",
    message=serializers.CharField(),
    testRun=CheckRunQueuedOutput(),
)


CheckRunEnvelope = envelope("CheckRunEnvelope", testRun=CheckRunOutput())


CheckRunListEnvelope = envelope("CheckRunListEnvelope", testRuns=CheckRunOutput(many=True))


StatusMapEnvelope = envelope(
    "StatusMapEnvelope",
    integrationId=serializers.ChoiceField(
        choices=["connected", "not-connected", "invalid"],
        help_text="One key per integration id asked (this name stands for each of them)",
    ),
)


AccountEnvelope = envelope(
    "AccountEnvelope",
    email=serializers.CharField(allow_null=True),
    displayName=serializers.CharField(allow_null=True),
    accountId=serializers.CharField(allow_null=True),
    connectionId=serializers.CharField(help_text="The active connection the account was read from"),
)


class ConnectSessionInput(serializers.Serializer):
    userId = TextField(max_length=64)
    integrationIds = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=200,
        help_text="Only these integrations; left out: every active one",
    )
    connectionId = serializers.CharField(
        max_length=40, required=False, help_text="Edit or reconnect this one connection of the user's"
    )
    returnUrl = serializers.CharField(
        max_length=2000, required=False, help_text="Must match CONNECT_RETURN_URL_ALLOWLIST"
    )


ConnectSessionEnvelope = envelope(
    "ConnectSessionEnvelope",
    token=serializers.CharField(help_text="One-time; only its digest is stored"),
    url=serializers.CharField(help_text="Open it in the user's browser (a new tab, a popup or a frame)"),
    expiresAt=serializers.CharField(help_text="30 minutes from now (CONNECT_SESSION_MINUTES)"),
)


class TokenImportInput(serializers.Serializer):
    """Seed 004's import body; ``integrationId`` is its ``appKey``."""

    integrationId = serializers.CharField(max_length=64)
    authMethodId = serializers.CharField(
        max_length=64, required=False, help_text="An OAuth sign-in method; default: the integration's first"
    )
    scopes = serializers.ListField(
        child=serializers.CharField(max_length=500), max_length=200, help_text="As granted; may be empty"
    )
    accessToken = serializers.CharField(max_length=8192, trim_whitespace=False, write_only=True)
    refreshToken = serializers.CharField(
        max_length=8192, required=False, trim_whitespace=False, write_only=True, help_text="Leave out if none"
    )
    expiresAt = serializers.IntegerField(
        min_value=0,
        required=False,
        help_text="Epoch milliseconds; leave out for a token that does not expire",
    )
    connectionName = serializers.CharField(max_length=200, required=False, allow_blank=True)
    configuredVariables = _object_field("configuredVariables", required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            if "oauth1Token" in data or "accessTokenSecret" in data:
                raise serializers.ValidationError(
                    {
                        "non_field_errors": [
                            "OAuth 1 tokens (oauth1Token, accessTokenSecret) are not supported"
                        ]
                    }
                )
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [f"{name} is not a field of an import"] for name in unknown}
                )
        return super().to_internal_value(data)


TokenImportEnvelope = envelope(
    "TokenImportEnvelope",
    message=serializers.CharField(),
    connectionId=serializers.CharField(),
    connection=serializers.DictField(help_text="As in my-connections: every secret masked"),
    testRun=CheckRunQueuedOutput(allow_null=True, help_text="The test queued for a worker"),
)
