"""Sign-in connections' tokens: the stored shape, refresh before use, exactly one refresh at a time,
invalid_grant → needs reconnection. Against the provider server's real token endpoint."""

import threading
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from connections import test_run_services
from connections.models import AuditEvent, Connection
from connections.oauth import tokens as tokens_module
from connections.oauth.clients import oauth_app_save
from connections.oauth.tokens import (
    ReconnectRequired,
    oauth_access_token_get,
    oauth_connections_due,
    oauth_refresh_many_if_due,
    oauth_token_refresh,
)
from connections.selectors import MASK, connection_credentials
from connections.tasks import REFRESH_CHUNK, oauth_refresh_due
from tests.connections.factories import (
    ConnectionFactory,
    integration_from_document,
    sign_in_connection,
    sign_in_credentials,
    sign_in_document,
)
from tests.connections.task_queue import clear_published, published_messages
from tests.provider_server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN


@pytest.fixture
def integration(provider_server, allow_local_provider, db):
    integration = integration_from_document(sign_in_document(provider_server.origin))
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    return integration


def token_requests(provider_server) -> int:
    return sum(1 for method, path in provider_server.hits if (method, path) == ("POST", "/oauth/token"))


def expired(integration, *, refresh_token=REFRESH_TOKEN, **kwargs) -> Connection:
    credentials = sign_in_credentials(
        access_token="old-access-token-1", refresh_token=refresh_token, expires_in=-60
    )
    return sign_in_connection(integration, credentials=credentials, **kwargs)


def test_an_expired_token_is_refreshed_before_the_connection_test(integration, provider_server):
    connection = expired(integration)
    before = token_requests(provider_server)

    run = test_run_services.test_run_create(connection=connection, actor="tests")

    assert run.status == "success", run.error_message
    assert token_requests(provider_server) == before + 1
    connection.refresh_from_db()
    stored = connection_credentials(connection=connection)
    assert stored["accessToken"].startswith("issued-")
    # The provider sent no new refresh token: the old one is kept, not lost.
    assert stored["refreshToken"] == REFRESH_TOKEN
    assert stored["tokenType"] == "Bearer"
    expires = timezone.now() + timedelta(hours=1)
    assert abs(stored["expiresAt"] / 1000 - expires.timestamp()) < 60
    assert abs((connection.oauth_expires_at - expires).total_seconds()) < 60
    assert connection.oauth_has_refresh_token and not connection.needs_reconnect


def test_a_token_is_refreshed_only_within_the_margin(integration, provider_server, settings):
    settings.OAUTH_REFRESH_MARGIN = 300
    later = sign_in_connection(
        integration,
        credentials=sign_in_credentials(
            access_token="live-token-far", refresh_token=REFRESH_TOKEN, expires_in=3600
        ),
    )
    soon = sign_in_connection(
        integration,
        credentials=sign_in_credentials(
            access_token="live-token-soon", refresh_token=REFRESH_TOKEN, expires_in=120
        ),
    )
    before = token_requests(provider_server)

    assert oauth_access_token_get(connection=later) == "live-token-far"
    assert token_requests(provider_server) == before
    assert oauth_access_token_get(connection=soon).startswith("issued-")
    assert token_requests(provider_server) == before + 1


def test_a_token_that_never_expires_is_used_as_it_is(integration, provider_server):
    connection = sign_in_connection(
        integration,
        credentials=sign_in_credentials(access_token="forever-token", refresh_token=None, expires_in=None),
    )
    before = token_requests(provider_server)
    assert oauth_access_token_get(connection=connection) == "forever-token"
    assert token_requests(provider_server) == before


def test_invalid_grant_marks_the_connection_as_needing_reconnection(integration, provider_server, key_client):
    connection = expired(integration, refresh_token="revoked-refresh-token-9")

    with pytest.raises(ReconnectRequired) as raised:
        oauth_access_token_get(connection=connection)

    assert "invalid_grant" in raised.value.error
    connection.refresh_from_db()
    assert connection.needs_reconnect
    assert "invalid_grant" in connection.reconnect_reason
    assert "revoked-refresh-token-9" not in connection.reconnect_reason
    event = connection.audit_events.get(action=AuditEvent.Action.NEEDS_RECONNECT)
    assert "invalid_grant" in event.detail
    # Not retried: the next use answers at once, without asking the provider.
    before = token_requests(provider_server)
    with pytest.raises(ReconnectRequired):
        oauth_access_token_get(connection=connection)
    assert token_requests(provider_server) == before
    assert connection.pk not in oauth_connections_due(within=timedelta(hours=1), limit=100)

    body = key_client.get(f"/api/user-integrations/{connection.connection_id}").json()
    assert body["connection"]["oauth"]["needsReconnect"] is True
    assert "invalid_grant" in body["connection"]["oauth"]["reconnectReason"]


