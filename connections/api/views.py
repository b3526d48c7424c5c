from dataclasses import asdict
from functools import partial, wraps

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from accounts.access import (
    IsApiKey,
    IsApiKeyOrOperator,
    acts_for_any_user,
    user_for_request,
    user_or_user_id_for_request,
)
from accounts.authentication import api_key_principal
from accounts.selectors import user_get
from connections import proxy, selectors, services, test_run_services
from connections.api import serializers as s
from connections.api.representations import connection_detail, connection_list_item, connection_list_items
from connections.connect.services import connect_session_create
from connections.models import CheckRun
from connections.oauth.clients import (
    oauth_app_save,
    oauth_callback_url,
    oauth_client_get,
    sign_in_method_or_error,
)
from connections.oauth.flow import oauth_flow_start
from connections.oauth.revocation import connection_delete_permanently_and_revoke
from connections.selectors import MAX_PAGE_SIZE, MAX_STATUS_IDS
from connections.token_import import AlreadyImported, ImportedTokens, connection_import
from core.api.envelope import error_body, ok, unnegotiated_response
from core.api.fields import iso_timestamp
from core.api.negotiation import answers_json_unnegotiated
from core.api.parsers import parse_json_body
from core.api.validation import validate_input
from core.errors import ApplicationError, ValidationFailed
from integrations.api.serializers import ProviderAnswerOutput
from integrations.selectors import integration_get

CONNECTION_ID = OpenApiParameter("connection_id", location=OpenApiParameter.PATH, description="connectionId")
UPDATABLE = "connectionName, authMethodId, authMethodLabel, configuredVariables, credentials or status"


# Whose connections: the schema says required, as it is for the API keys the schema is read by.
USER_ID_QUERY = OpenApiParameter(
    "userId",
    required=True,
    description="Required with an API key (and for operators); a signed-in end user may leave it out",
)
# What idempotency_key() accepts: 1 to 255 characters, not only spaces.
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "\\S"}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    type=IDEMPOTENCY_KEY_SCHEMA,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Forwarded to the provider; lets a POST or PATCH be retried after a 429 or 5xx.",
)


def idempotency_key(request) -> str | None:
    # From META: request.headers builds a mapping of every header first (on the proxy's hot path).
    key = request.META.get("HTTP_IDEMPOTENCY_KEY")
    if key is not None and not 1 <= len(key.strip()) <= 255:
        raise ValidationFailed(["Idempotency-Key must be 1 to 255 characters"])
    return key.strip() if key else None


def _with_etag(response, connection):
    response["ETag"] = connection.etag
    return response


