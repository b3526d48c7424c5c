"""Test requests per auth method, end to end over real sockets against the local provider."""

import base64
import json

import pytest

from integrations.connectivity import perform_test_request
from integrations.documents import validate_document
from tests import provider_server as provider

GOOD = {
    "basic": {"username": provider.USERNAME, "password": provider.PASSWORD},
    "bearer": {"token": provider.BEARER_TOKEN},
    "header": {"apiKey": provider.API_KEY},
    "query": {"apiKey": provider.API_KEY},
    "client-credentials": {"clientId": provider.CLIENT_ID, "clientSecret": provider.CLIENT_SECRET},
    "client-credentials-basic": {"clientId": provider.CLIENT_ID, "clientSecret": provider.CLIENT_SECRET},
    "refresh-token": {
        "clientId": provider.CLIENT_ID,
        "clientSecret": provider.CLIENT_SECRET,
        "refreshToken": provider.REFRESH_TOKEN,
    },
}
BAD = {
    "basic": {"username": provider.USERNAME, "password": "wrong-password-1"},
    "bearer": {"token": "wrong-token-2"},
    "header": {"apiKey": "wrong-key-3"},
    "query": {"apiKey": "wrong-key-4"},
    "client-credentials": {"clientId": provider.CLIENT_ID, "clientSecret": "wrong-secret-5"},
    "client-credentials-basic": {"clientId": provider.CLIENT_ID, "clientSecret": "wrong-secret-6"},
    "refresh-token": {
        "clientId": provider.CLIENT_ID,
        "clientSecret": provider.CLIENT_SECRET,
        "refreshToken": "wrong-refresh-7",
    },
}


def field(name, secret=True):
    return {"name": name, "label": name, "type": "password" if secret else "string", "required": True}


def oauth_method(method_id, apply, fields, token_url="/oauth/token"):
    return {
        "id": method_id,
        "type": "OAUTH",
        "label": method_id,
        "fields": fields,
        "apply": {
            "tokenUrl": token_url,
            "clientId": "{{clientId}}",
            "clientSecret": "{{clientSecret}}",
            **apply,
        },
        "testRequest": {"method": "GET", "path": "/oauth/protected"},
    }


def provider_document(origin: str, **overrides) -> dict:
    client = [field("clientId", secret=False), field("clientSecret")]
    document = {
        "id": "local",
        "displayName": "Local provider",
        "description": "The test suite's stand-in provider",
        "category": "testing",
        "status": "active",
        "baseUrl": origin,
        "allowedHosts": ["127.0.0.1"],
        "testRequest": {"method": "GET", "path": "/bearer", "expectedStatus": [200]},
        "authMethods": [
            {
                "id": "basic",
                "type": "BASIC",
                "label": "Basic",
                "fields": [field("username", secret=False), field("password")],
                "apply": {"type": "basic", "username": "{{username}}", "password": "{{password}}"},
                "testRequest": {"method": "GET", "path": "/basic"},
            },
            {
                "id": "bearer",
                "type": "BEARER",
                "label": "Bearer",
                "fields": [field("token")],
                "apply": {"type": "bearer", "field": "token"},
            },
            {
                "id": "header",
                "type": "API-KEY",
                "label": "Header key",
                "fields": [field("apiKey")],
                "apply": {"type": "header", "name": "X-API-Key", "value": "{{apiKey}}"},
                "testRequest": {"method": "GET", "path": "/header-key"},
            },
            {
                "id": "query",
                "type": "API-KEY",
                "label": "Query key",
                "fields": [field("apiKey")],
                "apply": {"type": "query", "name": "api_key", "value": "{{apiKey}}"},
                "testRequest": {"method": "GET", "path": "/query-key", "query": {"limit": "1"}},
            },
            oauth_method("client-credentials", {"type": "oauth2_client_credentials"}, client),
            oauth_method(
                "client-credentials-basic",
                {"type": "oauth2_client_credentials", "clientAuth": "basic", "scope": "read"},
                client,
                token_url=origin + "/oauth/token",
            ),
            oauth_method(
                "refresh-token",
                {"type": "oauth2_refresh_token", "refreshToken": "{{refreshToken}}"},
                [*client, field("refreshToken")],
            ),
        ],
    }
    document.update(overrides)
    return validate_document(document)


@pytest.fixture
def document(provider_server):
    return provider_document(provider_server.origin)


def run(document, method_id, credentials, *, base_url=None, configured_variables=None):
    return perform_test_request(
        integration_document=document,
        auth_method_id=method_id,
        base_url=base_url or document["baseUrl"],
        credentials=credentials,
        configured_variables=configured_variables or {},
    )


def assert_no_secret(outcome, *credential_sets):
    for credentials in credential_sets:
        for value in credentials.values():
            if value not in (provider.USERNAME, provider.CLIENT_ID):  # not secrets
                assert value not in outcome.message
                assert value not in outcome.endpoint


