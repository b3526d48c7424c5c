"""POST /api/user-integrations/oauth/start: the errors the issue lists, in the envelope, and what a
host product gets back."""

import base64
import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connections import encryption
from connections.models import OAuthFlow
from connections.oauth.clients import oauth_app_save
from tests.connections.factories import (
    integration_from_document,
    salesforce,
    sign_in_connection,
    sign_in_credentials,
    sign_in_document,
)

ORIGIN = "http://127.0.0.1:9"  # never contacted by start


@pytest.fixture
def integration(allow_local_provider, db):
    integration = integration_from_document(sign_in_document(ORIGIN))
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id="app-id-1", client_secret="app-secret-2"
    )
    return integration


def start(client, user, **body):
    payload = {"userId": user.user_id, "integrationId": "signin", "authMethodId": "oauth", **body}
    return client.post("/api/user-integrations/oauth/start", payload, format="json")


def test_start_answers_the_consent_url_with_state_and_pkce(integration, user, key_client):
    response = start(key_client, user, connectionName="Mine")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    url = urlsplit(body["authorizationUrl"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ORIGIN}/oauth/authorize"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "app-id-1"
    assert query["redirect_uri"] == "http://testserver/oauth/callback"
    assert query["scope"] == "read write"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 43
    assert "app-secret-2" not in body["authorizationUrl"]
    expires = parse_datetime(body["expiresAt"])
    assert abs((expires - timezone.now() - timedelta(minutes=10)).total_seconds()) < 5

    flow = OAuthFlow.objects.get()
    # Only a hash of the state is kept; the verifier is encrypted and matches the challenge.
    assert flow.state_hash == hashlib.sha256(query["state"].encode()).hexdigest()
    assert query["state"] not in flow.state_hash
    verifier = encryption.decrypt(flow.code_verifier_encrypted, bound_to=flow.state_hash)
    assert verifier not in flow.code_verifier_encrypted.encode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
    assert challenge == query["code_challenge"]
    assert flow.user == user and flow.connection_name == "Mine" and not flow.requires_session


def test_public_url_makes_the_callback(integration, user, key_client, settings):
    settings.PUBLIC_URL = "https://connections.example.com"
    url = start(key_client, user).json()["authorizationUrl"]
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == ["https://connections.example.com/oauth/callback"]


def test_unknown_integration_is_404(integration, user, key_client):
    response = start(key_client, user, integrationId="nope")
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Integration not found"}


def test_a_method_that_is_not_authorization_code_is_400(user, key_client):
    salesforce()
    response = start(key_client, user, integrationId="salesforce", authMethodId="api-key")
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert "authorization code" in response.json()["error"]


def test_an_app_without_credentials_is_409(user, key_client, allow_local_provider):
    integration_from_document(sign_in_document(ORIGIN))
    response = start(key_client, user)
    assert response.status_code == 409
    assert response.json()["message"] == "OAuth app not configured"


def test_the_environment_can_set_up_the_app(user, key_client, allow_local_provider, settings):
    integration_from_document(sign_in_document(ORIGIN))
    settings.OAUTH_CLIENTS = {"SIGNIN": {"clientId": "env-client-3", "clientSecret": "env-secret-4"}}
    response = start(key_client, user)
    assert response.status_code == 200
    assert "client_id=env-client-3" in response.json()["authorizationUrl"]


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example/done",
        "//evil.example/done",
        "https://host.example.com.evil.example/done",
        "https://host.example.com:8443/done",
        "http://host.example.com/app/done",
        "https://host.example.com/other",
        "https://user@host.example.com/app",
        "javascript:alert(1)",
    ],
)
def test_a_return_url_outside_the_allowlist_is_400(integration, user, key_client, settings, return_url):
    settings.OAUTH_RETURN_URL_ALLOWLIST = ["https://host.example.com/app"]
    response = start(key_client, user, returnUrl=return_url)
    assert response.status_code == 400
    assert "returnUrl" in response.json()["errors"][0]
    assert not OAuthFlow.objects.exists()


def test_a_return_url_inside_the_allowlist_is_kept(integration, user, key_client, settings):
    settings.OAUTH_RETURN_URL_ALLOWLIST = ["https://host.example.com/app"]
    assert start(key_client, user, returnUrl="https://host.example.com/app/done?x=1").status_code == 200
    assert OAuthFlow.objects.get().return_url == "https://host.example.com/app/done?x=1"


def test_reconnecting_someone_elses_connection_is_404(integration, user, other_user, key_client):
    theirs = sign_in_connection(
        integration,
        user=other_user,
        credentials=sign_in_credentials(access_token="t", refresh_token=None, expires_in=None),
    )
    response = start(key_client, user, connectionId=theirs.connection_id)
    assert response.status_code == 404


def test_an_end_user_starts_for_themselves_only(integration, user, other_user, user_client):
    assert start(user_client, other_user).status_code == 404
    response = user_client.post(
        "/api/user-integrations/oauth/start",
        {"integrationId": "signin", "authMethodId": "oauth"},
        format="json",
    )
    assert response.status_code == 200
    assert OAuthFlow.objects.get().requires_session is True


def test_the_app_api_never_returns_the_secret(integration, key_client, user_client):
    url = "/api/integrations/signin/oauth-apps/oauth"
    saved = key_client.put(url, {"clientId": "new-id-5", "clientSecret": "new-secret-6"}, format="json")
    assert saved.status_code == 200
    body = key_client.get(url).json()
    assert body["oauthApp"] == {
        "integrationId": "signin",
        "authMethodId": "oauth",
        "configured": True,
        "source": "admin",
        "clientId": "new-id-5",
        "hasClientSecret": True,
        "callbackUrl": "http://testserver/oauth/callback",
    }
    assert "new-secret-6" not in saved.content.decode() + str(body)
    assert user_client.get(url).status_code == 403
