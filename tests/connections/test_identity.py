"""The connected account's identity: read after a successful test through the guarded client with
the connection's credentials, stored on the connection, shown in the API and on My Connections,
and answered by GET /api/integrations/:id/account. The provider is tests/provider_server.py."""

import pytest

from connections.models import Connection
from integrations.documents import document_errors, validate_document
from tests.connections.factories import (
    ConnectionFactory,
    integration_from_document,
    local_connection,
    local_provider_document,
)
from tests.provider_server import CLIENT_ID, CLIENT_SECRET, IDENTITY

pytestmark = pytest.mark.django_db

FROM_TEST_ANSWER = {"accountId": "/id", "displayName": ["/nickname", "/name"], "email": "/email"}
NESTED_REQUEST = {
    "request": {"method": "GET", "path": "/me/nested"},
    "accountId": "/user/id",
    "displayName": "/user/login",
    "email": "/user/email",
}


def with_identity(origin: str, identity: dict, **method_overrides) -> dict:
    """The local provider, its bearer method answering its test at ``/me`` unless told otherwise."""
    document = local_provider_document(origin)
    for method in document["authMethods"]:
        if method["id"] == "bearer":
            method.update({"testRequest": {"method": "GET", "path": "/me"}, **method_overrides})
    return validate_document({**document, "identity": identity})


@pytest.fixture
def local(provider_server, allow_local_provider):
    return integration_from_document(with_identity(provider_server.origin, FROM_TEST_ANSWER))


def account_of(client, user, integration_id="local"):
    return client.get(f"/api/integrations/{integration_id}/account?userId={user.user_id}")


def test_a_successful_test_reads_the_account_from_its_own_answer(key_client, local, user, provider_server):
    connection = local_connection(local, user=user)
    before = len(provider_server.hits)

    response = key_client.post(f"/api/user-integrations/{connection.connection_id}/test")

    assert response.status_code == 200, response.json()
    assert provider_server.hits[before:] == [("GET", "/me")]  # no second call
    detail = key_client.get(f"/api/user-integrations/{connection.connection_id}").json()["connection"]
    assert detail["account"] == {
        "accountId": "4217",
        "displayName": "Ada Lovelace",
        "email": "ada@example.com",
    }
    body = account_of(key_client, user).json()
    assert body == {
        "success": True,
        "email": "ada@example.com",
        "displayName": "Ada Lovelace",
        "accountId": "4217",
        "connectionId": connection.connection_id,
    }


def test_an_identity_request_is_sent_with_the_same_credentials(key_client, user, provider_server, settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    document = with_identity(
        provider_server.origin, NESTED_REQUEST, testRequest={"method": "GET", "path": "/bearer"}
    )
    connection = local_connection(integration_from_document(document), user=user)
    before = len(provider_server.hits)

    assert key_client.post(f"/api/user-integrations/{connection.connection_id}/test").status_code == 200

    assert provider_server.hits[before:] == [("GET", "/bearer"), ("GET", "/me/nested")]
    connection.refresh_from_db()
    assert connection.account == {"accountId": "4217", "displayName": "ada", "email": "ada@example.com"}
    assert connection.account_checked_at is not None


def test_an_oauth_token_is_fetched_once_for_the_test_and_the_identity(
    user, provider_server, settings, key_client
):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    document = local_provider_document(provider_server.origin)
    for method in document["authMethods"]:
        if method["id"] == "client-credentials":
            method["identity"] = {
                **NESTED_REQUEST,
                "request": {"method": "GET", "path": "/me"},
                "accountId": "/id",
            }
    integration = integration_from_document(validate_document(document))
    connection = local_connection(
        integration,
        user=user,
        auth_method_id="client-credentials",
        credentials={"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET},
    )
    before = len(provider_server.hits)

    assert key_client.post(f"/api/user-integrations/{connection.connection_id}/test").status_code == 200

    paths = [path for _, path in provider_server.hits[before:]]
    assert paths.count("/oauth/token") == 1 and "/me" in paths
    connection.refresh_from_db()
    assert connection.account_id == str(IDENTITY["id"])


def test_a_failed_test_reads_no_account(key_client, local, user, provider_server):
    connection = local_connection(local, user=user, credentials={"token": "wrong-token-Zr58Kp"})
    before = len(provider_server.hits)

    assert key_client.post(f"/api/user-integrations/{connection.connection_id}/test").status_code == 400

    assert provider_server.hits[before:] == [("GET", "/me")]
    connection.refresh_from_db()
    assert connection.account is None
    body = account_of(key_client, user).json()
    assert body["accountId"] is None and body["email"] is None and body["displayName"] is None


def test_an_identity_the_provider_refuses_does_not_fail_the_test_or_erase_what_was_known(
    key_client, user, provider_server, settings
):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    refusing = {**NESTED_REQUEST, "request": {"method": "GET", "path": "/status/403"}}
    document = with_identity(
        provider_server.origin, refusing, testRequest={"method": "GET", "path": "/bearer"}
    )
    connection = local_connection(integration_from_document(document), user=user)
    Connection.objects.filter(pk=connection.pk).update(
        account_id="known-1", account_email="known@example.com"
    )

    response = key_client.post(f"/api/user-integrations/{connection.connection_id}/test")

    assert response.status_code == 200
    connection.refresh_from_db()
    assert connection.account == {"accountId": "known-1", "displayName": None, "email": "known@example.com"}


def test_account_is_404_without_an_active_connection(key_client, local, user):
    response = account_of(key_client, user)
    assert response.status_code == 404
    assert response.json()["message"] == "No active connection to this integration"
    local_connection(local, user=user, status=Connection.Status.INACTIVE)
    assert account_of(key_client, user).status_code == 404
    unknown = account_of(key_client, user, integration_id="nope")
    assert unknown.status_code == 404 and unknown.json()["message"] == "Integration not found"


def test_account_needs_a_user_id_from_api_keys_and_is_private_to_end_users(
    key_client, user_client, local, user, other_user
):
    local_connection(local, user=user, account_id="7", account_email="me@example.com")
    local_connection(local, user=other_user, account_id="8", account_email="them@example.com")
    assert key_client.get("/api/integrations/local/account").status_code == 400
    assert user_client.get("/api/integrations/local/account").json()["email"] == "me@example.com"
    assert account_of(user_client, other_user).status_code == 404


def test_my_connections_says_who_is_connected(client, local, user):
    local_connection(local, user=user, account_id="4217", account_email="ada@example.com")
    ConnectionFactory(user=user, account_id="005xx", account_display_name="Grace Hopper")
    client.force_login(user)
    page = client.get("/my-connections/").content.decode()
    assert "Connected as ada@example.com" in page
    assert "Connected as Grace Hopper" in page


def test_the_catalog_schema_checks_identity_blocks(provider_server):
    document = local_provider_document(provider_server.origin)
    assert document_errors({**document, "identity": {"accountId": "id"}})  # not a JSON pointer
    elsewhere = {"request": {"method": "GET", "url": "https://evil.test/me"}, "accountId": "/id"}
    assert document_errors({**document, "identity": elsewhere}) == [
        "$.identity.request.url: host evil.test is not one of the allowedHosts"
    ]
    both = {"request": {"method": "GET", "path": "/me", "url": "https://127.0.0.1/me"}, "accountId": "/id"}
    assert document_errors({**document, "identity": both})
    assert document_errors({**document, "identity": {"displayName": "/name"}})  # accountId is required