@pytest.mark.parametrize("method_id", list(GOOD))
def test_good_credentials_pass(allow_local_provider, document, method_id):
    outcome = run(document, method_id, GOOD[method_id])
    assert (outcome.status, outcome.status_code, outcome.message) == ("success", 200, "Connection successful")
    assert outcome.error_message is None
    assert outcome.response_time_ms is not None and outcome.response_time_ms >= 0
    assert outcome.endpoint.startswith(document["baseUrl"] + "/")
    assert outcome.timestamp.tzinfo is not None
    assert_no_secret(outcome, GOOD[method_id])


@pytest.mark.parametrize(
    ("method_id", "status_code", "message"),
    [
        (
            "basic",
            401,
            "Invalid credentials. The service answered 401 Unauthorized: Bad username or password",
        ),
        ("bearer", 401, "Invalid credentials. The service answered 401 Unauthorized: Token *** is not valid"),
        ("header", 403, "Invalid credentials. The service answered 403 Forbidden: Unknown API key '***'"),
        ("query", 401, "Invalid credentials. The service answered 401 Unauthorized: api_key *** was revoked"),
        (
            "client-credentials",
            401,
            "Invalid credentials. OAuth token request was rejected (401): invalid_client (Client authentication failed)",
        ),
        (
            "client-credentials-basic",
            401,
            "Invalid credentials. OAuth token request was rejected (401): invalid_client (Client authentication failed)",
        ),
        (
            "refresh-token",
            400,
            "Invalid credentials. OAuth token request was rejected (400): invalid_grant (Refresh token is invalid)",
        ),
    ],
)
def test_bad_credentials_fail_with_the_status_and_no_secret(
    allow_local_provider, document, method_id, status_code, message
):
    outcome = run(document, method_id, BAD[method_id])
    assert (outcome.status, outcome.status_code) == ("error", status_code)
    assert outcome.message == outcome.error_message == message
    assert_no_secret(outcome, BAD[method_id], GOOD[method_id])


def test_query_credential_is_masked_in_the_endpoint(allow_local_provider, document, provider_server):
    outcome = run(document, "query", GOOD["query"])
    assert outcome.endpoint == provider_server.url("/query-key?limit=1&api_key=***")


def test_slow_service_times_out(allow_local_provider, document, settings):
    settings.OUTBOUND_READ_TIMEOUT = 0.3
    slow = provider_document(
        document["baseUrl"], testRequest={"method": "GET", "path": "/slow/bearer", "query": {"ms": "1500"}}
    )
    outcome = run(slow, "bearer", GOOD["bearer"])
    assert (outcome.status, outcome.status_code, outcome.message) == ("error", None, "Timed out after 0.3 s")


def test_server_error_is_an_unexpected_status(allow_local_provider, document):
    failing = provider_document(document["baseUrl"], testRequest={"method": "GET", "path": "/status/500"})
    outcome = run(failing, "bearer", GOOD["bearer"])
    assert (outcome.status, outcome.status_code) == ("error", 500)
    assert (
        outcome.message
        == "Unexpected status 500 Internal Server Error (expected 200): Status 500 as requested"
    )


def test_expected_status_list_is_honoured(allow_local_provider, document):
    accepting = provider_document(
        document["baseUrl"],
        testRequest={"method": "GET", "path": "/status/204", "expectedStatus": [200, 204]},
    )
    assert run(accepting, "bearer", GOOD["bearer"]).status_code == 204


def test_redirect_to_a_private_address_is_blocked(allow_local_provider, document):
    redirecting = provider_document(
        document["baseUrl"], testRequest={"method": "GET", "path": "/redirect-private"}
    )
    outcome = run(redirecting, "bearer", GOOD["bearer"])
    assert outcome.status == "error"
    assert outcome.message == "Blocked: 169.254.169.254 is a private address (cloud metadata)"


def test_local_address_is_blocked_without_the_allowlist(settings, document, provider_server):
    settings.OUTBOUND_ALLOWLIST = []
    before = len(provider_server.hits)
    outcome = run(document, "bearer", GOOD["bearer"])
    assert outcome.status == "error"
    assert outcome.message == "Blocked: 127.0.0.1 is a private address (loopback)"
    assert len(provider_server.hits) == before


def test_credentials_never_go_to_a_host_outside_allowed_hosts(
    allow_local_provider, provider_server, settings
):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1", "localhost"]
    document = provider_document(provider_server.origin, allowedHosts=["api.example.com"])
    before = len(provider_server.hits)
    outcome = run(document, "client-credentials", GOOD["client-credentials"])
    assert outcome.message == "Blocked: 127.0.0.1 is not one of this integration's hosts"
    assert len(provider_server.hits) == before  # not even the token request


