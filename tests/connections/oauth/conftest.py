"""A sign-in integration served by the real OAuth 2.0 provider (tests/oauth_provider), and helpers
to go through the flow the way a browser does: start, consent at the provider, come back."""

from urllib.parse import urlsplit

import pytest

from connections.oauth.clients import oauth_app_save
from integrations.documents import validate_document
from tests.connections.factories import integration_from_document

CLIENT_ID = "connections-app"
CLIENT_SECRET = "connections-app-secret-4Kq9"


def idp_document(provider, **apply) -> dict:
    """The provider's endpoints as a catalog document: sign in, test with its userinfo endpoint."""
    return validate_document(
        {
            "id": "idp",
            "displayName": "Test IdP",
            "description": "The test suite's OAuth 2.0 authorization server",
            "category": "testing",
            "status": "active",
            "baseUrl": provider.origin,
            "allowedHosts": ["127.0.0.1"],
            "testRequest": {"method": "GET", "path": urlsplit(provider.userinfo_url).path},
            "authMethods": [
                {
                    "id": "oauth",
                    "type": "OAUTH",
                    "label": "Sign in with Test IdP",
                    "fields": [],
                    "apply": {
                        "type": "oauth2_authorization_code",
                        "authorizeUrl": provider.authorize_url,
                        "tokenUrl": provider.token_url,
                        "revocationUrl": provider.revocation_url,
                        "scopes": ["read", "write"],
                        "clientAuth": "basic",
                        **apply,
                    },
                }
            ],
        }
    )


def register(provider, callback: str, **options) -> None:
    provider.register_client(CLIENT_ID, CLIENT_SECRET, [callback], scopes=["read", "write"], **options)


@pytest.fixture
def idp(oauth_provider, allow_local_provider, db):
    """The provider, with this app registered as a client (callback on the test client's host)
    and the integration's OAuth app set up by an operator."""
    register(oauth_provider, "http://testserver/oauth/callback")
    integration = integration_from_document(idp_document(oauth_provider))
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    return oauth_provider


def start(client, user=None, **body) -> str:
    """POST …/oauth/start; the provider's consent URL."""
    payload = {"integrationId": "idp", "authMethodId": "oauth", **body}
    if user is not None:
        payload["userId"] = user.user_id
    response = client.post("/api/user-integrations/oauth/start", payload, format="json")
    assert response.status_code == 200, response.content
    return response.json()["authorizationUrl"]


def come_back(client, location: str):
    """The browser following the provider's redirect to /oauth/callback."""
    parts = urlsplit(location)
    assert parts.path == "/oauth/callback", location
    return client.get(f"{parts.path}?{parts.query}")
