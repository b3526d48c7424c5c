"""The seed's "Connection Management Endpoints", over HTTP, as written — error cases included."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connections.models import AuditEvent, Connection
from connections.selectors import MASK, connection_credentials
from tests.accounts.factories import UserFactory
from tests.connections.factories import SEED_CREDENTIALS, ConnectionFactory, hubspot, salesforce

pytestmark = pytest.mark.django_db

SEED_CONNECT = {
    "userId": "user_123",
    "integrationId": "salesforce",
    "authMethodId": "oauth2",
    "connectionName": "Salesforce Production",
    "configuredVariables": {"instance_url": "https://mycompany.salesforce.com"},
    "credentials": {"clientId": "3MVG9...", "clientSecret": "1234567890ABCDEF"},
}
SEED_UPDATE = {
    "connectionName": "Salesforce Production v2",
    "authMethodId": "oauth2",
    "authMethodLabel": "OAuth 2.0",
    "configuredVariables": {"instance_url": "https://newinstance.salesforce.com"},
    "credentials": {"clientId": "3MVG9...", "clientSecret": "newSecretValue123"},
}
LIST_ITEM_KEYS = {
    "connectionId",
    "userId",
    "integrationId",
    "integrationName",
    "connectionName",
    "authMethodId",
    "authMethodLabel",
    "status",
    "configuredVariables",
    "credentials",
    "lastTestStatus",
    "lastTestMessage",
    "lastTestDate",
    "consecutiveFailures",
    "needsAttention",
    "oauth",
    "account",
    "createdAt",
    "updatedAt",
    "integration",
}


@pytest.fixture
def user_123(db):
    return UserFactory(user_id="user_123", name="John Doe")


@pytest.fixture
def seed_connection(user_123):
    return ConnectionFactory(
        user=user_123,
        connection_name="Salesforce Production",
        integration=salesforce(),
        credentials=dict(SEED_CREDENTIALS),
    )


def connect(client, body=None, **headers):
    return client.post(
        "/api/user-integrations/connect", body if body is not None else SEED_CONNECT, format="json", **headers
    )


# --- POST /api/user-integrations/connect


def test_connect_the_seed_example(key_client, user_123):
    salesforce()

    response = connect(key_client)

    assert response.status_code == 201
    body = response.json()
    connection = Connection.objects.get()
    assert body == {
        "success": True,
        "message": "Connection created successfully",
        "connectionId": connection.connection_id,
        "connection": {
            "connectionId": connection.connection_id,
            "userId": "user_123",
            "integrationId": "salesforce",
            "integrationName": "Salesforce",
            "connectionName": "Salesforce Production",
            "authMethodId": "oauth2",
            "authMethodLabel": "OAuth 2.0",
            "status": "active",
            "createdAt": body["connection"]["createdAt"],
        },
    }
    assert connection.connection_id.startswith("conn_") and len(connection.connection_id) >= 25
    assert connection_credentials(connection=connection) == SEED_CONNECT["credentials"]
    assert "1234567890ABCDEF" not in connection.credentials_encrypted
    assert list(connection.audit_events.values_list("action", flat=True)) == ["create"]


def test_connect_defaults_the_name_to_the_integration(key_client, user_123):
    salesforce()
    body = {k: v for k, v in SEED_CONNECT.items() if k != "connectionName"}

    assert connect(key_client, body).json()["connection"]["connectionName"] == "Salesforce"


def test_connect_requires_fields_with_readable_messages(key_client):
    response = connect(key_client, {})

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Validation error",
        "errors": [
            "userId is required",
            "integrationId is required",
            "authMethodId is required",
            "credentials is required",
        ],
    }


def test_connect_reports_missing_credentials_fields(key_client, user_123):
    salesforce()
    response = connect(key_client, {**SEED_CONNECT, "credentials": {"clientSecret": ""}})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        "credentials.clientId is required",
        "credentials.clientSecret cannot be empty",
    ]
    assert not Connection.objects.exists() and not AuditEvent.objects.exists()


def test_connect_reports_an_invalid_instance_url(key_client, user_123):
    salesforce()
    response = connect(
        key_client, {**SEED_CONNECT, "configuredVariables": {"instance_url": "mycompany dot com"}}
    )

    assert response.json()["errors"] == ["configuredVariables.instance_url must be a valid URL"]


def test_connect_unknown_integration_is_404(key_client, user_123):
    response = connect(key_client, {**SEED_CONNECT, "integrationId": "nope"})

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Integration not found"}


def test_connect_inactive_integration_is_400(key_client, user_123):
    salesforce(status="inactive")
    response = connect(key_client)

    assert response.status_code == 400
    assert response.json()["errors"] == ["integrationId 'salesforce' is inactive and accepts no connections"]


def test_connect_unknown_user_is_404(key_client):
    salesforce()
    response = connect(key_client, {**SEED_CONNECT, "userId": "user_nobody"})

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "User not found"}


def test_connect_unknown_auth_method_lists_the_valid_ones(key_client, user_123):
    salesforce()
    response = connect(key_client, {**SEED_CONNECT, "authMethodId": "saml"})

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Validation error",
        "errors": ["authMethodId must be one of: oauth2, api-key, sign-in"],
    }


def test_connect_refuses_non_object_credentials(key_client, user_123):
    response = connect(key_client, {**SEED_CONNECT, "credentials": "secret"})

    assert response.json()["errors"] == ["credentials must be an object"]


def test_an_end_user_connects_for_themselves_without_user_id(user_client, user):
    salesforce()
    body = {k: v for k, v in SEED_CONNECT.items() if k != "userId"}

    response = connect(user_client, body)

    assert response.status_code == 201
    assert response.json()["connection"]["userId"] == user.user_id


def test_an_end_user_cannot_connect_for_someone_else(user_client, other_user):
    salesforce()
    response = connect(user_client, {**SEED_CONNECT, "userId": other_user.user_id})

    assert response.status_code == 404
    assert response.json()["message"] == "User not found"
    assert not Connection.objects.exists()


def test_anonymous_cannot_connect(anon_client):
    assert connect(anon_client).status_code == 401


# --- Idempotency-Key


def test_a_retry_with_the_same_idempotency_key_returns_the_first_response(key_client, user_123):
    salesforce()

    first = connect(key_client, HTTP_IDEMPOTENCY_KEY="retry-1")
    second = connect(key_client, HTTP_IDEMPOTENCY_KEY="retry-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert Connection.objects.count() == 1
    assert AuditEvent.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_409(key_client, user_123):
    salesforce()
    connect(key_client, HTTP_IDEMPOTENCY_KEY="retry-2")

    response = connect(
        key_client, {**SEED_CONNECT, "connectionName": "Other"}, HTTP_IDEMPOTENCY_KEY="retry-2"
    )

    assert response.status_code == 409
    assert response.json()["message"] == "Idempotency-Key reused with a different request"
    assert Connection.objects.count() == 1


def test_idempotency_keys_belong_to_their_caller(key_client, user_123):
    salesforce()
    from rest_framework.test import APIClient

    from accounts.api_keys import api_key_create

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='other')[1]}")

    connect(key_client, HTTP_IDEMPOTENCY_KEY="shared")
    connect(other, HTTP_IDEMPOTENCY_KEY="shared")

    assert Connection.objects.count() == 2


def test_without_idempotency_key_each_post_creates(key_client, user_123):
    salesforce()
    connect(key_client)
    connect(key_client)
    assert Connection.objects.count() == 2


# --- GET /api/user-integrations/my-connections


def test_my_connections_as_in_the_seed(key_client, user_123):
    integration = salesforce()
    first = ConnectionFactory(user=user_123, integration=integration, connection_name="Salesforce Production")
    Connection.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(days=10),
        last_test_status="success",
        last_test_message="Connection successful",
        last_test_date=timezone.now(),
    )
    ConnectionFactory(
        user=user_123,
        integration=integration,
        connection_name="Salesforce Sandbox",
        configured_variables={"instance_url": "https://test.salesforce.com"},
    )
    ConnectionFactory(integration=integration)  # someone else's

    response = key_client.get("/api/user-integrations/my-connections?userId=user_123&status=active")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["total"] == 2
    assert body["stats"] == {"active": 2, "inactive": 0, "total": 2, "recent": 1}
    production, sandbox = body["connections"]
    assert set(production) == LIST_ITEM_KEYS
    assert production["connectionName"] == "Salesforce Production"
    assert production["lastTestStatus"] == "success"
    assert production["credentials"]["decrypted"] == {"clientId": "3MVG9...", "clientSecret": MASK}
    assert production["credentials"]["encrypted"].startswith("v1.test2.")
    assert production["integration"] == {
        "displayName": "Salesforce",
        "category": "crm",
        "iconUrl": integration.icon_url,
    }
    assert sandbox["lastTestStatus"] is None and sandbox["lastTestDate"] is None
    assert sandbox["configuredVariables"] == {"instance_url": "https://test.salesforce.com"}


def test_my_connections_requires_user_id_for_api_keys(key_client):
    response = key_client.get("/api/user-integrations/my-connections")

    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "userId query parameter is required"}


def test_my_connections_is_implied_for_an_end_user(user_client, user, other_user):
    mine = ConnectionFactory(user=user)
    ConnectionFactory(user=other_user)

    body = user_client.get("/api/user-integrations/my-connections").json()

    assert [c["connectionId"] for c in body["connections"]] == [mine.connection_id]


def test_an_end_user_cannot_list_someone_elses_connections(user_client, other_user):
    ConnectionFactory(user=other_user)

    response = user_client.get(f"/api/user-integrations/my-connections?userId={other_user.user_id}")

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "User not found"}


def test_my_connections_filters_and_pages(key_client, user_123):
    sf = [ConnectionFactory(user=user_123) for _ in range(3)]
    hs = ConnectionFactory(
        user=user_123,
        integration=hubspot(),
        auth_method_id="api-key",
        configured_variables={},
        credentials={"apiKey": "pat-na1-abc"},
    )
    Connection.objects.filter(pk=sf[0].pk).update(status="inactive")
    url = "/api/user-integrations/my-connections?userId=user_123"

    by_integration = key_client.get(f"{url}&integrationId=hubspot").json()
    assert [c["connectionId"] for c in by_integration["connections"]] == [hs.connection_id]
    assert by_integration["connections"][0]["credentials"]["decrypted"] == {"apiKey": MASK}
    assert by_integration["stats"] == {"active": 3, "inactive": 1, "total": 4, "recent": 4}

    inactive = key_client.get(f"{url}&status=inactive").json()
    assert [c["connectionId"] for c in inactive["connections"]] == [sf[0].connection_id]

    page = key_client.get(f"{url}&limit=2&offset=1").json()
    assert [c["connectionId"] for c in page["connections"]] == [sf[1].connection_id, sf[2].connection_id]
    assert page["total"] == 4
    assert set(page) == {"success", "connections", "total", "stats", "nextCursor"}
    rest = key_client.get(f"{url}&limit=2&cursor={page['nextCursor']}").json()
    assert [c["connectionId"] for c in rest["connections"]] == [hs.connection_id]
    assert rest["nextCursor"] is None


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("status=deleted", "Invalid status value. Must be 'active' or 'inactive'"),
        ("limit=0", "limit: Ensure this value is greater than or equal to 1."),
        ("offset=-1", "offset: Ensure this value is greater than or equal to 0."),
    ],
)
def test_my_connections_rejects_bad_filters(key_client, user_123, query, error):
    response = key_client.get(f"/api/user-integrations/my-connections?userId=user_123&{query}")

    assert response.status_code == 400
    assert response.json()["errors"] == [error]


def test_my_connections_runs_a_constant_number_of_queries(key_client, django_assert_max_num_queries):
    """5 or 500 connections: the same single query."""
    integration = salesforce()
    few, many = UserFactory(), UserFactory()
    for owner, count in ((few, 5), (many, 500)):
        Connection.objects.bulk_create(
            ConnectionFactory.build(user=owner, integration=integration) for _ in range(count)
        )

    # The first request proves the API key and loads the catalog (once per process); then the
    # user, the stats and the page come in one query.
    with django_assert_max_num_queries(4):
        small = key_client.get(f"/api/user-integrations/my-connections?userId={few.user_id}")
    with django_assert_max_num_queries(1):
        large = key_client.get(f"/api/user-integrations/my-connections?userId={many.user_id}")

    assert small.json()["total"] == 5
    assert large.json()["total"] == 500


# --- GET /api/user-integrations/:connectionId


def test_get_connection_as_in_the_seed(key_client, seed_connection):
    response = key_client.get(f"/api/user-integrations/{seed_connection.connection_id}")

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    body = response.json()
    assert body["success"] is True
    connection = body["connection"]
    assert set(connection) == LIST_ITEM_KEYS
    assert connection["credentials"]["decrypted"] == SEED_CREDENTIALS
    assert connection["credentials"]["encrypted"] == seed_connection.credentials_encrypted
    assert connection["integration"] == {
        "displayName": "Salesforce",
        "description": "Customer Relationship Management platform",
        "category": "crm",
        "iconUrl": seed_connection.integration.icon_url,
    }


def test_get_connection_is_one_query_once_the_key_and_catalog_are_warm(
    key_client, user, django_assert_num_queries
):
    first, second = ConnectionFactory(user=user), ConnectionFactory(user=user)
    key_client.get(f"/api/user-integrations/{first.connection_id}")  # proves the key, loads the catalog

    with django_assert_num_queries(1):  # the connection, its user and the catalog's revision together
        response = key_client.get(f"/api/user-integrations/{second.connection_id}")
    assert response.json()["connection"]["connectionId"] == second.connection_id
    with django_assert_num_queries(1):
        assert key_client.get("/api/user-integrations/conn_none").status_code == 404


def test_the_owner_sees_decrypted_values_an_operator_sees_masks(user, operator_client):
    connection = ConnectionFactory(user=user)
    from rest_framework.test import APIClient

    owner = APIClient()
    owner.force_login(user)
    url = f"/api/user-integrations/{connection.connection_id}"

    assert (
        owner.get(url).json()["connection"]["credentials"]["decrypted"]["clientSecret"] == "1234567890ABCDEF"
    )
    assert operator_client.get(url).json()["connection"]["credentials"]["decrypted"]["clientSecret"] == MASK


def test_unknown_connection_is_404(key_client):
    response = key_client.get("/api/user-integrations/conn_nothing")

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Connection not found"}


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("put", "", {"connectionName": "Mine now"}),
        ("delete", "", None),
        ("get", "/history", None),
    ],
)
def test_an_end_user_cannot_touch_someone_elses_connection(user_client, other_user, method, suffix, body):
    theirs = ConnectionFactory(user=other_user, connection_name="Theirs")

    response = getattr(user_client, method)(
        f"/api/user-integrations/{theirs.connection_id}{suffix}", body, format="json"
    )

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Connection not found"}
    theirs.refresh_from_db()
    assert (theirs.connection_name, theirs.status, theirs.version) == ("Theirs", "active", 1)


# --- PUT /api/user-integrations/:connectionId


def test_update_the_seed_example(key_client, seed_connection):
    response = key_client.put(
        f"/api/user-integrations/{seed_connection.connection_id}", SEED_UPDATE, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    seed_connection.refresh_from_db()
    assert body == {
        "success": True,
        "message": "Connection updated successfully",
        "connection": {
            "connectionId": seed_connection.connection_id,
            "connectionName": "Salesforce Production v2",
            "updatedAt": body["connection"]["updatedAt"],
        },
    }
    assert response["ETag"] == '"2"'
    assert seed_connection.configured_variables == {"instance_url": "https://newinstance.salesforce.com"}
    assert connection_credentials(connection=seed_connection)["clientSecret"] == "newSecretValue123"
    event = seed_connection.audit_events.get(action="update")
    assert event.fields == [
        "configuredVariables.instance_url",
        "connectionName",
        "credentials.clientSecret",
    ]


def test_update_with_the_secret_omitted_or_empty_keeps_it(key_client, seed_connection):
    url = f"/api/user-integrations/{seed_connection.connection_id}"

    key_client.put(url, {"credentials": {"clientId": "3MVG9-new"}}, format="json")
    key_client.put(url, {"credentials": {"clientId": "3MVG9-newer", "clientSecret": ""}}, format="json")

    seed_connection.refresh_from_db()
    assert connection_credentials(connection=seed_connection) == {
        "clientId": "3MVG9-newer",
        "clientSecret": "1234567890ABCDEF",
    }


def test_update_an_empty_required_non_secret_field_is_refused(key_client, seed_connection):
    response = key_client.put(
        f"/api/user-integrations/{seed_connection.connection_id}",
        {"credentials": {"clientId": ""}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == ["credentials.clientId cannot be empty"]


def test_update_changing_auth_method_requires_its_fields(key_client, seed_connection):
    url = f"/api/user-integrations/{seed_connection.connection_id}"

    refused = key_client.put(url, {"authMethodId": "api-key"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == ["credentials.apiKey is required"]

    accepted = key_client.put(
        url, {"authMethodId": "api-key", "credentials": {"apiKey": "00D-token"}}, format="json"
    )
    assert accepted.status_code == 200
    seed_connection.refresh_from_db()
    assert (seed_connection.auth_method_id, seed_connection.auth_method_label) == ("api-key", "API Key")
    assert connection_credentials(connection=seed_connection) == {"apiKey": "00D-token"}
    assert seed_connection.configured_variables == {"instance_url": "https://mycompany.salesforce.com"}


def test_update_to_an_unknown_auth_method(key_client, seed_connection):
    response = key_client.put(
        f"/api/user-integrations/{seed_connection.connection_id}", {"authMethodId": "saml"}, format="json"
    )
    assert response.json()["errors"] == ["authMethodId must be one of: oauth2, api-key, sign-in"]


def test_update_invalid_status_as_in_the_seed(key_client, seed_connection):
    response = key_client.put(
        f"/api/user-integrations/{seed_connection.connection_id}", {"status": "deleted"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Validation error",
        "errors": ["Invalid status value. Must be 'active' or 'inactive'"],
    }


def test_update_rejects_unknown_and_empty_bodies(key_client, seed_connection):
    url = f"/api/user-integrations/{seed_connection.connection_id}"

    assert key_client.put(url, {"userId": "user_x"}, format="json").json()["errors"] == [
        "userId cannot be updated"
    ]
    assert key_client.put(url, {}, format="json").json()["errors"] == [
        "Nothing to update: send connectionName, authMethodId, authMethodLabel, configuredVariables, credentials or status"
    ]


def test_update_unknown_connection_is_404(key_client):
    response = key_client.put("/api/user-integrations/conn_nothing", {"connectionName": "x"}, format="json")
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Connection not found"}


def test_put_status_active_reactivates(key_client, seed_connection):
    url = f"/api/user-integrations/{seed_connection.connection_id}"
    key_client.delete(url)

    response = key_client.put(url, {"status": "active"}, format="json")

    assert response.status_code == 200
    seed_connection.refresh_from_db()
    assert seed_connection.status == "active"
    assert list(seed_connection.audit_events.values_list("action", flat=True)) == ["reactivate", "delete"]


def test_stale_if_match_is_412_and_changes_nothing(key_client, seed_connection):
    url = f"/api/user-integrations/{seed_connection.connection_id}"
    etag = key_client.get(url)["ETag"]
    key_client.put(url, {"connectionName": "First"}, format="json", HTTP_IF_MATCH=etag)

    response = key_client.put(url, {"connectionName": "Second"}, format="json", HTTP_IF_MATCH=etag)

    assert response.status_code == 412
    assert response.json() == {
        "success": False,
        "message": "Connection has changed since it was read",
        "error": 'Current ETag is "2"',
    }
    seed_connection.refresh_from_db()
    assert seed_connection.connection_name == "First"


def test_matching_if_match_updates(key_client, seed_connection):
    url = f"/api/user-integrations/{seed_connection.connection_id}"
    response = key_client.put(url, {"connectionName": "Renamed"}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200
    assert response["ETag"] == '"2"'


# --- DELETE /api/user-integrations/:connectionId


def test_delete_as_in_the_seed(key_client, seed_connection):
    response = key_client.delete(f"/api/user-integrations/{seed_connection.connection_id}")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Connection deleted successfully",
        "connectionId": seed_connection.connection_id,
    }
    seed_connection.refresh_from_db()
    assert seed_connection.status == "inactive"
    assert (
        key_client.get(f"/api/user-integrations/{seed_connection.connection_id}").json()["connection"][
            "status"
        ]
        == "inactive"
    )


def test_permanent_delete_erases_credentials_and_keeps_history_without_values(
    key_client, seed_connection, user_123
):
    url = f"/api/user-integrations/{seed_connection.connection_id}"
    seed_connection.test_runs.create(  # a finished test whose text quotes values
        status="success",
        message="Authenticated as dana@example.com",
        endpoint="https://mycompany.salesforce.com/services/data",
        requested_by="schedule",
        trigger="schedule",
    )
    secret = SEED_CREDENTIALS["clientSecret"]

    response = key_client.delete(f"{url}?permanent=true")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "Connection deleted permanently",
        "connectionId": seed_connection.connection_id,
    }
    row = Connection.objects.get(pk=seed_connection.pk)
    assert row.credentials_encrypted == "" and row.configured_variables == {}
    assert row.status == "inactive" and row.deleted_at is not None and row.account is None
    assert all(not (r.message or r.endpoint or r.error_message) for r in row.test_runs.all())
    # Gone everywhere, for good: no read, update, test, reactivation or second delete.
    assert key_client.get(url).status_code == 404
    assert key_client.put(url, {"status": "active"}, format="json").status_code == 404
    assert key_client.post(f"{url}/test").status_code == 404
    assert row.test_runs.get().status == "success"
    assert key_client.delete(f"{url}?permanent=true").status_code == 404
    listing = key_client.get("/api/user-integrations/my-connections", {"userId": "user_123"}).json()
    assert listing["connections"] == [] and listing["stats"]["total"] == 0
    # The history outlives it, naming fields, never values.
    history = key_client.get(f"{url}/history").json()["history"]
    assert [h["action"] for h in history][:1] == ["erase"]
    assert history[0]["fields"] == ["configuredVariables", "credentials", "status"]
    assert secret not in str(history)


def test_plain_delete_stays_soft_and_permanent_must_be_a_boolean(key_client, seed_connection):
    url = f"/api/user-integrations/{seed_connection.connection_id}"
    assert key_client.delete(f"{url}?permanent=false").json()["message"] == "Connection deleted successfully"
    seed_connection.refresh_from_db()
    assert seed_connection.deleted_at is None and seed_connection.credentials_encrypted

    response = key_client.delete(f"{url}?permanent=maybe")
    assert response.status_code == 400
    assert response.json()["success"] is False and "permanent" in str(response.json()["errors"])
    # A soft-deleted connection can still be deleted for good.
    assert key_client.delete(f"{url}?permanent=true").status_code == 200


def test_delete_unknown_connection_is_404(key_client):
    response = key_client.delete("/api/user-integrations/conn_nothing")
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Connection not found"}


# --- GET /api/user-integrations/:connectionId/history


def test_history_names_who_what_and_when(user_client, user, key_client):
    salesforce()
    connection_id = connect(user_client, {k: v for k, v in SEED_CONNECT.items() if k != "userId"}).json()[
        "connectionId"
    ]
    key_client.put(f"/api/user-integrations/{connection_id}", {"connectionName": "Renamed"}, format="json")
    user_client.delete(f"/api/user-integrations/{connection_id}")

    response = user_client.get(f"/api/user-integrations/{connection_id}/history")

    assert response.status_code == 200
    history = response.json()["history"]
    assert [(h["action"], h["actor"]) for h in history] == [
        ("delete", f"user:{user.user_id}"),
        ("update", history[1]["actor"]),
        ("create", f"user:{user.user_id}"),
    ]
    assert history[1]["actor"].startswith("api-key:tests")
    assert history[1]["fields"] == ["connectionName"]
    assert "credentials.clientSecret" in history[2]["fields"]
    assert all(h["createdAt"].endswith("Z") for h in history)


def test_a_hidden_field_takes_its_default_gitlab_dot_com(key_client, user_123):
    body = {
        "userId": "user_123",
        "integrationId": "gitlab",
        "authMethodId": "token",
        "configuredVariables": {"deployment": "gitlab.com"},
        "credentials": {"token": "glpat-abcdefghijklmnopqrst"},
    }
    gitlab = key_client.get("/api/integrations/gitlab/auth-schema").json()
    method = gitlab["authMethods"][0]
    body["authMethodId"] = method["id"]
    body["credentials"] = {
        f["name"]: "glpat-abcdefghijklmnopqrst" for f in method["fields"] if f.get("required")
    }

    response = connect(key_client, body)

    assert response.status_code == 201, response.json()
    connection = Connection.objects.get(connection_id=response.json()["connectionId"])
    assert connection.configured_variables["server_url"] == "https://gitlab.com"

    body["configuredVariables"] = {"deployment": "self-managed"}
    refused = connect(key_client, body)
    assert refused.status_code == 400
    assert "configuredVariables.server_url is required" in refused.json()["errors"]


def test_deleting_an_integration_with_connections_deactivates_it(key_client, seed_connection):
    response = key_client.delete("/api/integrations/salesforce")

    assert response.status_code == 200
    assert response.json()["success"] is True
    seed_connection.refresh_from_db()
    assert seed_connection.integration.status == "inactive"
    assert Connection.objects.filter(pk=seed_connection.pk).exists()
    refused = connect(key_client)
    assert refused.status_code == 400