class ConnectionViewSet(viewsets.ViewSet):
    """A user's connections. API keys and operators act for any user (naming them with userId);
    a signed-in end user only for themselves — anyone else's connection is "not found"."""

    @extend_schema(
        operation_id="connections_connect",
        request=s.ConnectInput,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                type=IDEMPOTENCY_KEY_SCHEMA,
                location=OpenApiParameter.HEADER,
                required=False,
                description="Retrying with the same key and body returns the first response and creates "
                "nothing; the same key with another body is refused with 409. Kept for 24 hours.",
            )
        ],
        responses={201: s.ConnectionCreatedEnvelope},
    )
    def connect(self, request):
        data = validate_input(s.ConnectInput, request.data, user_id_required=acts_for_any_user(request.user))
        user = user_for_request(request.user, data.get("userId"))
        key = idempotency_key(request)
        create = partial(
            services.connection_create,
            actor=request.user,
            user=user,
            integration_id=data["integrationId"],
            auth_method_id=data["authMethodId"],
            connection_name=data.get("connectionName"),
            configured_variables=data.get("configuredVariables"),
            credentials=data["credentials"],
        )
        if key is None:
            connection = create()
        else:
            connection = services.connection_create_idempotent(
                actor=request.user,
                idempotency_key=key,
                request_fingerprint=services.idempotency_fingerprint(request.data),
                create=create,
            )
        return ok(
            201,
            message="Connection created successfully",
            connectionId=connection.connection_id,
            connection=s.ConnectionCreatedOutput(connection).data,
        )

    @extend_schema(
        operation_id="connections_my_connections",
        description=(
            "A user's connections, oldest first; password and secret fields masked. `userId` is required "
            "for API keys and operators and implied for a signed-in end user. `total` counts the connections "
            "matching the filters (on every page). `stats` covers all the user's connections whatever the "
            "filters: `active`, `inactive`, `total`, and `recent` = created in the last 7 days.\n\n"
            f"Pages: at most `limit` items (default and most {MAX_PAGE_SIZE}). When more follow, "
            "`nextCursor` says where: send it back as `cursor` for the next page. With `limit` or `cursor` "
            "the answer always has `nextCursor` (null on the last page); without them it has it only "
            f"when the user has more than {MAX_PAGE_SIZE} matching connections."
        ),
        parameters=[
            USER_ID_QUERY,
            OpenApiParameter("status", enum=["active", "inactive"], required=False),
            OpenApiParameter("integrationId", required=False),
            OpenApiParameter(
                "limit", int, required=False, description=f"At most this many items (1–{MAX_PAGE_SIZE})"
            ),
            OpenApiParameter("cursor", required=False, description="A nextCursor from the previous page"),
            OpenApiParameter("offset", int, required=False, description="Skip this many items; default 0"),
        ],
        responses=s.MyConnectionsEnvelope,
    )
    def my_connections(self, request):
        if acts_for_any_user(request.user) and not request.query_params.get("userId"):
            raise ApplicationError("userId query parameter is required")
        query = validate_input(s.MyConnectionsQuery, request.query_params)
        page = selectors.connection_rows_for_user(
            user=user_or_user_id_for_request(request.user, query.get("userId")),
            status=query.get("status"),
            integration_id=query.get("integrationId"),
            limit=query.get("limit"),
            offset=query["offset"],
            cursor=query.get("cursor"),
        )
        body = ok(
            connections=connection_list_items(page),
            total=page.total,
            stats=asdict(page.stats),
        )
        if page.next_cursor or "limit" in query or "cursor" in query:
            body.data["nextCursor"] = page.next_cursor
        return body

    @extend_schema(
        operation_id="connections_retrieve",
        description="Decrypted credentials for the connection's owner and API keys; operators see them masked.",
        parameters=[CONNECTION_ID],
        responses=s.ConnectionEnvelope,
    )
    def retrieve(self, request, connection_id: str):
        connection = selectors.connection_get_for_actor(actor=request.user, connection_id=connection_id)
        return _with_etag(ok(connection=connection_detail(connection, actor=request.user)), connection)

    @extend_schema(
        operation_id="connections_update",
        description=(
            f"Any subset of {UPDATABLE}. A password or secret credential omitted or empty keeps its stored "
            "value; a new authMethodId needs that method's required fields. `status: active` on an inactive "
            "connection reactivates it. Send `If-Match: <ETag>` to refuse the update (412) if the connection "
            "changed since you read it."
        ),
        parameters=[
            CONNECTION_ID,
            OpenApiParameter("If-Match", location=OpenApiParameter.HEADER, required=False),
        ],
        request=s.ConnectionUpdateInput,
        responses=s.ConnectionUpdatedEnvelope,
    )
    def update(self, request, connection_id: str):
        connection = selectors.connection_get_for_actor(actor=request.user, connection_id=connection_id)
        data = validate_input(s.ConnectionUpdateInput, request.data)
        if not data:
            raise ValidationFailed([f"Nothing to update: send {UPDATABLE}"])
        changes = services.ConnectionChanges(
            connection_name=data.get("connectionName"),
            auth_method_id=data.get("authMethodId"),
            auth_method_label=data.get("authMethodLabel"),
            configured_variables=data.get("configuredVariables"),
            credentials=data.get("credentials"),
            status=data.get("status"),
        )
        connection = services.connection_update(
            connection=connection,
            actor=request.user,
            changes=changes,
            if_match=request.headers.get("If-Match"),
        )
        body = ok(
            message="Connection updated successfully", connection=s.ConnectionUpdatedOutput(connection).data
        )
        return _with_etag(body, connection)

    @extend_schema(
        operation_id="connections_delete",
        description=(
            "Soft delete: the connection becomes inactive and keeps its history; PUT status active restores it.\n\n"
            "`?permanent=true` deletes it for good: the credentials and configured variables are erased, "
            "the audit trail and test outcomes are kept without values (`GET …/history` still answers), "
            "and every other call answers 404 from then on. It cannot be undone."
        ),
        parameters=[
            CONNECTION_ID,
            OpenApiParameter(
                "permanent",
                bool,
                required=False,
                description="true: erase the credentials and values for good (default false: soft delete)",
            ),
        ],
        responses=s.ConnectionDeletedEnvelope,
    )
    def destroy(self, request, connection_id: str):
        connection = selectors.connection_get_for_actor(actor=request.user, connection_id=connection_id)
        if validate_input(s.ConnectionDeleteQuery, request.query_params)["permanent"]:
            connection_delete_permanently_and_revoke(connection=connection, actor=request.user)
            return ok(message="Connection deleted permanently", connectionId=connection.connection_id)
        services.connection_delete(connection=connection, actor=request.user)
        return ok(message="Connection deleted successfully", connectionId=connection.connection_id)

    @extend_schema(
        operation_id="connections_history",
        description=(
            "Audit trail, newest first: who (user or API key), what (field names, never values), when. "
            "Kept after a permanent delete."
        ),
        parameters=[CONNECTION_ID],
        responses=s.ConnectionHistoryEnvelope,
    )
    def history(self, request, connection_id: str):
        connection = selectors.connection_get_for_actor(
            actor=request.user, connection_id=connection_id, include_deleted=True
        )
        events = selectors.connection_history(connection=connection)
        calls = selectors.connection_proxy_calls(connection=connection)
        return ok(
            history=s.AuditEventOutput(events, many=True).data,
            proxyCalls=s.ProxyCallOutput(calls, many=True).data,
        )


