"""Integrations built from the real provider files (plus one local test document), and connections
whose credentials are encrypted with the real encryption module."""

import uuid
from datetime import timedelta
from pathlib import Path

import factory
from django.utils import timezone

import integrations
from connections import encryption
from connections.models import Connection, new_connection_id
from connections.oauth.tokens import oauth_columns
from integrations.catalog import catalog_changed
from integrations.documents import load_document_file, validate_document
from integrations.models import Integration
from tests.accounts.factories import UserFactory
from tests.integrations.test_connectivity import provider_document as connectivity_provider_document
from tests.provider_server import BEARER_TOKEN

PROVIDERS = Path(integrations.__file__).parent / "providers"

# A provider that exercises what the real ones do not: showWhen, select, number, email,
# min/maxLength and a secret field that is not a password.
ACME_DOCUMENT = validate_document(
    {
        "id": "acme",
        "displayName": "Acme Widgets",
        "description": "A test service",
        "category": "testing",
        "status": "active",
        "baseUrl": "https://{{subdomain}}.acme.test/api/v2",
        "allowedHosts": ["*.acme.test"],
        "testRequest": {"method": "GET", "path": "/ping"},
        "authMethods": [
            {
                "id": "basic",
                "type": "BASIC",
                "label": "Username and password",
                "fields": [
                    {
                        "name": "username",
                        "label": "Username",
                        "type": "string",
                        "required": True,
                        "minLength": 3,
                        "maxLength": 20,
                    },
                    {"name": "password", "label": "Password", "type": "password", "required": True},
                    {
                        "name": "region",
                        "label": "Region",
                        "type": "select",
                        "default": "us",
                        "options": [{"value": "us", "label": "US"}, {"value": "eu", "label": "EU"}],
                    },
                    {
                        "name": "euToken",
                        "label": "EU token",
                        "type": "string",
                        "secret": True,
                        "required": True,
                        "showWhen": {"key": "region", "value": "eu"},
                    },
                    {"name": "contact", "label": "Contact", "type": "email"},
                    {"name": "timeout", "label": "Timeout", "type": "number"},
                    {
                        "name": "account",
                        "label": "Account",
                        "type": "string",
                        "pattern": "^AC[0-9]{4}$",
                        "patternMessage": "must look like AC1234",
                    },
                ],
                "additionalFields": [
                    {"name": "subdomain", "label": "Subdomain", "type": "string", "required": True},
                ],
                "apply": {"type": "basic", "username": "{{username}}", "password": "{{password}}"},
            },
            {
                "id": "token",
                "type": "BEARER",
                "label": "API token",
                "fields": [{"name": "apiToken", "label": "API token", "type": "password", "required": True}],
                "additionalFields": [
                    {"name": "subdomain", "label": "Subdomain", "type": "string", "required": True},
                ],
                "apply": {"type": "bearer", "field": "apiToken"},
            },
        ],
    },
    source="tests/connections/factories.py",
)


# An on-premise service reached over plain http: only hosts in OUTBOUND_ALLOWLIST will do.
ONPREM_DOCUMENT = validate_document(
    {
        "id": "onprem",
        "displayName": "On-prem CRM",
        "description": "Self-hosted",
        "category": "testing",
        "status": "active",
        "baseUrl": "http://{{host}}/api",
        "allowedHosts": ["*.corp.test", "localhost"],
        "testRequest": {"method": "GET", "path": "/ping"},
        "authMethods": [
            {
                "id": "token",
                "type": "BEARER",
                "label": "Token",
                "fields": [{"name": "token", "label": "Token", "type": "password", "required": True}],
                "additionalFields": [{"name": "host", "label": "Host", "type": "string", "required": True}],
                "apply": {"type": "bearer", "field": "token"},
            }
        ],
    },
    source="tests/connections/factories.py",
)


def provider_document(integration_id: str) -> dict:
    return load_document_file(PROVIDERS / integration_id / "auth.schema.json")


def integration_from_document(document: dict, **overrides) -> Integration:
    values = {
        "display_name": document["displayName"],
        "description": document["description"],
        "category": document["category"],
        "icon_url": document.get("iconUrl", f"/static/img/integrations/{document['id']}.svg"),
        "status": document["status"],
        "base_url": document["baseUrl"],
        "document": document,
        **overrides,
    }
    integration, _ = Integration.objects.update_or_create(id=document["id"], defaults=values)
    catalog_changed()  # as the catalog's services do
    return integration


def salesforce(**overrides) -> Integration:
    return integration_from_document(provider_document("salesforce"), **overrides)


def hubspot(**overrides) -> Integration:
    return integration_from_document(provider_document("hubspot"), **overrides)


def acme(**overrides) -> Integration:
    return integration_from_document(ACME_DOCUMENT, **overrides)


def onprem(**overrides) -> Integration:
    return integration_from_document(ONPREM_DOCUMENT, **overrides)


