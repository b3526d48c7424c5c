"""Jira Cloud's sign-in (Atlassian OAuth 2.0 3LO): the bundled catalog's method, run against the
real test provider (tests/oauth_provider) with Atlassian's hosts replaced by its loopback origin.
After the code exchange the flow asks accessible-resources which sites the token reaches, keeps
the site's cloudId, and every API call goes through the gateway (…/ex/jira/{cloudId}/rest/api/3)."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from connections.models import Connection, OAuthFlow
from connections.oauth.clients import oauth_app_save
from connections.oauth.tokens import oauth_token_refresh
from connections.selectors import connection_base_url, connection_credentials
from integrations.documents import PROVIDERS_DIR, provider_variables
from tests.connections.factories import integration_from_document
from tests.connections.oauth.conftest import CLIENT_ID, CLIENT_SECRET, come_back, start

ALPHA = {"id": "a1b2c3d4-0000-4000-8000-000000000001", "url": "https://alpha.atlassian.net", "name": "Alpha"}
BETA = {"id": "a1b2c3d4-0000-4000-8000-000000000002", "url": "https://beta.atlassian.net", "name": "Beta"}


def bundled_jira() -> dict:
    return json.loads((PROVIDERS_DIR / "jira" / "auth.schema.json").read_text())


def local_jira(origin: str) -> dict:
    """The bundled document with Atlassian's auth and API hosts pointing at the test provider
    (whose token endpoint is /token where Atlassian's is /oauth/token)."""
    text = json.dumps(bundled_jira()).replace("https://auth.atlassian.com/oauth/token", f"{origin}/token")
    text = text.replace("https://auth.atlassian.com", origin).replace("https://api.atlassian.com", origin)
    document = json.loads(text)
    document["id"] = "jira-local"
    document["allowedHosts"].append("127.0.0.1")
    return document


@pytest.fixture
def jira(oauth_provider, allow_local_provider, db):
    # Atlassian authenticates the client in the (JSON) body and does not take PKCE.
    oauth_provider.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        ["http://testserver/oauth/callback"],
        require_pkce=False,
        token_auth="client_secret_post",
    )
    integration = integration_from_document(local_jira(oauth_provider.origin))
    oauth_app_save(
        integration=integration, auth_method_id="sign-in", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    return oauth_provider


def sign_in(provider, key_client, user, **body):
    """The whole round trip; the callback's response."""
    url = start(key_client, user, integrationId="jira-local", authMethodId="sign-in", **body)
    return come_back(Client(), provider.approve(url))


def test_the_catalog_signs_in_at_atlassian_with_offline_access_and_asks_for_the_site():
    (method,) = [m for m in bundled_jira()["authMethods"] if m["id"] == "sign-in"]
    apply = method["apply"]
    assert apply["authorizeUrl"] == "https://auth.atlassian.com/authorize"
    assert apply["tokenUrl"] == "https://auth.atlassian.com/oauth/token"
    assert apply["authorizeParams"] == {"audience": "api.atlassian.com", "prompt": "consent"}
    assert "offline_access" in apply["scopes"] and apply.get("scopeSeparator", " ") == " "
    assert apply.get("clientAuth", "body") == "body" and apply["tokenRequestFormat"] == "json"
    assert apply["resourcesUrl"] == "https://api.atlassian.com/oauth/token/accessible-resources"
    assert method["baseUrl"] == "https://api.atlassian.com/ex/jira/{{cloudId}}/rest/api/3"
    # The user may name a site; the rest comes from Atlassian and is never asked for.
    assert provider_variables(method) == {"cloudId", "siteUrl", "siteName"}


def test_the_consent_url_carries_atlassians_audience_and_prompt(jira, key_client, user):
    url = start(key_client, user, integrationId="jira-local", authMethodId="sign-in")
    query = parse_qs(urlsplit(url).query)
    assert query["audience"] == ["api.atlassian.com"] and query["prompt"] == ["consent"]
    assert query["scope"] == ["read:jira-work read:jira-user offline_access"]
    assert "code_challenge" not in query


def test_signing_in_keeps_the_only_site_and_tests_through_the_gateway(jira, key_client, user):
    jira.configure(accessible_resources=[{**ALPHA, "scopes": ["read:jira-work"], "avatarUrl": "https://x"}])

    response = sign_in(jira, key_client, user)

    assert response.status_code == 302, response.content.decode()
    connection = Connection.objects.get(user=user)
    assert connection.configured_variables == {
        "cloudId": ALPHA["id"],
        "siteUrl": ALPHA["url"],
        "siteName": "Alpha",
    }
    assert connection_base_url(connection=connection) == f"{jira.origin}/ex/jira/{ALPHA['id']}/rest/api/3"
    # The test went to …/ex/jira/{cloudId}/rest/api/3/myself with the new token, and passed.
    assert connection.last_test_status == "success", connection.last_test_message
    assert connection.oauth_has_refresh_token
    assert "refreshToken" in connection_credentials(connection=connection)


def test_atlassians_rotating_refresh_tokens_are_kept_and_the_site_stays(jira, key_client, user):
    """Refresh with the JSON body Atlassian takes; each refresh returns a new refresh token that
    alone works next time."""
    jira.configure(accessible_resources=[ALPHA], rotate_refresh_tokens=True)
    sign_in(jira, key_client, user)
    connection = Connection.objects.get(user=user)
    first = connection_credentials(connection=connection)["refreshToken"]

    refreshed = oauth_token_refresh(connection=connection)
    second = connection_credentials(connection=refreshed)["refreshToken"]
    again = oauth_token_refresh(connection=refreshed)

    assert second != first and jira.stats()["refreshes"] == {first: 1, second: 1}
    assert not again.needs_reconnect
    assert again.configured_variables["cloudId"] == ALPHA["id"]


def test_a_named_site_is_chosen_among_several(jira, key_client, user):
    jira.configure(accessible_resources=[ALPHA, BETA])

    sign_in(jira, key_client, user, configuredVariables={"site": "beta"})

    connection = Connection.objects.get(user=user)
    assert connection.configured_variables["site"] == "beta"
    assert connection.configured_variables["cloudId"] == BETA["id"]
    assert connection.last_test_status == "success", connection.last_test_message


def test_without_a_named_site_the_first_one_is_taken(jira, key_client, user):
    jira.configure(accessible_resources=[BETA, ALPHA])
    sign_in(jira, key_client, user)
    assert Connection.objects.get(user=user).configured_variables["siteUrl"] == BETA["url"]


@pytest.mark.parametrize(
    ("sites", "named", "says"),
    [
        (
            [ALPHA],
            "https://gamma.atlassian.net",
            "did not give this app access to https://gamma.atlassian.net",
        ),
        ([], "", "gave this app access to no site"),
    ],
)
def test_no_site_to_connect_fails_clearly_and_stores_nothing(jira, key_client, user, sites, named, says):
    jira.configure(accessible_resources=sites)
    variables = {"site": named} if named else {}

    response = sign_in(jira, key_client, user, configuredVariables=variables)

    assert response.status_code == 400
    page = response.content.decode()
    assert says in page and "Nothing was saved" in page
    if sites:
        assert ALPHA["url"] in page
    assert not Connection.objects.filter(user=user).exists()


def test_a_reconnect_keeps_its_site_when_the_user_reaches_several(jira, key_client, user):
    jira.configure(accessible_resources=[BETA])
    sign_in(jira, key_client, user)
    connection = Connection.objects.get(user=user)
    jira.configure(accessible_resources=[ALPHA, BETA])

    response = sign_in(jira, key_client, user, connectionId=connection.connection_id)

    assert response.status_code == 302, response.content.decode()
    reconnected = Connection.objects.get(user=user)
    assert reconnected.connection_id == connection.connection_id
    assert reconnected.configured_variables["cloudId"] == BETA["id"]


def test_a_site_list_that_cannot_be_read_fails_the_sign_in(jira, key_client, user):
    integration = integration_from_document(
        {
            **local_jira(jira.origin),
            "authMethods": [
                {**m, "apply": {**m["apply"], "resourcesUrl": f"{jira.origin}/no-such-list"}}
                for m in local_jira(jira.origin)["authMethods"]
            ],
        }
    )
    assert integration.pk == "jira-local"

    response = sign_in(jira, key_client, user)

    assert response.status_code == 400
    assert "the list of your sites could not be fetched (404)" in response.content.decode()
    assert not Connection.objects.filter(user=user).exists()
    assert OAuthFlow.objects.get().used_at is not None


def test_the_wizard_asks_only_for_the_optional_site(jira, user):
    client = Client()
    client.force_login(user)

    page = client.get("/connections/new/?integration=jira-local&authMethod=sign-in").content.decode()

    assert 'name="configuredVariables__site"' in page and "Sign in with Atlassian" in page
    for supplied in ("cloudId", "siteUrl", "siteName"):
        assert f'name="configuredVariables__{supplied}"' not in page