class ConnectionProxyViewSet(viewsets.ViewSet):
    """Calls to the provider with the connection's credentials, for API keys and the owner."""

    # Limited per connection by PROXY_RATE: the API-wide write budget would cap a host product's
    # calls through all its connections together.
    throttle_classes = ()

    @extend_schema(
        operation_id="connections_proxy",
        description=(
            "Sends one request to the connection's base URL with its credentials applied (as its test "
            "request would be) and the integration's custom headers, and answers the provider's status, "
            "headers and body (JSON parsed, text as text, anything else base64). `success` is false for a "
            "4xx or 5xx answer, which still comes with HTTP 200; errors of the proxy itself use the "
            "envelope: 400 for a path outside the base URL or an unsendable header, 409 for an inactive "
            "connection or one needing reconnection, 429 with Retry-After past PROXY_RATE per connection, "
            "502/504 when the provider cannot be reached. 429 and 5xx answers are retried (PROXY_MAX_RETRIES) "
            "for GET, HEAD, OPTIONS, PUT and DELETE, or any method sent with an Idempotency-Key."
        ),
        parameters=[CONNECTION_ID, IDEMPOTENCY_KEY],
        request=s.ProxyInput,
        responses=ProviderAnswerOutput,
    )
    def proxy(self, request, connection_id: str):
        connection = selectors.connection_get_for_use(actor=request.user, connection_id=connection_id)
        response = proxy.connection_proxy(
            connection=connection, actor=request.user, request=_proxy_request(request, request.data)
        )
        return Response(proxy.proxy_result(response))


def _proxy_request(request, data) -> proxy.ProxyRequest:
    data = s.proxy_input(data)
    return proxy.ProxyRequest(
        method=data["method"],
        path=data["path"],
        query=data["query"],
        headers=data["headers"],
        body=data["body"],
        idempotency_key=idempotency_key(request),
    )


def _lean_json_body(request) -> dict | None:
    """The body of a POST that DRF would parse as JSON to a dict, from a caller taking JSON
    without negotiating; None for anything else (DRF then answers as it would)."""
    length = request.META.get("CONTENT_LENGTH", "")
    if not (
        request.method == "POST"
        and request.content_type == "application/json"
        and length.isdigit()
        and 0 < int(length) <= settings.API_MAX_BODY_BYTES
        and answers_json_unnegotiated(request)
    ):
        return None
    try:
        data = parse_json_body(request.body)
    except ParseError:
        return None
    return data if type(data) is dict else None


_proxy_viewset = ConnectionProxyViewSet.as_view({"post": "proxy"}, name="Proxy")
_PROXY_ALLOW = "POST, OPTIONS"  # what DRF's Allow says for the viewset


