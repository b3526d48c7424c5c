"""The proxy end to end: the API, the guarded client and the local provider over real sockets,
which records what the proxy sent."""

import base64
import json
from urllib.parse import urlsplit

import pytest

from connections import webhooks
from connections.models import Connection, ProxyCall, WebhookDelivery, WebhookEndpoint
from connections.oauth.clients import oauth_app_save
from connections.selectors import connection_credentials
from integrations.documents import validate_document
from tests import provider_server as provider
from tests.connections.factories import (
    integration_from_document,
    local_connection,
    local_provider,
    sign_in_connection,
    sign_in_credentials,
    sign_in_document,
)
from tests.integrations.test_connectivity import GOOD

pytestmark = pytest.mark.django_db
ALL_EVENTS = list(WebhookEndpoint.Event.values)

PROTECTED_PATH = {
    "basic": "/basic",
    "bearer": "/bearer",
    "header": "/header-key",
    "query": "/query-key",
    "client-credentials": "/oauth/protected",
    "client-credentials-basic": "/oauth/protected",
    "refresh-token": "/oauth/protected",
}


@pytest.fixture
def local(provider_server, allow_local_provider, settings):
    settings.PROXY_RETRY_BACKOFF = 0.01
    return local_provider(provider_server.origin)


def proxy(client, connection, **payload):
    payload.setdefault("method", "GET")
    return client.post(f"/api/user-integrations/{connection.connection_id}/proxy", payload, format="json")


def sent_to(provider_server, path, since=0):
    return [r for r in provider_server.requests[since:] if urlsplit(r.path).path == path]


@pytest.mark.parametrize("method_id", list(PROTECTED_PATH))
def test_credentials_are_applied_as_each_auth_method_says(key_client, local, user, method_id):
    connection = local_connection(local, user=user, auth_method_id=method_id, credentials=GOOD[method_id])

    response = proxy(key_client, connection, path=PROTECTED_PATH[method_id])

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True and body["status"] == 200
    assert body["bodyEncoding"] == "json" and body["body"]["ok"] is True


def test_callers_authorization_cookie_and_hop_by_hop_headers_are_dropped(
    key_client, local, user, provider_server
):
    connection = local_connection(local, user=user)
    headers = {
        "Authorization": "Bearer the-callers-own-token",
        "Cookie": "session=abc",
        "Connection": "X-Drop-Me",
        "X-Drop-Me": "1",
        "Upgrade": "h2c",
        "Proxy-Authorization": "Basic eHg6eXk=",
        "Transfer-Encoding": "chunked",
        "X-Kept": "yes",
    }

    response = proxy(key_client, connection, path="/echo", headers=headers)

    echoed = response.json()["body"]["headers"]
    assert echoed["authorization"] == f"Bearer {provider.BEARER_TOKEN}"
    assert echoed["x-kept"] == "yes"
    for dropped in ("cookie", "x-drop-me", "upgrade", "proxy-authorization", "transfer-encoding"):
        assert dropped not in echoed


def test_the_connections_credentials_win_over_a_callers_header_and_query(key_client, local, user):
    header = local_connection(local, user=user, auth_method_id="header", credentials=GOOD["header"])
    query = local_connection(local, user=user, auth_method_id="query", credentials=GOOD["query"])

    by_header = proxy(key_client, header, path="/header-key", headers={"x-api-key": "callers-key"})
    by_query = proxy(key_client, query, path="/query-key?api_key=callers-key", query={"api_key": "mine"})

    assert by_header.json()["status"] == 200
    assert by_query.json()["status"] == 200


def test_method_query_and_json_body_reach_the_provider(key_client, local, user, provider_server):
    connection = local_connection(local, user=user)

    response = proxy(
        key_client,
        connection,
        method="PATCH",
        path="echo?a=1",
        query={"b": ["2", "3"], "flag": True},
        body={"name": "Ada"},
    )

    echoed = response.json()["body"]
    assert echoed["method"] == "PATCH"
    recorded = sent_to(provider_server, "/echo")[-1]
    assert urlsplit(recorded.path).query == "a=1&b=2&b=3&flag=true"
    assert json.loads(recorded.body) == {"name": "Ada"}
    assert recorded.headers["content-type"] == "application/json"


