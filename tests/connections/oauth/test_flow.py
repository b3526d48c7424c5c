"""The sign-in flow against a real OAuth 2.0 authorization server (tests/oauth_provider): the code
exchange with PKCE, the state's rules, the failures that store nothing, refresh and rotation,
invalid_grant, reconnect and revocation."""

from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone

from connections import encryption
from connections.models import AuditEvent, Connection, OAuthApp, OAuthFlow
from connections.oauth.clients import oauth_app_save
from connections.oauth.tokens import ReconnectRequired, oauth_access_token_get, oauth_token_refresh
from connections.selectors import connection_credentials
from tests.connections.factories import integration_from_document
from tests.connections.oauth.conftest import come_back, idp_document, register, start
from tests.test_celery_worker import wait_for


def code_requests(provider) -> int:
    return provider.stats()["token_requests"].get("authorization_code", 0)


def connect(idp, key_client, user, **body) -> Connection:
    """A whole sign-in for ``user`` started by a host product; the connection it made."""
    location = idp.approve(start(key_client, user, **body))
    response = come_back(Client(), location)
    assert response.status_code == 302, response.content.decode()
    return (
        Connection.objects.get(connection_id=response.url.split("connectionId=")[1].split("&")[0])
        if ("connectionId=" in response.url)
        else Connection.objects.filter(user=user).latest("created_at")
    )


def test_signing_in_stores_the_tokens_encrypted_and_tests_the_connection(idp, key_client, user):
    connection = connect(idp, key_client, user, connectionName="My IdP")

    assert connection.connection_name == "My IdP" and connection.user == user
    stored = connection_credentials(connection=connection)
    assert set(stored) == {"accessToken", "refreshToken", "tokenType", "expiresAt"}
    assert stored["accessToken"] not in connection.credentials_encrypted
    assert connection.oauth_scopes == ["read", "write"]
    assert connection.oauth_has_refresh_token and not connection.needs_reconnect
    assert abs((connection.oauth_expires_at - timezone.now() - timedelta(hours=1)).total_seconds()) < 60
    # Tested straight away, with the access token, against the provider's API.
    assert connection.last_test_status == "success", connection.last_test_message
    assert idp.stats()["pkce_failures"] == 0
    assert code_requests(idp) == 1
    assert not OAuthFlow.objects.filter(used_at__isnull=True).exists()


def test_a_host_product_gets_its_user_back_with_the_connection_id(idp, key_client, user, settings):
    settings.OAUTH_RETURN_URL_ALLOWLIST = ["https://host.example.com/app"]
    location = idp.approve(start(key_client, user, returnUrl="https://host.example.com/app/done"))
    response = come_back(Client(), location)
    connection = Connection.objects.get(user=user)
    assert response.status_code == 302
    assert (
        response.url
        == f"https://host.example.com/app/done?connectionId={connection.connection_id}&status=success"
    )


def test_a_user_who_started_it_lands_on_my_connections(idp, user):
    client = Client()
    client.force_login(user)
    response = client.post("/connections/new/?integration=idp&authMethod=oauth", {"connection_name": "Work"})
    assert response.status_code == 200
    authorization_url = response.context["url"]
    landed = come_back(client, idp.approve(authorization_url))
    assert landed.status_code == 302 and landed.url == "/my-connections/"
    page = client.get("/my-connections/").content.decode()
    assert "Work" in page and "is connected and its test passed" in page


def test_pkce_is_sent_and_a_wrong_verifier_is_refused(idp, key_client, user):
    location = idp.approve(start(key_client, user))
    flow = OAuthFlow.objects.get()
    flow.code_verifier_encrypted = encryption.encrypt(
        b"not-the-verifier-" + b"x" * 30, bound_to=flow.state_hash
    )
    flow.save()

    response = come_back(Client(), location)

    assert response.status_code == 400
    assert "invalid_grant" in response.content.decode()
    assert idp.stats()["pkce_failures"] == 1
    assert not Connection.objects.exists()


def test_a_provider_that_requires_pkce_refuses_a_method_without_it(idp, key_client, user):
    integration_from_document(idp_document(idp, pkce=False))
    location = idp.approve(start(key_client, user))
    assert "error=invalid_request" in location
    response = come_back(Client(), location)
    assert response.status_code == 400
    assert "refused the sign-in: invalid_request" in response.content.decode()
    assert not Connection.objects.exists()


def test_a_state_is_used_once(idp, key_client, user):
    location = idp.approve(start(key_client, user))
    assert come_back(Client(), location).status_code == 302

    replay = come_back(Client(), location)

    assert replay.status_code == 400
    assert "already been used" in replay.content.decode()
    assert Connection.objects.count() == 1
    assert code_requests(idp) == 1