@wraps(_proxy_viewset)  # its cls, actions and csrf_exempt too: the schema and CSRF see the viewset
def connection_proxy_view(request, connection_id: str):
    """``ConnectionProxyViewSet.proxy`` without DRF's request, negotiation and response machinery
    (about a tenth of the app's CPU per call) for what host products send: a JSON POST with an API
    key, taking JSON. Anything else (a session, a browser, a body DRF would refuse, a bad key) goes
    to the viewset, which answers as before."""
    caller = api_key_principal(request)
    data = _lean_json_body(request) if caller is not None else None
    if data is None:
        return _proxy_viewset(request, connection_id=connection_id)
    request.user = caller  # as DRF's authentication sets it
    try:
        connection = selectors.connection_get_for_use(actor=caller, connection_id=connection_id)
        call = _proxy_request(request, data)
        result = proxy.proxy_result(proxy.connection_proxy(connection=connection, actor=caller, request=call))
    except Exception as exc:
        return unnegotiated_response(request, allow=_PROXY_ALLOW, exc=exc)
    return unnegotiated_response(request, allow=_PROXY_ALLOW, data=result)


ASYNC = OpenApiParameter(
    "async",
    bool,
    required=False,
    description="true: queue the test for a worker and answer 202 with the run to poll",
)
RUN_ID = OpenApiParameter("run_id", location=OpenApiParameter.PATH, description="The test run's id (run_…)")
HISTORY_LIMIT = OpenApiParameter(
    "limit",
    int,
    required=False,
    description=f"At most this many runs (1–200); default {selectors.HISTORY_LIMIT}",
)


def _trigger(request) -> str:
    """A signed-in browser session calls from the pages' Test button; keys are the host's API calls."""
    if isinstance(request.successful_authenticator, SessionAuthentication):
        return CheckRun.Trigger.PAGE
    return CheckRun.Trigger.API


class ConnectionTestViewSet(viewsets.ViewSet):
    """Testing connections: now (the seed's call), or queued for a worker and polled. Same access
    rules as connections; a test run of someone else's connection is "not found"."""

    @extend_schema(
        operation_id="connections_test",
        description=(
            "Calls the integration's test request with the connection's credentials and records "
            "lastTestStatus, lastTestMessage and lastTestDate.\n\n"
            "Without `async` the test runs within this request, bounded by the outbound deadline "
            "(OUTBOUND_DEADLINE, 20 s by default, twice that when an OAuth token is fetched first): "
            "200 when it passes, 400 `Connection test failed` with `testResult.errorMessage` when it "
            "does not. With `async=true` it is queued for a worker: 202 with the run's `statusUrl` "
            "to poll (`GET /api/connection-tests/{id}`); 503 if the task queue is down (the run stays "
            "queued and is sent once the queue is back). Every test is kept as a test run "
            "(`GET /api/user-integrations/{connectionId}/tests`). An inactive connection is not tested (400)."
        ),
        parameters=[CONNECTION_ID, ASYNC],
        request=None,
        responses={200: s.CheckResultEnvelope, 202: s.CheckRunQueuedEnvelope, 400: s.CheckResultEnvelope},
    )
    def test(self, request, connection_id: str):
        connection = selectors.connection_get_for_actor(actor=request.user, connection_id=connection_id)
        if request.query_params.get("async", "").lower() in ("true", "1"):
            run = test_run_services.test_run_enqueue(
                connection=connection, actor=request.user, trigger=_trigger(request)
            )
            return ok(202, message="Connection test queued", testRun=s.CheckRunQueuedOutput(run).data)
        run = test_run_services.test_run_create(
            connection=connection, actor=request.user, trigger=_trigger(request)
        )
        result = s.CheckResultOutput(run).data
        if run.status == CheckRun.Status.SUCCESS:
            return ok(message="Connection test successful", testResult=result)
        return Response(
            {"success": False, "message": "Connection test failed", "testResult": result}, status=400
        )

    @extend_schema(
        operation_id="connections_tests",
        description="The connection's test runs, newest first.",
        parameters=[CONNECTION_ID, HISTORY_LIMIT],
        responses=s.CheckRunListEnvelope,
    )
    def history(self, request, connection_id: str):
        connection = selectors.connection_get_for_actor(actor=request.user, connection_id=connection_id)
        query = validate_input(s.CheckRunListQuery, request.query_params)
        runs = selectors.test_run_list_for_connection(connection=connection, limit=query["limit"])
        return ok(testRuns=s.CheckRunOutput(runs, many=True).data)

    @extend_schema(
        operation_id="connection_tests_retrieve",
        description="One test run: poll it until `status` is `success` or `error`.",
        parameters=[RUN_ID],
        responses=s.CheckRunEnvelope,
    )
    def retrieve(self, request, run_id: str):
        run = selectors.test_run_get_for_actor(actor=request.user, run_id=run_id)
        return ok(testRun=s.CheckRunOutput(run).data)


