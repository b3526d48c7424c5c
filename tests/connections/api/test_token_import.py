"""POST /api/users/:userId/connections/import (seed 004): tokens a host product holds become a
sign-in connection — validated, encrypted, audited, tested by a worker, refreshed like any other —
and the same token twice answers 409. Tokens come from the provider server's real token endpoint."""

import pytest
import requests
from django.utils import timezone

from connections import test_run_services
from connections.models import AuditEvent, CheckRun, Connection
from connections.oauth.clients import oauth_app_save
from connections.oauth.tokens import oauth_connections_due, oauth_token_refresh
from connections.selectors import MASK, connection_credentials
from connections.token_import import import_fingerprint
from integrations.documents import validate_document
from tests.connections.factories import integration_from_document, provider_document, sign_in_document
from tests.connections.task_queue import clear_published, published_messages
from tests.provider_server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(provider_server, allow_local_provider):
    document = sign_in_document(provider_server.origin)
    document["identity"] = {
        "request": {"method": "GET", "path": "/me"},
        "accountId": "/id",
        "email": "/email",
    }
    integration = integration_from_document(validate_document(document))
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    return integration


@pytest.fixture
def issued_token(provider_server) -> str:
    """A live access token from the provider's token endpoint."""
    answer = requests.post(
        provider_server.url("/oauth/token"),
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=5,
    )
    return answer.json()["access_token"]


@pytest.fixture(autouse=True)
def queue():
    clear_published()
    yield
    clear_published()


def import_url(user) -> str:
    return f"/api/users/{user.user_id}/connections/import"


def body(token: str, **extra) -> dict:
    return {"integrationId": "signin", "scopes": ["read"], "accessToken": token, **extra}


def test_an_import_is_a_masked_encrypted_audited_connection_tested_by_a_worker(
    key_client, user, integration, issued_token, django_capture_on_commit_callbacks
):
    expires_at = int((timezone.now().timestamp() + 3600) * 1000)
    with django_capture_on_commit_callbacks(execute=True):
        response = key_client.post(
            import_url(user),
            body(issued_token, refreshToken=REFRESH_TOKEN, expiresAt=expires_at, connectionName="Imported"),
            format="json",
        )

    assert response.status_code == 201, response.json()
    answer = response.json()
    assert answer["message"] == "Connection imported successfully"
    assert issued_token not in response.content.decode() and REFRESH_TOKEN not in response.content.decode()
    item = answer["connection"]
    assert item["connectionId"] == answer["connectionId"] and item["connectionName"] == "Imported"
    assert item["credentials"]["decrypted"]["accessToken"] == MASK
    connection = Connection.objects.get(connection_id=answer["connectionId"])
    assert issued_token not in connection.credentials_encrypted
    assert connection.import_fingerprint == import_fingerprint(
        integration_id="signin", access_token=issued_token
    )
    stored = connection_credentials(connection=connection)
    assert stored["accessToken"] == issued_token and stored["refreshToken"] == REFRESH_TOKEN
    assert stored["expiresAt"] == expires_at and connection.oauth_scopes == ["read"]
    assert connection.oauth_has_refresh_token
    events = AuditEvent.objects.filter(connection=connection)
    assert {e.action for e in events} >= {"create", "import"}
    assert all(issued_token not in str(e.fields) for e in events)

    # Tested asynchronously: a run is queued and its id (never a token) sent to the workers.
    run = CheckRun.objects.get(run_id=answer["testRun"]["id"])
    assert run.status == "queued" and answer["testRun"]["statusUrl"].endswith(run.run_id)
    assert [message.args for message in published_messages()] == [[run.run_id]]
    assert all(issued_token not in message.raw for message in published_messages())
    test_run_services.test_run_execute_queued(run_id=run.run_id)  # what the worker does
    connection.refresh_from_db()
    assert connection.last_test_status == "success"
    assert connection.account_id == "4217" and connection.account_email == "ada@example.com"


def test_the_same_token_twice_answers_409_with_the_existing_connection(
    key_client, user, other_user, integration, issued_token
):
    first = key_client.post(import_url(user), body(issued_token), format="json").json()

    again = key_client.post(import_url(user), body(issued_token, connectionName="Again"), format="json")

    assert again.status_code == 409
    assert again.json() == {
        "success": False,
        "message": "Connection already exists",
        "error": "This access token was already imported for this user and integration",
        "connectionId": first["connectionId"],
    }
    assert Connection.objects.filter(user=user).count() == 1
    # Another user's import of it is theirs.
    assert key_client.post(import_url(other_user), body(issued_token), format="json").status_code == 201


def test_an_imported_refresh_token_is_refreshed_like_any_sign_in(
    key_client, user, integration, provider_server
):
    expired = int((timezone.now().timestamp() - 60) * 1000)
    answer = key_client.post(
        import_url(user),
        body("stale-token-Qw12", refreshToken=REFRESH_TOKEN, expiresAt=expired),
        format="json",
    ).json()
    connection = Connection.objects.get(connection_id=answer["connectionId"])
    assert connection.pk in oauth_connections_due(within=timezone.timedelta(minutes=5), limit=100)

    oauth_token_refresh(connection=connection)

    connection.refresh_from_db()
    assert connection_credentials(connection=connection)["accessToken"].startswith("issued-")
    assert connection.oauth_expires_at > timezone.now()


@pytest.mark.parametrize(
    ("changes", "status", "expected"),
    [
        ({"integrationId": "nope"}, 404, "Integration not found"),
        ({"accessToken": ""}, 400, "accessToken"),
        ({"scopes": "read"}, 400, "scopes"),
        ({"authMethodId": "missing"}, 400, "authMethodId 'missing' is not a method"),
        ({"expiresAt": 1000}, 400, "expiresAt is in the past"),
        ({"oauth1Token": "x", "accessTokenSecret": "y"}, 400, "OAuth 1 tokens"),
        ({"appKey": "signin"}, 400, "appKey is not a field of an import"),
        ({"configuredVariables": {"nope": "x"}}, 400, "configuredVariables.nope"),
    ],
)
def test_bad_imports_are_refused_and_nothing_is_written(
    key_client, user, integration, changes, status, expected
):
    response = key_client.post(import_url(user), {**body("token-Zx81"), **changes}, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["success"] is False
    assert expected in str(response.json())
    assert not Connection.objects.exists()


def test_integrations_without_a_sign_in_method_take_no_import(key_client, user, integration):
    # Stripe connects with API keys only (HubSpot gained a sign-in method).
    integration_from_document(provider_document("stripe"))
    response = key_client.post(import_url(user), body("token-Zx81", integrationId="stripe"), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "integrationId 'stripe' has no OAuth sign-in method to import tokens into"
    ]


def test_only_the_user_or_keys_import(user_client, other_user, integration):
    response = user_client.post(import_url(other_user), body("token-Zx81"), format="json")
    assert response.status_code == 404