def test_an_expired_state_is_refused_without_asking_the_provider(idp, key_client, user):
    location = idp.approve(start(key_client, user))
    OAuthFlow.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = come_back(Client(), location)
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert code_requests(idp) == 0 and not Connection.objects.exists()


def test_an_unknown_state_is_refused(idp):
    response = Client().get("/oauth/callback?code=abc&state=forged-state-value")
    assert response.status_code == 400 and "unknown" in response.content.decode()


def test_a_state_is_bound_to_the_user_who_started_it(idp, user, other_user):
    owner = Client()
    owner.force_login(user)
    url = owner.post("/connections/new/?integration=idp&authMethod=oauth", {"connection_name": "x"}).context[
        "url"
    ]
    location = idp.approve(url)
    intruder = Client()
    intruder.force_login(other_user)

    response = come_back(intruder, location)

    assert response.status_code == 400 and "another user" in response.content.decode()
    assert not Connection.objects.exists() and code_requests(idp) == 0
    # Started in the pages: a browser that is not signed in cannot finish it either.
    url = owner.post("/connections/new/?integration=idp&authMethod=oauth", {"connection_name": "x"}).context[
        "url"
    ]
    assert come_back(Client(), idp.approve(url)).status_code == 400


def test_access_denied_stores_nothing(idp, key_client, user):
    location = idp.approve(start(key_client, user), decision="deny")
    response = come_back(Client(), location)
    assert response.status_code == 400
    assert "You declined access at Test IdP. Nothing was saved." in response.content.decode()
    assert not Connection.objects.exists() and code_requests(idp) == 0


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        ({"token_endpoint": "down"}, "could not be reached"),
        ({"token_endpoint": "error"}, "(500)"),
        ({"token_delay_ms": 3000}, "Timed out"),
    ],
)
def test_a_token_endpoint_down_or_failing_stores_nothing(
    idp, key_client, user, settings, configuration, expected
):
    settings.OUTBOUND_READ_TIMEOUT = 1
    location = idp.approve(start(key_client, user))
    idp.configure(**configuration)

    response = come_back(Client(), location)

    assert response.status_code == 400
    page = response.content.decode()
    assert expected in page and "Nothing was saved" in page
    assert not Connection.objects.exists()


def test_an_expired_token_is_refreshed_at_its_expiry(idp, key_client, user, settings):
    settings.OAUTH_REFRESH_MARGIN = 0
    idp.configure(access_token_ttl=2)
    connection = connect(idp, key_client, user)
    assert connection.last_test_status == "success", connection.last_test_message
    assert idp.stats()["token_requests"].get("refresh_token", 0) == 0
    first_token = connection_credentials(connection=connection)["accessToken"]
    bearer = {"Authorization": f"Bearer {first_token}"}
    # Until the provider refuses the first access token.
    assert wait_for(lambda: requests.get(idp.userinfo_url, headers=bearer, timeout=10).status_code == 401)

    idp.configure(access_token_ttl=3600)
    response = key_client.post(f"/api/user-integrations/{connection.connection_id}/test")

    assert response.status_code == 200, response.json()
    assert idp.stats()["token_requests"]["refresh_token"] == 1
    token = oauth_access_token_get(connection=Connection.objects.get(pk=connection.pk))
    assert idp.stats()["token_requests"]["refresh_token"] == 1  # live now: no second refresh
    assert token == connection_credentials(connection=Connection.objects.get(pk=connection.pk))["accessToken"]


def test_a_rotated_refresh_token_replaces_the_old_one(idp, key_client, user):
    connection = connect(idp, key_client, user)
    first = connection_credentials(connection=connection)["refreshToken"]
    idp.configure(rotate_refresh_tokens=True)

    refreshed = oauth_token_refresh(connection=connection)
    second = connection_credentials(connection=refreshed)["refreshToken"]
    again = oauth_token_refresh(connection=refreshed)  # works only with the rotated token

    assert second != first
    assert connection_credentials(connection=again)["refreshToken"] not in (first, second)
    assert idp.stats()["refreshes"] == {first: 1, second: 1}
    assert not again.needs_reconnect