def test_token_url_built_from_user_input_must_stay_on_allowed_hosts(allow_local_provider, provider_server):
    document = provider_document(provider_server.origin)
    document["authMethods"][4]["apply"]["tokenUrl"] = "https://{{tenant}}.example.net/oauth/token"
    document["authMethods"][4]["additionalFields"] = [field("tenant", secret=False)]
    outcome = run(
        validate_document(document),
        "client-credentials",
        GOOD["client-credentials"],
        configured_variables={"tenant": "attacker"},
    )
    assert (
        outcome.message
        == "Blocked: the token URL's host attacker.example.net is not one of this integration's hosts"
    )


def test_refused_connection_and_unknown_host_are_reported(allow_local_provider, document):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = run(document, "bearer", GOOD["bearer"], base_url=f"http://127.0.0.1:{port}")
    assert refused.message == f"Connection refused by 127.0.0.1:{port}"

    remote = provider_document("https://api.no-such-host.invalid", allowedHosts=["*.no-such-host.invalid"])
    unknown = run(remote, "bearer", GOOD["bearer"])
    assert unknown.message == "Could not resolve host api.no-such-host.invalid"
    assert unknown.endpoint == "https://api.no-such-host.invalid/bearer"


def test_missing_credential_is_named(allow_local_provider, document):
    outcome = run(document, "header", {})
    assert (outcome.status, outcome.message) == ("error", "credentials.apiKey is required")


def test_line_break_in_a_header_credential_is_refused_without_echoing_it(allow_local_provider, document):
    outcome = run(document, "header", {"apiKey": "abc\r\nX-Evil: 1"})
    assert outcome.message == (
        "The value for the X-API-Key header contains a control character (such as NUL, VT, FF, NEL, CR or LF)"
    )


def test_unknown_auth_method_is_an_error_outcome(document):
    assert run(document, "nope", {}).message == "Unknown auth method 'nope' for this integration"


def test_a_failure_reported_in_a_200_body_is_an_error_when_the_document_expects_json(
    allow_local_provider, document
):
    # Slack answers 200 {"ok": false, "error": "invalid_auth"} to a bad token.
    document["testRequest"] = {"method": "GET", "path": "/ok-in-body", "expectJson": {"ok": True}}
    validate_document(document)

    good = run(document, "bearer", {"token": provider.BEARER_TOKEN})
    bad = run(document, "bearer", {"token": "xoxb-wrong-token-123456"})

    assert good.status == "success"
    assert bad.status == "error" and bad.status_code == 200
    assert bad.message == "The service answered 200 OK but reported a failure (ok is not true): invalid_auth"
    assert_no_secret(bad, {"token": "xoxb-wrong-token-123456"})


def test_without_expect_json_a_200_is_enough(allow_local_provider, document):
    document["testRequest"] = {"method": "GET", "path": "/ok-in-body"}

    assert run(document, "bearer", {"token": "xoxb-wrong-token-123456"}).status == "success"


@pytest.mark.parametrize("form", ["plain", "percent", "base64", "base64url", "base64-nopad", "json"])
@pytest.mark.parametrize(
    ("method_id", "credentials"),
    [
        ("basic", {"username": "bob", "password": 'pa"ss/w0rd-Ym9i'}),
        ("bearer", {"token": 'tok/en"9Zp4\\Lm2Qw'}),
    ],
)
def test_a_credential_echoed_back_in_any_encoding_is_not_kept(
    allow_local_provider, document, method_id, credentials, form
):
    # The provider answers 401 "bad credentials <the Authorization header, encoded>".
    document["authMethods"] = [
        {**m, "testRequest": {"method": "GET", "path": "/echo-auth", "query": {"form": form}}}
        for m in document["authMethods"]
    ]
    outcome = run(validate_document(document), method_id, credentials)

    assert outcome.status_code == 401
    assert outcome.message.startswith(
        "Invalid credentials. The service answered 401 Unauthorized: bad credentials"
    )
    assert "***" in outcome.message
    secret = next(iter(credentials.values())) if method_id == "bearer" else credentials["password"]
    header = (
        f"Bearer {secret}"
        if method_id == "bearer"
        else "Basic " + base64.b64encode(f"bob:{secret}".encode()).decode()
    )
    for text in (secret, header, base64.b64encode(header.encode()).decode()[8:-4], json.dumps(secret)[1:-1]):
        assert text not in outcome.message


def test_a_credential_headers_cannot_carry_is_explained_not_could_not_connect(allow_local_provider, document):
    outcome = run(document, "header", {"apiKey": "key-€-2024"})

    assert outcome.message == (
        "The value for the X-API-Key header contains characters outside Latin-1 (ISO-8859-1), which HTTP "
        "header values cannot carry; percent-encode or base64 it if the service expects that"
    )