def test_a_failed_test_names_the_reconnection(integration):
    connection = expired(integration, refresh_token="revoked-refresh-token-8")
    run = test_run_services.test_run_create(connection=connection, actor="tests")
    assert run.status == "error"
    assert "reconnected" in run.error_message and "invalid_grant" in run.error_message


def test_a_beat_tick_queues_each_due_token_once(integration):
    """Beat's tick publishes refresh tasks of up to REFRESH_CHUNK due connections (in one batch
    over one producer), each due connection in exactly one of them, none for tokens that are not
    due or cannot be refreshed."""
    due = [expired(integration, connection_name=f"Due {n}") for n in range(25)]
    fresh = sign_in_credentials(access_token="fresh-access-1", refresh_token="r-1", expires_in=7200)
    sign_in_connection(integration, credentials=fresh)
    stuck = sign_in_credentials(access_token="no-refresh-1", refresh_token=None, expires_in=-60)
    sign_in_connection(integration, credentials=stuck)
    clear_published()

    oauth_refresh_due()

    messages = published_messages()
    assert {message.task for message in messages} == {"connections.oauth_refresh_connections"}
    assert sorted(len(message.args[0]) for message in messages) == [5, REFRESH_CHUNK, REFRESH_CHUNK]
    assert sorted(pk for message in messages for pk in message.args[0]) == sorted(c.pk for c in due)


def test_a_refresh_task_refreshes_each_due_connection_of_its_chunk_once(
    integration, provider_server, django_assert_max_num_queries
):
    """The worker's chunk: one load for all, one OAuth app lookup, then per connection its claim
    and the save of its new tokens; a connection not due is left alone and a second delivery of
    the same message (acks_late) sends no token request."""
    due = [expired(integration, connection_name=f"Due {n}") for n in range(REFRESH_CHUNK - 1)]
    fresh = sign_in_connection(
        integration,
        credentials=sign_in_credentials(access_token="fresh-access-2", refresh_token="r-2", expires_in=7200),
    )
    before = token_requests(provider_server)
    pks = [c.pk for c in due] + [fresh.pk]

    with django_assert_max_num_queries(2 + 2 * len(due)):
        refreshed = oauth_refresh_many_if_due(
            connection_pks=pks, within=timedelta(minutes=5), budget_seconds=60
        )

    assert refreshed == len(due)
    assert token_requests(provider_server) == before + len(due)
    for connection in due:
        connection.refresh_from_db()
        assert connection.oauth_refreshed_at is not None and connection.oauth_refresh_claim == ""
        assert connection_credentials(connection=connection)["accessToken"] != "old-access-token-1"
    fresh.refresh_from_db()
    assert connection_credentials(connection=fresh)["accessToken"] == "fresh-access-2"
    assert oauth_refresh_many_if_due(connection_pks=pks, within=timedelta(minutes=5), budget_seconds=60) == 0
    assert token_requests(provider_server) == before + len(due)


def test_a_refresh_task_skips_a_connection_claimed_or_changed_since_it_was_queued(
    integration, provider_server, monkeypatch
):
    claimed, changed, due = (
        expired(integration, connection_name=name) for name in ("Claimed", "Changed", "Due")
    )
    Connection.objects.filter(pk=claimed.pk).update(
        oauth_refresh_claim="someone-else", oauth_refresh_claimed_until=timezone.now() + timedelta(seconds=30)
    )
    before = token_requests(provider_server)
    # Reconnected (new tokens, a new refresh time) between the load and the claim.
    original_claim = tokens_module._claim_unchanged

    def reconnect_first(connection):
        if connection.pk == changed.pk:
            Connection.objects.filter(pk=changed.pk).update(oauth_refreshed_at=timezone.now())
        return original_claim(connection)

    monkeypatch.setattr(tokens_module, "_claim_unchanged", reconnect_first)
    refreshed = oauth_refresh_many_if_due(
        connection_pks=[claimed.pk, changed.pk, due.pk], within=timedelta(minutes=5), budget_seconds=60
    )

    assert refreshed == 1
    assert token_requests(provider_server) == before + 1
    claimed.refresh_from_db()
    assert claimed.oauth_refresh_claim == "someone-else"
    assert connection_credentials(connection=claimed)["accessToken"] == "old-access-token-1"
    changed.refresh_from_db()
    assert connection_credentials(connection=changed)["accessToken"] == "old-access-token-1"