def test_invalid_grant_then_reconnect_keeps_the_connection(idp, key_client, user):
    connection = connect(idp, key_client, user, connectionName="Keeps its name")
    idp.invalidate_grants()

    with pytest.raises(ReconnectRequired):
        oauth_token_refresh(connection=connection)
    connection.refresh_from_db()
    assert connection.needs_reconnect and "invalid_grant" in connection.reconnect_reason
    listed = key_client.get(f"/api/user-integrations/my-connections?userId={user.user_id}").json()
    assert listed["connections"][0]["oauth"]["needsReconnect"] is True

    reconnected = connect(idp, key_client, user, connectionId=connection.connection_id)

    assert reconnected.pk == connection.pk and Connection.objects.count() == 1
    reconnected.refresh_from_db()
    assert reconnected.connection_id == connection.connection_id
    assert reconnected.connection_name == "Keeps its name"
    assert not reconnected.needs_reconnect and reconnected.last_test_status == "success"
    actions = list(reconnected.audit_events.order_by("id").values_list("action", flat=True))
    assert actions[0] == AuditEvent.Action.CREATE
    assert AuditEvent.Action.NEEDS_RECONNECT in actions and AuditEvent.Action.RECONNECT in actions


def test_deleting_permanently_revokes_the_tokens_first(idp, key_client, user):
    connection = connect(idp, key_client, user)
    tokens = connection_credentials(connection=connection)

    response = key_client.delete(f"/api/user-integrations/{connection.connection_id}?permanent=true")

    assert response.status_code == 200
    stats = idp.stats()
    revoked = {entry["token"] for entry in stats["revoked"]}
    assert tokens["refreshToken"] in revoked and tokens["accessToken"] in revoked
    event = AuditEvent.objects.get(connection=connection, action=AuditEvent.Action.REVOKE)
    assert "refresh_token revoked" in event.detail
    assert tokens["refreshToken"] not in event.detail
    history = key_client.get(f"/api/user-integrations/{connection.connection_id}/history")
    assert history.status_code in (200, 404)
    connection.refresh_from_db()
    assert connection.credentials_encrypted == "" and not connection.oauth_has_refresh_token


def test_revocation_failing_does_not_stop_the_delete(idp, key_client, user):
    connection = connect(idp, key_client, user)
    integration_from_document(idp_document(idp, revocationUrl="http://127.0.0.1:9/revoke"))
    response = key_client.delete(f"/api/user-integrations/{connection.connection_id}?permanent=true")
    assert response.status_code == 200
    event = AuditEvent.objects.get(connection=connection, action=AuditEvent.Action.REVOKE)
    assert "not revoked" in event.detail


def test_the_admin_shows_the_callback_url_to_register(admin_client, idp, settings):
    settings.PUBLIC_URL = "https://connections.example.com"
    page = admin_client.get("/admin/connections/oauthapp/add/").content.decode()
    assert "https://connections.example.com/oauth/callback" in page
    app_page = admin_client.get(
        f"/admin/connections/oauthapp/{OAuthApp.objects.get().pk}/change/"
    ).content.decode()
    assert "connections-app" in app_page and "connections-app-secret" not in app_page
    assert "OAUTH_IDP_CLIENT_ID" in app_page


def test_an_operator_sets_up_the_app_in_admin(admin_client, oauth_provider, allow_local_provider, user):
    register(oauth_provider, "http://testserver/oauth/callback")
    integration_from_document(idp_document(oauth_provider))

    response = admin_client.post(
        "/admin/connections/oauthapp/add/",
        {
            "integration": "idp",
            "auth_method_id": "oauth",
            "client_id": "connections-app",
            "client_secret": "connections-app-secret-4Kq9",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    client = Client()
    client.force_login(user)
    url = client.post("/connections/new/?integration=idp&authMethod=oauth", {"connection_name": "x"}).context[
        "url"
    ]
    assert come_back(client, oauth_provider.approve(url)).url == "/my-connections/"
    assert Connection.objects.get(user=user).last_test_status == "success"


def test_an_unconfigured_app_is_not_set_up_by_your_administrator(oauth_provider, allow_local_provider, user):
    integration_from_document(idp_document(oauth_provider))
    client = Client()
    client.force_login(user)
    step = client.get("/connections/new/?integration=idp", follow=True).content.decode()
    assert "Not set up by your administrator" in step and "data-oauth-sign-in" not in step


@pytest.mark.parametrize("description", ["Approve read access at the provider.", "Approve read access"])
def test_the_sign_in_step_ends_its_lead_with_one_full_stop(
    oauth_provider, allow_local_provider, user, description
):
    document = idp_document(oauth_provider)
    document["authMethods"][0]["description"] = description
    integration = integration_from_document(document)
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id="app", client_secret="app-secret"
    )
    client = Client()
    client.force_login(user)

    step = client.get("/connections/new/?integration=idp", follow=True).content.decode()

    assert f"Sign in with Test IdP — {description.rstrip('.')}. You sign in at Test IdP" in step