def test_a_string_body_is_sent_as_it_is(key_client, local, user, provider_server):
    connection = local_connection(local, user=user)

    proxy(
        key_client,
        connection,
        method="POST",
        path="/echo",
        body="a,b\n1,2",
        headers={"Content-Type": "text/csv"},
    )

    recorded = sent_to(provider_server, "/echo")[-1]
    assert recorded.body == b"a,b\n1,2" and recorded.headers["content-type"] == "text/csv"


def test_answers_are_given_as_json_text_or_base64_without_cookies(key_client, local, user):
    connection = local_connection(local, user=user)

    text = proxy(key_client, connection, path="/echo?type=text").json()
    binary = proxy(key_client, connection, path="/echo?type=binary").json()
    missing = proxy(key_client, connection, path="/echo?status=404").json()

    assert (text["bodyEncoding"], text["body"]) == ("text", "plain text é")
    assert text["contentType"] == "text/plain; charset=utf-8"
    assert binary["bodyEncoding"] == "base64" and base64.b64decode(binary["body"]) == bytes(range(256))
    assert missing["success"] is False and missing["status"] == 404
    assert missing["message"] == "The provider answered 404 Not Found"
    assert "Content-Length" not in text["headers"] and "Content-Type" in text["headers"]


ESCAPES = [
    "https://evil.example/steal",
    "HTTP://127.0.0.1:1/x",
    "//evil.example/x",
    "///evil.example/x",
    "/@evil.example/x",
    "@evil.example/x",
    "\\\\evil.example\\x",
    "/\\evil.example/x",
    "/%5c%5cevil.example/x",
    "/%2e%2e/%2e%2e/admin",
    "/.%2E/admin",
    "/..%2f..%2fadmin",
    "/x/%252e%252e/admin",
    "/../admin",
    "/x/./../admin",
    "%2F%2Fevil.example/x",
    "javascript:alert(1)",
    "evil.example:443/x",
    "/x\r\nHost: evil.example",
    "/x y",
    "/x#fragment",
    "/x%00y",
    "",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_paths_that_could_leave_the_base_url_are_refused(key_client, local, user, provider_server, path):
    connection = local_connection(local, user=user)
    before = len(provider_server.requests)

    response = proxy(key_client, connection, path=path)

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["success"] is False and body["errors"][0].startswith("path ")
    assert len(provider_server.requests) == before  # nothing was sent anywhere


def test_a_base_url_with_a_path_keeps_the_path(key_client, provider_server, allow_local_provider, user):
    document = local_provider(provider_server.origin).document
    integration = integration_from_document(
        validate_document({**document, "id": "local-api", "baseUrl": provider_server.origin + "/echo"})
    )
    connection = local_connection(integration, user=user)

    response = proxy(key_client, connection, path="/deeper")

    assert response.json()["body"]["path"] == "/echo/deeper"


def custom_headers_integration(origin: str, headers: dict):
    bearer = {
        "id": "bearer",
        "type": "BEARER",
        "label": "Bearer",
        "fields": [{"name": "token", "label": "Token", "type": "password", "required": True}],
        "additionalFields": [{"name": "region", "label": "Region", "type": "string"}],
        "apply": {"type": "bearer", "field": "token"},
    }
    document = {
        "id": "local-headers",
        "displayName": "Local with headers",
        "description": "",
        "category": "testing",
        "status": "active",
        "baseUrl": origin,
        "allowedHosts": ["127.0.0.1"],
        "headers": headers,
        "testRequest": {"method": "GET", "path": "/bearer"},
        "authMethods": [bearer],
    }
    return integration_from_document(validate_document(document))


def test_custom_headers_are_expanded_for_the_connections_owner(
    key_client, provider_server, allow_local_provider, user
):
    integration = custom_headers_integration(
        provider_server.origin,
        {
            "X-User-Email": "${user.email}",
            "X-User": "${user.name} <${user.userId}>",
            "X-Region": "region=${connection.region}",
            "Authorization-Hint": "static",
        },
    )
    connection = local_connection(integration, user=user)
    Connection.objects.filter(pk=connection.pk).update(configured_variables={"region": "eu-west"})

    response = proxy(key_client, connection, path="/echo", headers={"X-User-Email": "forged@example.com"})

    echoed = response.json()["body"]["headers"]
    assert echoed["x-user-email"] == user.email
    assert echoed["x-user"] == f"{user.name} <{user.user_id}>"
    assert echoed["x-region"] == "region=eu-west"
    assert echoed["authorization"] == f"Bearer {provider.BEARER_TOKEN}"


def test_a_custom_header_with_a_line_break_once_expanded_is_refused(
    key_client, provider_server, allow_local_provider, user
):
    integration = custom_headers_integration(provider_server.origin, {"X-User": "${user.name}"})
    user.name = "Ada\r\nX-Injected: 1"
    user.save()
    connection = local_connection(integration, user=user)
    before = len(provider_server.requests)

    response = proxy(key_client, connection, path="/echo")

    assert response.status_code == 400
    assert (
        response.json()["error"]
        == "The X-User header's value contains a control character (such as NUL, VT, FF, NEL, CR or LF) once expanded"
    )
    assert len(provider_server.requests) == before


# --- Retries


def test_idempotent_requests_are_retried_after_5xx(key_client, local, user, provider_server):
    connection = local_connection(local, user=user)

    response = proxy(key_client, connection, path="/flaky?key=get-5xx&fail=2&status=503")

    assert response.json()["status"] == 200
    assert len(sent_to(provider_server, "/flaky")) >= 3
    assert ProxyCall.objects.get(connection=connection).attempts == 3


def test_retries_stop_at_proxy_max_retries(key_client, local, user, provider_server, settings):
    settings.PROXY_MAX_RETRIES = 1
    connection = local_connection(local, user=user)
    before = len(sent_to(provider_server, "/flaky"))

    response = proxy(key_client, connection, path="/flaky?key=max-retries&fail=5&status=500")

    assert response.json()["status"] == 500 and response.json()["success"] is False
    assert len(sent_to(provider_server, "/flaky")) - before == 2


def test_a_post_is_not_retried_without_an_idempotency_key(key_client, local, user, provider_server):
    connection = local_connection(local, user=user)
    before = len(sent_to(provider_server, "/flaky"))

    response = proxy(key_client, connection, method="POST", path="/flaky?key=post-once&fail=1", body={})

    assert response.json()["status"] == 503
    assert len(sent_to(provider_server, "/flaky")) - before == 1


def test_a_post_with_an_idempotency_key_is_retried_and_the_key_forwarded(
    key_client, local, user, provider_server
):
    connection = local_connection(local, user=user)
    before = len(sent_to(provider_server, "/flaky"))

    response = key_client.post(
        f"/api/user-integrations/{connection.connection_id}/proxy",
        {"method": "POST", "path": "/flaky?key=post-key&fail=1", "body": {}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="order-42",
    )

    assert response.json()["status"] == 200
    sent = sent_to(provider_server, "/flaky")[before:]
    assert len(sent) == 2 and {r.headers["idempotency-key"] for r in sent} == {"order-42"}


def test_retry_after_is_honoured(key_client, local, user, provider_server):
    connection = local_connection(local, user=user)

    response = proxy(key_client, connection, path="/flaky?key=retry-after&fail=1&status=429&retry_after=1")

    assert response.json()["status"] == 200
    first, second = sent_to(provider_server, "/flaky")[-2:]
    assert second.at - first.at >= 1.0


def test_a_retry_after_beyond_the_wait_limit_is_handed_to_the_caller(
    key_client, local, user, provider_server
):
    connection = local_connection(local, user=user)
    before = len(sent_to(provider_server, "/flaky"))

    response = proxy(key_client, connection, path="/flaky?key=long-wait&fail=1&status=429&retry_after=3600")

    body = response.json()
    assert body["status"] == 429 and body["headers"]["Retry-After"] == "3600"
    assert len(sent_to(provider_server, "/flaky")) - before == 1


def test_an_oauth_connection_answered_401_gets_a_fresh_token_once(key_client, local, user, provider_server):
    connection = local_connection(
        local, user=user, auth_method_id="client-credentials", credentials=GOOD["client-credentials"]
    )
    before = len(provider_server.requests)

    response = proxy(key_client, connection, path="/expired-once?key=oauth-401")

    assert response.json()["status"] == 200
    sent = provider_server.requests[before:]
    assert [urlsplit(r.path).path for r in sent] == [
        "/oauth/token",
        "/expired-once",
        "/oauth/token",
        "/expired-once",
    ]
    first, second = (r.headers["authorization"] for r in sent if r.path.startswith("/expired-once"))
    assert first != second


def test_a_401_without_oauth_is_answered_as_it_is(key_client, local, user, provider_server):
    connection = local_connection(local, user=user)
    before = len(provider_server.requests)

    response = proxy(key_client, connection, path="/expired-once?key=bearer-401")

    assert response.json()["status"] == 401
    assert len(provider_server.requests) - before == 1


# --- Limits and state


def test_the_rate_limit_answers_429_with_retry_after(key_client, local, user, settings):
    settings.PROXY_RATE = "3/min"
    connection = local_connection(local, user=user)
    other = local_connection(local, user=user)

    answers = [proxy(key_client, connection, path="/bearer").status_code for _ in range(3)]
    refused = proxy(key_client, connection, path="/bearer")

    assert answers == [200, 200, 200]
    assert refused.status_code == 429
    assert (
        refused.json()["success"] is False
        and refused.json()["message"] == "Rate limit reached for this connection"
    )
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert proxy(key_client, other, path="/bearer").status_code == 200  # per connection


def test_the_proxy_is_limited_by_proxy_rate_not_the_api_write_budget(key_client, local, user, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"writes": "2/min"}}
    settings.PROXY_RATE = "4/min"
    connection = local_connection(local, user=user)

    answers = [proxy(key_client, connection, path="/bearer") for _ in range(5)]

    # A host product calls through all its connections with one key: PROXY_RATE, per connection,
    # is the proxy's limit, not the budget of writes to Connections itself.
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert answers[-1].json()["message"] == "Rate limit reached for this connection"
    assert key_client.post("/api/users", {}, format="json").status_code != 429  # its budget untouched


def test_an_inactive_connection_answers_409(key_client, local, user, provider_server):
    connection = local_connection(local, user=user, status=Connection.Status.INACTIVE)

    response = proxy(key_client, connection, path="/bearer")

    assert response.status_code == 409 and response.json()["message"] == "Connection is inactive"


def test_an_answer_over_the_size_cap_is_refused(key_client, local, user, settings):
    settings.PROXY_MAX_RESPONSE_BYTES = 1000
    connection = local_connection(local, user=user)

    response = proxy(key_client, connection, path="/huge?bytes=5000")

    assert response.status_code == 502
    assert response.json()["error"] == "Response larger than the 1000 byte limit"


def test_an_unreachable_provider_answers_502_and_is_recorded(key_client, user, allow_local_provider):
    integration = local_provider("http://127.0.0.1:9")
    connection = local_connection(integration, user=user)

    response = proxy(key_client, connection, path="/bearer")

    assert response.status_code == 502
    assert response.json()["message"] == "The provider could not be reached"
    assert ProxyCall.objects.get(connection=connection).error.startswith("The provider could not be reached")


# --- Who may call, and the record


def test_the_owner_may_call_but_not_operators_or_other_users(
    local, user, other_user, user_client, operator_client
):
    connection = local_connection(local, user=user)
    someone_elses = local_connection(local, user=other_user)

    assert proxy(user_client, connection, path="/bearer").status_code == 200
    assert proxy(user_client, someone_elses, path="/bearer").status_code == 404
    assert proxy(operator_client, connection, path="/bearer").status_code == 404


def test_calls_are_recorded_without_query_values_bodies_or_secrets(key_client, local, user, admin_client):
    connection = local_connection(local, user=user, auth_method_id="query", credentials=GOOD["query"])
    proxy(
        key_client,
        connection,
        method="POST",
        path="/echo?email=ada@example.com",
        query={"q": "private"},
        body={"ssn": "123-45-6789"},
    )

    history = key_client.get(f"/api/user-integrations/{connection.connection_id}/history").json()
    admin_page = admin_client.get("/admin/connections/proxycall/").content.decode()

    (call,) = history["proxyCalls"]
    assert call["method"] == "POST" and call["path"] == "/echo?email=***&q=***"
    assert call["statusCode"] == 200 and call["attempts"] == 1 and call["actor"].startswith("api-key:")
    for text in (json.dumps(history), admin_page):
        for secret in ("ada@example.com", "private", "123-45-6789", provider.API_KEY):
            assert secret not in text
    assert "/echo?email=***&amp;q=***" in admin_page


def test_a_proxied_call_makes_a_bounded_number_of_queries(
    key_client, local, user, django_assert_max_num_queries
):
    connection = local_connection(local, user=user)
    proxy(key_client, connection, path="/bearer")  # warm caches

    with django_assert_max_num_queries(6):
        response = proxy(key_client, connection, path="/bearer")

    assert response.json()["status"] == 200


# --- Sign-in (authorization code) connections, against the real OAuth server of tests/oauth_provider

IDP_CLIENT, IDP_SECRET = "proxy-app", "proxy-app-secret-4Kd9"


@pytest.fixture
def idp(oauth_provider, allow_local_provider):
    oauth_provider.register_client(
        IDP_CLIENT,
        IDP_SECRET,
        ["http://127.0.0.1/callback"],
        require_pkce=False,
        token_auth="client_secret_post",
    )
    document = sign_in_document(
        oauth_provider.origin,
        integration_id="idp",
        tokenUrl=oauth_provider.token_url,
        authorizeUrl=oauth_provider.authorize_url,
    )
    integration = integration_from_document(document)
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id=IDP_CLIENT, client_secret=IDP_SECRET
    )
    webhooks.webhook_endpoint_create(url="https://hooks.example.com/connections", events=ALL_EVENTS)
    return integration


