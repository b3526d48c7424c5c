"""Tokens never in plaintext anywhere (database, logs, broker messages, admin, masked answers),
and the proactive refresh by Celery beat on a real worker."""

import logging
import time
import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone

from accounts.models import User
from connections.models import Connection, OAuthApp
from connections.oauth.clients import oauth_app_save
from connections.oauth.connections import oauth_connection_create
from connections.oauth.provider import TokenSet
from connections.oauth.tokens import oauth_token_refresh
from connections.selectors import connection_credentials
from tests.connections.factories import integration_from_document
from tests.connections.oauth.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    come_back,
    idp_document,
    register,
    start,
)
from tests.connections.task_queue import (
    REDIS_URL,
    RealWorker,
    broker,
    clear_published,
    drop_redis_queue,
    published_messages,
)
from tests.test_celery_worker import wait_for


def database_text() -> str:
    """Every value of every row of every model, as text."""
    chunks = []
    for model in apps.get_models():
        for row in model._base_manager.values_list():
            chunks.append(repr(row))
    return "\n".join(chunks)


def test_tokens_appear_nowhere_in_plaintext(
    idp, key_client, user, admin_client, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    clear_published()
    location = idp.approve(start(key_client, user))
    come_back(Client(), location)
    connection = Connection.objects.get(user=user)
    first = connection_credentials(connection=connection)
    idp.configure(rotate_refresh_tokens=True)
    refreshed = oauth_token_refresh(connection=connection)
    second = connection_credentials(connection=refreshed)
    secrets = {
        first["accessToken"],
        first["refreshToken"],
        second["accessToken"],
        second["refreshToken"],
        CLIENT_SECRET,
    }
    assert len(secrets) == 5

    with django_capture_on_commit_callbacks(execute=True):
        queued = key_client.post(f"/api/user-integrations/{connection.connection_id}/test?async=true")
    assert queued.status_code == 202
    answers = [
        key_client.get(f"/api/user-integrations/my-connections?userId={user.user_id}").content.decode(),
        key_client.get(f"/api/user-integrations/{connection.connection_id}/history").content.decode(),
        key_client.get("/api/integrations/idp/oauth-apps/oauth").content.decode(),
        admin_client.get(f"/admin/connections/connection/{connection.pk}/change/").content.decode(),
        admin_client.get("/admin/connections/connection/").content.decode(),
        admin_client.get(f"/admin/connections/oauthapp/{OAuthApp.objects.get().pk}/change/").content.decode(),
        admin_client.get(
            f"/api/user-integrations/{connection.connection_id}"
        ).content.decode(),  # operator: masked
    ]
    places = {
        "database": database_text(),
        "logs": caplog.text,
        "broker messages": "\n".join(message.raw for message in published_messages()),
        **{f"answer {n}": text for n, text in enumerate(answers)},
    }
    assert published_messages(), "the asynchronous test was not queued"
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a token or the client secret is in the {place}"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_beat_refreshes_expiring_tokens_on_a_real_worker(oauth_provider, allow_local_provider, tmp_path):
    register(oauth_provider, "http://testserver/oauth/callback")
    integration = integration_from_document(idp_document(oauth_provider))
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    issued = oauth_provider.issue_tokens(CLIENT_ID, "read write")
    user = User.objects.create(
        user_id=f"beat_{uuid.uuid4().hex[:6]}", email=f"{uuid.uuid4().hex[:6]}@beat.test"
    )
    soon = TokenSet(
        access_token=issued["access_token"],
        token_type="Bearer",
        refresh_token=issued["refresh_token"],
        expires_at=None,
        scopes=["read", "write"],
    )
    connection = oauth_connection_create(
        actor="tests",
        user=user,
        integration=integration,
        auth_method_id="oauth",
        tokens=soon,
        requested_scopes=[],
        configured_variables={},
    )
    # Expiring in 30 s: inside the worker's window (margin 60 s + two 1 s beats), not yet expired.
    Connection.objects.filter(pk=connection.pk).update(
        oauth_expires_at=timezone.now() + timedelta(seconds=30)
    )
    queue = f"test-beat-{uuid.uuid4().hex[:10]}"
    try:
        with (
            broker(REDIS_URL, queue=queue),
            RealWorker(
                tmp_path,
                queue,
                args=("-B", "--schedule", str(tmp_path / "beat-schedule")),
                OAUTH_REFRESH_EVERY_SECONDS="1",
                OAUTH_REFRESH_MARGIN="60",
            ) as worker,
        ):
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                if (
                    Connection.objects.get(pk=connection.pk).oauth_refreshed_at
                    != connection.oauth_refreshed_at
                ):
                    break
                time.sleep(0.2)
            # Three more beats (each logs its task as received): none may refresh it again.
            beats = worker.log.count("connections.oauth_refresh_due[")
            assert wait_for(
                lambda: worker.log.count("connections.oauth_refresh_due[") >= beats + 6, timeout=30
            )
            log = worker.log
    finally:
        drop_redis_queue(queue)
    refreshed = Connection.objects.get(pk=connection.pk)
    assert refreshed.oauth_refreshed_at != connection.oauth_refreshed_at, log[-3000:]
    assert oauth_provider.stats()["token_requests"]["refresh_token"] == 1
    assert (refreshed.oauth_expires_at - timezone.now()).total_seconds() > 3000
    assert connection_credentials(connection=refreshed)["accessToken"] != issued["access_token"]
    assert "connections.oauth_refresh_due" in log and "connections.oauth_refresh_connections[" in log