class OAuthViewSet(viewsets.ViewSet):
    """Sign-in connections (OAuth 2.0 authorization code + PKCE) for host products."""

    @extend_schema(
        operation_id="connections_oauth_start",
        description=(
            "Start a sign-in at the provider for `userId` (or reconnect `connectionId`: it keeps its id, "
            "name and history). Send the user's browser to `authorizationUrl`; the provider sends it back "
            "to this app's `/oauth/callback`, which stores the tokens, tests the connection and redirects "
            "to `returnUrl` with `connectionId` and `status` (or to My Connections). The sign-in is valid "
            "for 10 minutes, once. Errors: 404 unknown integration or connection, 400 a method that is "
            "not a sign-in method or a `returnUrl` outside OAUTH_RETURN_URL_ALLOWLIST, 409 the "
            "integration's OAuth app is not set up."
        ),
        request=s.OAuthStartInput,
        responses={200: s.OAuthStartEnvelope},
    )
    def start(self, request):
        data = validate_input(
            s.OAuthStartInput, request.data, user_id_required=acts_for_any_user(request.user)
        )
        user = user_for_request(request.user, data.get("userId"))
        started = oauth_flow_start(
            actor=request.user,
            user=user,
            integration_id=data["integrationId"],
            auth_method_id=data["authMethodId"],
            redirect_uri=oauth_callback_url(request=request),
            connection_name=data.get("connectionName"),
            configured_variables=data.get("configuredVariables"),
            connection_id=data.get("connectionId"),
            return_url=data.get("returnUrl"),
            requires_session=not getattr(request.user, "is_api_key", False),
        )
        return ok(authorizationUrl=started.authorization_url, expiresAt=iso_timestamp(started.expires_at))


class OAuthAppViewSet(viewsets.ViewSet):
    """The operator's OAuth app of one sign-in method: client ID, and a secret that is never returned."""

    permission_classes = [IsApiKeyOrOperator]

    def _output(self, request, integration, auth_method_id: str) -> dict:
        client = oauth_client_get(integration=integration, auth_method_id=auth_method_id)
        return {
            "integrationId": integration.pk,
            "authMethodId": auth_method_id,
            "configured": client is not None,
            "source": client.source if client else None,
            "clientId": client.client_id if client else None,
            "hasClientSecret": bool(client and client.client_secret),
            "callbackUrl": oauth_callback_url(request=request),
        }

    @extend_schema(operation_id="integrations_oauth_app_retrieve", responses=s.OAuthAppEnvelope)
    def retrieve(self, request, integration_id: str, auth_method_id: str):
        integration = integration_get(integration_id=integration_id)
        sign_in_method_or_error(integration=integration, auth_method_id=auth_method_id)
        return ok(oauthApp=self._output(request, integration, auth_method_id))

    @extend_schema(
        operation_id="integrations_oauth_app_update",
        description="Set the client ID and secret (the seed's clientId/clientSecret). The secret is "
        "encrypted and never returned; omitted or empty it keeps the stored one.",
        request=s.OAuthAppInput,
        responses=s.OAuthAppEnvelope,
    )
    def update(self, request, integration_id: str, auth_method_id: str):
        integration = integration_get(integration_id=integration_id)
        data = validate_input(s.OAuthAppInput, request.data)
        oauth_app_save(
            integration=integration,
            auth_method_id=auth_method_id,
            client_id=data["clientId"],
            client_secret=data.get("clientSecret"),
        )
        return ok(message="OAuth app saved", oauthApp=self._output(request, integration, auth_method_id))


USER_ID = OpenApiParameter("user_id", location=OpenApiParameter.PATH, description="userId")