def signed_in(idp, oauth_provider, user, *, access_token="at-stale-token-1"):
    tokens = oauth_provider.issue_tokens(IDP_CLIENT, scope="read")
    credentials = sign_in_credentials(
        access_token=access_token, refresh_token=tokens["refresh_token"], expires_in=3600
    )
    return sign_in_connection(idp, user=user, credentials=credentials)


def test_a_sign_in_connection_answered_401_is_refreshed_once_and_retried(
    key_client, oauth_provider, idp, user
):
    connection = signed_in(idp, oauth_provider, user)

    response = proxy(key_client, connection, path="/userinfo")

    assert response.json()["status"] == 200 and response.json()["body"]["login"] == "alice"
    assert oauth_provider.stats()["token_requests"]["refresh_token"] == 1
    stored = connection_credentials(connection=Connection.objects.get(pk=connection.pk))
    assert stored["accessToken"] != "at-stale-token-1"
    assert ProxyCall.objects.get(connection=connection).attempts == 2


def test_a_sign_in_connection_whose_grant_is_gone_needs_reconnection(key_client, oauth_provider, idp, user):
    connection = signed_in(idp, oauth_provider, user)
    oauth_provider.invalidate_grants()

    refused = proxy(key_client, connection, path="/userinfo")
    again = proxy(key_client, connection, path="/userinfo")

    assert (
        refused.status_code == 409 and refused.json()["message"] == "The connection needs to be reconnected"
    )
    assert Connection.objects.get(pk=connection.pk).needs_reconnect
    assert again.status_code == 409 and again.json()["message"] == "Connection needs reconnection"
    (event,) = WebhookDelivery.objects.filter(event_type="connection.reconnect_required")
    assert event.payload["data"]["connectionId"] == connection.connection_id
    assert "invalid_grant" in event.payload["data"]["reason"]
    assert IDP_SECRET not in json.dumps(event.payload)


def test_a_failed_refresh_answers_502_and_is_an_event(key_client, oauth_provider, idp, user):
    connection = signed_in(idp, oauth_provider, user)
    oauth_provider.configure(token_endpoint="error")

    response = proxy(key_client, connection, path="/userinfo")

    assert response.status_code == 502 and response.json()["message"] == "Could not refresh the access token"
    assert not Connection.objects.get(pk=connection.pk).needs_reconnect
    assert WebhookDelivery.objects.filter(event_type="connection.refresh_failed").count() == 1