SEED_CREDENTIALS = {"clientId": "3MVG9...", "clientSecret": "1234567890ABCDEF"}


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A Salesforce OAuth connection by default; pass ``credentials={...}`` to choose them."""

    class Meta:
        model = Connection

    class Params:
        credentials = factory.LazyFunction(lambda: dict(SEED_CREDENTIALS))

    connection_id = factory.LazyFunction(new_connection_id)
    user = factory.SubFactory(UserFactory)
    integration = factory.LazyFunction(salesforce)
    auth_method_id = "oauth2"
    auth_method_label = "OAuth 2.0"
    connection_name = factory.Sequence(lambda n: f"Salesforce {n}")
    configured_variables = factory.LazyFunction(lambda: {"instance_url": "https://mycompany.salesforce.com"})
    credentials_encrypted = factory.LazyAttribute(
        lambda o: encryption.encrypt_json(o.credentials, bound_to=o.connection_id)
    )


# --- Connection tests: an integration served by tests/provider_server.py (see tests/conftest.py's
# provider_server and allow_local_provider fixtures; the bench uses it too).


def local_provider_document(origin: str, *, slow_ms: int = 200, together: int | None = None) -> dict:
    """The connectivity suite's provider (bearer, basic, API keys, OAuth) plus a bearer method
    ``slow`` whose test request is answered in ``slow_ms``, or, with ``together``, once that many
    of its test requests are in at once (an error if they were not, within ``slow_ms``)."""
    document = connectivity_provider_document(origin)
    slow = {
        "id": "slow",
        "type": "BEARER",
        "label": "Bearer token (slow service)",
        "fields": [{"name": "token", "label": "token", "type": "password", "required": True}],
        "apply": {"type": "bearer", "field": "token"},
        "testRequest": {"method": "GET", "path": "/slow/bearer", "query": {"ms": str(slow_ms)}},
    }
    if together:
        group = {"together": str(together), "group": uuid.uuid4().hex}
        slow["testRequest"]["query"] |= group
    return validate_document({**document, "authMethods": [*document["authMethods"], slow]})


def local_provider(origin: str, **kwargs) -> Integration:
    return integration_from_document(local_provider_document(origin, **kwargs))


def local_connection(integration: Integration, *, auth_method_id: str = "bearer", **kwargs) -> Connection:
    """A connection to the local provider; the right bearer token unless ``credentials`` say otherwise."""
    kwargs.setdefault("credentials", {"token": BEARER_TOKEN})
    return ConnectionFactory(
        integration=integration,
        auth_method_id=auth_method_id,
        auth_method_label=integration.auth_method(auth_method_id)["label"],
        connection_name=kwargs.pop("connection_name", f"Local {auth_method_id}"),
        configured_variables={},
        **kwargs,
    )


# --- Sign-in (OAuth 2.0 authorization code) connections.


def sign_in_document(origin: str, *, integration_id: str = "signin", **apply) -> dict:
    """An integration whose only method signs in at ``origin`` (a local OAuth server: the
    provider server's token endpoint, or tests/oauth_provider) and tests with the bearer token."""
    return validate_document(
        {
            "id": integration_id,
            "displayName": "Sign-in Provider",
            "description": "A local OAuth 2.0 authorization server",
            "category": "testing",
            "status": "active",
            "baseUrl": origin,
            "allowedHosts": ["127.0.0.1"],
            "testRequest": {"method": "GET", "path": "/oauth/protected", "expectedStatus": [200]},
            "authMethods": [
                {
                    "id": "oauth",
                    "type": "OAUTH",
                    "label": "Sign in",
                    "fields": [],
                    "apply": {
                        "type": "oauth2_authorization_code",
                        "authorizeUrl": f"{origin}/oauth/authorize",
                        "tokenUrl": f"{origin}/oauth/token",
                        "scopes": ["read", "write"],
                        **apply,
                    },
                }
            ],
        },
        source="tests/connections/factories.py",
    )


def sign_in_credentials(*, access_token: str, refresh_token: str | None, expires_in: int | None) -> dict:
    """The stored shape of a sign-in connection's credentials (connections/oauth/tokens.py)."""
    expires_at = (
        None
        if expires_in is None
        else int((timezone.now() + timedelta(seconds=expires_in)).timestamp() * 1000)
    )
    credentials = {"accessToken": access_token, "tokenType": "Bearer", "expiresAt": expires_at}
    if refresh_token:
        credentials["refreshToken"] = refresh_token
    return credentials


def sign_in_connection(integration: Integration, *, credentials: dict, **kwargs) -> Connection:
    """A sign-in connection holding ``credentials``, its oauth_* columns filled as the flow does."""
    return ConnectionFactory(
        integration=integration,
        auth_method_id="oauth",
        auth_method_label="Sign in",
        connection_name=kwargs.pop("connection_name", "Signed in"),
        configured_variables={},
        credentials=credentials,
        **oauth_columns(credentials, scopes=["read", "write"]),
        **kwargs,
    )