class UserConnectionsViewSet(viewsets.ViewSet):
    """What a host product asks about one user's connections (seed 004): the status map, and
    the connected account of an integration. Same access rules as connections."""

    @extend_schema(
        operation_id="connections_status_map",
        description=(
            "`{integrationId: status}` for every id asked, with `success: true` beside them. `connected`: an "
            "active connection whose last test did not fail; `invalid`: active connections, all failing "
            "(test again or reconnect); `not-connected`: no active connection. One database query whatever the "
            "number of ids; ids that name no integration answer 400 listing them."
        ),
        parameters=[
            USER_ID,
            OpenApiParameter(
                "integrationIds", required=True, description=f"Comma-separated, at most {MAX_STATUS_IDS}"
            ),
        ],
        responses=s.StatusMapEnvelope,
    )
    def status(self, request, user_id: str):
        user = user_for_request(request.user, user_id)
        raw = request.query_params.get("integrationIds", "")
        integration_ids = list(dict.fromkeys(i.strip() for i in raw.split(",") if i.strip()))
        if not integration_ids:
            raise ValidationFailed(["integrationIds is required: comma-separated integration ids"])
        statuses = selectors.connection_status_map(user=user, integration_ids=integration_ids)
        return ok(**statuses)

    @extend_schema(
        operation_id="connections_import",
        description=(
            "Seed 004's token import: OAuth tokens the host product already holds become a sign-in connection "
            "of the user (validated like a connect, encrypted, audited as `import`, refreshed like any sign-in "
            "connection when a refreshToken is given) and a test is queued for a worker. 201 with the "
            "connection, secrets masked. The same access token imported again for the same user and "
            "integration answers 409 with the existing `connectionId` and creates nothing."
        ),
        parameters=[USER_ID],
        request=s.TokenImportInput,
        responses={201: s.TokenImportEnvelope},
    )
    def import_tokens(self, request, user_id: str):
        user = user_for_request(request.user, user_id)
        data = validate_input(s.TokenImportInput, request.data)
        tokens = ImportedTokens(
            access_token=data["accessToken"],
            scopes=data["scopes"],
            refresh_token=data.get("refreshToken") or None,
            expires_at_ms=data.get("expiresAt"),
        )
        try:
            connection, run = connection_import(
                actor=request.user,
                user=user,
                integration_id=data["integrationId"],
                tokens=tokens,
                auth_method_id=data.get("authMethodId"),
                connection_name=data.get("connectionName", ""),
                configured_variables=data.get("configuredVariables"),
            )
        except AlreadyImported as exc:
            body = error_body(exc.message, error=exc.error)
            return Response({**body, "connectionId": exc.connection_id}, status=exc.status_code)
        return ok(
            201,
            message="Connection imported successfully",
            connectionId=connection.connection_id,
            connection=connection_list_item(connection),
            testRun=s.CheckRunQueuedOutput(run).data if run else None,
        )

    @extend_schema(
        operation_id="integrations_account",
        description=(
            "The account the user's active connection to this integration belongs to at the provider, as "
            "read after its last successful test or sign-in (the integration's identity block). Fields are "
            "null until it has been read. 404 when the user has no active connection to it."
        ),
        parameters=[
            OpenApiParameter("integration_id", location=OpenApiParameter.PATH, description="integrationId"),
            USER_ID_QUERY,
        ],
        responses=s.AccountEnvelope,
    )
    def account(self, request, integration_id: str):
        user_id = request.query_params.get("userId")
        if acts_for_any_user(request.user) and not user_id:
            raise ApplicationError("userId query parameter is required")
        user = user_for_request(request.user, user_id)
        connection = selectors.connection_for_account(user=user, integration_id=integration_id)
        account = connection.account or {"accountId": None, "displayName": None, "email": None}
        return ok(
            email=account["email"],
            displayName=account["displayName"],
            accountId=account["accountId"],
            connectionId=connection.connection_id,
        )


class ConnectSessionViewSet(viewsets.ViewSet):
    """A host product sends one of its users through the wizard without a second login."""

    permission_classes = [IsApiKey]

    @extend_schema(
        operation_id="connect_sessions_create",
        description=(
            "A one-time link (`url`) into the wizard as `userId`, no password asked: the first browser to open "
            "it gets a session that reaches only that user's wizard and My Connections, restricted to "
            "`integrationIds` (or the one `connectionId`, to edit or reconnect it), until `expiresAt` (30 "
            "minutes). On finish the browser goes to `returnUrl` with `connectionId` and `status` "
            "(`connected`, `invalid`, or `cancelled` without connectionId)."
        ),
        request=s.ConnectSessionInput,
        responses={201: s.ConnectSessionEnvelope},
    )
    def create(self, request):
        data = validate_input(s.ConnectSessionInput, request.data)
        connect_session, token = connect_session_create(
            actor=request.user,
            user=user_get(user_id=data["userId"]),
            integration_ids=data.get("integrationIds"),
            connection_id=data.get("connectionId"),
            return_url=data.get("returnUrl", ""),
        )
        path = reverse("connect-start", args=[token])
        base = settings.CONNECT_BASE_URL.rstrip("/")
        return ok(
            201,
            token=token,
            url=base + path if base else request.build_absolute_uri(path),
            expiresAt=iso_timestamp(connect_session.expires_at),
        )