def test_a_refresh_task_goes_on_after_a_revoked_grant_and_stops_at_its_budget(integration, provider_server):
    revoked = expired(integration, refresh_token="revoked-refresh-token-7", connection_name="Revoked")
    due = expired(integration, connection_name="Due")
    before = token_requests(provider_server)

    assert (
        oauth_refresh_many_if_due(
            connection_pks=[revoked.pk, due.pk], within=timedelta(minutes=5), budget_seconds=0
        )
        == 0
    )
    assert token_requests(provider_server) == before

    assert (
        oauth_refresh_many_if_due(
            connection_pks=[revoked.pk, due.pk], within=timedelta(minutes=5), budget_seconds=60
        )
        == 1
    )
    revoked.refresh_from_db()
    assert revoked.needs_reconnect and "invalid_grant" in revoked.reconnect_reason
    assert revoked.oauth_refresh_claim == ""
    due.refresh_from_db()
    assert connection_credentials(connection=due)["accessToken"] != "old-access-token-1"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_refreshes_send_one_token_request(provider_server, allow_local_provider):
    integration = integration_from_document(sign_in_document(provider_server.origin))
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    connection = expired(integration)
    before = token_requests(provider_server)
    barrier = threading.Barrier(20)
    tokens, errors = [], []

    def refresh():
        try:
            held = Connection.objects.select_related("integration").get(pk=connection.pk)  # the expired token
            barrier.wait()
            refreshed = oauth_token_refresh(connection=held)
            tokens.append(connection_credentials(connection=refreshed)["accessToken"])
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            db_connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert token_requests(provider_server) == before + 1
    assert len(tokens) == 20 and len(set(tokens)) == 1


def test_lists_mask_the_tokens_and_show_the_oauth_block(integration, user, user_client, key_client):
    credentials = sign_in_credentials(
        access_token="access-tok-5Tg7", refresh_token="refresh-tok-6Yh8", expires_in=600
    )
    connection = sign_in_connection(integration, credentials=credentials, user=user)

    listed = key_client.get(f"/api/user-integrations/my-connections?userId={user.user_id}").json()
    (item,) = listed["connections"]
    assert item["credentials"]["decrypted"]["accessToken"] == MASK
    assert item["credentials"]["decrypted"]["refreshToken"] == MASK
    assert "access-tok-5Tg7" not in str(listed) and "refresh-tok-6Yh8" not in str(listed)
    assert item["oauth"]["scopes"] == ["read", "write"]
    assert item["oauth"]["hasRefreshToken"] is True and item["oauth"]["needsReconnect"] is False
    assert item["oauth"]["expiresAt"].endswith("Z")

    detail = user_client.get(f"/api/user-integrations/{connection.connection_id}").json()["connection"]
    assert detail["credentials"]["decrypted"]["accessToken"] == "access-tok-5Tg7"
    assert detail["oauth"] == item["oauth"]


def test_other_connections_have_no_oauth_block(key_client, user):
    connection = ConnectionFactory(user=user)
    body = key_client.get(f"/api/user-integrations/{connection.connection_id}").json()
    assert body["connection"]["oauth"] is None


def test_tokens_cannot_be_pasted_or_overwritten_through_the_api(integration, user, key_client):
    refused = key_client.post(
        "/api/user-integrations/connect",
        {"userId": user.user_id, "integrationId": integration.pk, "authMethodId": "oauth", "credentials": {}},
        format="json",
    )
    assert refused.status_code == 400
    assert "oauth/start" in refused.json()["errors"][0]

    connection = sign_in_connection(
        integration,
        user=user,
        credentials=sign_in_credentials(access_token="kept-token-1", refresh_token=None, expires_in=None),
    )
    put = key_client.put(
        f"/api/user-integrations/{connection.connection_id}",
        {"credentials": {"accessToken": "pasted-token-2"}},
        format="json",
    )
    assert put.status_code == 400
    renamed = key_client.put(
        f"/api/user-integrations/{connection.connection_id}", {"connectionName": "Renamed"}, format="json"
    )
    assert renamed.status_code == 200
    connection.refresh_from_db()
    assert connection_credentials(connection=connection)["accessToken"] == "kept-token-1"
