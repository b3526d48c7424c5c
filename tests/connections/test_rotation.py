import base64
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from connections import encryption, webhooks
from connections.encryption import token_key_id
from connections.models import Connection, OAuthApp, WebhookEndpoint
from connections.oauth.clients import oauth_app_save, oauth_client_get
from connections.selectors import connection_credentials
from connections.services import connections_reencrypt_batch
from tests.connections.factories import ConnectionFactory, hubspot

pytestmark = pytest.mark.django_db


def rotate(*args) -> str:
    out = StringIO()
    call_command("rotate_encryption_key", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def keys(settings):
    newest, older = settings.ENCRYPTION_KEYS
    return newest, older


def test_after_rotation_every_connection_reads_with_the_newest_key_alone(keys):
    newest, older = keys
    with override_settings(ENCRYPTION_KEYS=[older]):
        old = [
            ConnectionFactory(credentials={"clientId": f"id-{i}", "clientSecret": f"s-{i}"}) for i in range(5)
        ]
    current = ConnectionFactory(credentials={"clientId": "id-new", "clientSecret": "s-new"})
    before = {c.pk: c.credentials_encrypted for c in Connection.objects.all()}

    output = rotate("--batch-size", "2")

    assert "Newest key 'test2': 5 rotated, 1 already current, 0 failed." in output
    with override_settings(ENCRYPTION_KEYS=[newest]):
        for connection in Connection.objects.all():
            assert token_key_id(connection.credentials_encrypted) == "test2"
            assert connection.version == 1
        for i, connection in enumerate(old):
            connection.refresh_from_db()
            assert connection_credentials(connection=connection) == {
                "clientId": f"id-{i}",
                "clientSecret": f"s-{i}",
            }
    current.refresh_from_db()
    assert current.credentials_encrypted == before[current.pk]  # already current: untouched


def test_rotation_is_safe_to_run_again(keys):
    _, older = keys
    with override_settings(ENCRYPTION_KEYS=[older]):
        ConnectionFactory.create_batch(3)
    rotate()
    tokens = list(Connection.objects.values_list("credentials_encrypted", flat=True))

    assert "0 rotated, 3 already current, 0 failed." in rotate()
    assert list(Connection.objects.values_list("credentials_encrypted", flat=True)) == tokens


def test_rows_it_cannot_decrypt_are_reported_and_left_alone(keys):
    lost_key = "gone:" + base64.urlsafe_b64encode(b"\x09" * 32).decode()
    with override_settings(ENCRYPTION_KEYS=[lost_key]):
        lost = ConnectionFactory()
    with override_settings(ENCRYPTION_KEYS=[keys[1]]):
        rotatable = ConnectionFactory(credentials={"clientId": "a", "clientSecret": "b"})
    err = StringIO()

    with pytest.raises(CommandError, match="1 connection\\(s\\) could not be re-encrypted"):
        call_command("rotate_encryption_key", stdout=StringIO(), stderr=err)

    assert lost.connection_id in err.getvalue()
    lost_token = lost.credentials_encrypted
    lost.refresh_from_db()
    assert lost.credentials_encrypted == lost_token
    rotatable.refresh_from_db()
    assert token_key_id(rotatable.credentials_encrypted) == "test2"


def test_batch_size_must_be_positive():
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        rotate("--batch-size", "0")


def test_a_batch_is_one_select_and_one_update(keys):
    _, older = keys
    with override_settings(ENCRYPTION_KEYS=[older]):
        ConnectionFactory.create_batch(5)
    with CaptureQueriesContext(db) as captured:
        batch = connections_reencrypt_batch(after_pk=0, batch_size=5)

    statements = [query["sql"].split()[0].upper() for query in captured.captured_queries]
    assert batch.rotated == 5
    assert statements.count("UPDATE") == 1
    assert statements.count("SELECT") == 1


def test_a_concurrent_update_is_never_overwritten(keys, monkeypatch):
    _, older = keys
    with override_settings(ENCRYPTION_KEYS=[older]):
        first, second = ConnectionFactory.create_batch(2)
    real_reencrypt = encryption.reencrypt
    meanwhile = {}

    def reencrypt_while_someone_writes(token, *, bound_to):
        if not meanwhile:  # another writer saves new credentials between our read and our write
            meanwhile["token"] = encryption.encrypt_json(
                {"clientId": "new", "clientSecret": "newer"}, bound_to=first.connection_id
            )
            Connection.objects.filter(pk=first.pk).update(credentials_encrypted=meanwhile["token"])
        return real_reencrypt(token, bound_to=bound_to)

    monkeypatch.setattr(encryption, "reencrypt", reencrypt_while_someone_writes)
    batch = connections_reencrypt_batch(after_pk=0, batch_size=10)

    first.refresh_from_db()
    second.refresh_from_db()
    assert batch.rotated == 1
    assert first.credentials_encrypted == meanwhile["token"]
    assert connection_credentials(connection=first) == {"clientId": "new", "clientSecret": "newer"}
    assert token_key_id(second.credentials_encrypted) == "test2"


def test_progress_is_reported_per_batch(keys):
    _, older = keys
    with override_settings(ENCRYPTION_KEYS=[older]):
        ConnectionFactory.create_batch(4)

    output = rotate("--batch-size", "2")

    assert "… 2 of 4 rotated (50%), 0 failed" in output
    assert "… 4 of 4 rotated (100%), 0 failed" in output


def test_webhook_and_oauth_app_secrets_rotate_too_so_the_old_key_can_go(keys):
    newest, older = keys
    integration = hubspot()
    with override_settings(ENCRYPTION_KEYS=[older]):
        endpoint, signing_secret = webhooks.webhook_endpoint_create(
            url="https://hooks.example.com/connections", events=["connection.created"]
        )
        oauth_app_save(
            integration=integration, auth_method_id="sign-in", client_id="app", client_secret="app-secret-7"
        )

    output = rotate()

    assert (
        "Other secrets (webhook endpoints, OAuth apps, sign-ins in progress): 2 rotated, 0 failed." in output
    )
    with override_settings(ENCRYPTION_KEYS=[newest]):
        endpoint.refresh_from_db()
        assert token_key_id(endpoint.secret_encrypted) == "test2"
        assert webhooks._signing_secret(endpoint) == signing_secret
        assert token_key_id(OAuthApp.objects.get().client_secret_encrypted) == "test2"
        assert (
            oauth_client_get(integration=integration, auth_method_id="sign-in").client_secret
            == "app-secret-7"
        )
    assert (
        "Other secrets (webhook endpoints, OAuth apps, sign-ins in progress): 0 rotated, 0 failed."
        in rotate()
    )


def test_an_unreadable_webhook_secret_is_reported_by_id(keys):
    endpoint, _ = webhooks.webhook_endpoint_create(
        url="https://hooks.example.com/c", events=["connection.created"]
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        secret_encrypted=encryption.encrypt(b"{}", bound_to="somewhere-else").replace("test2", "gone", 1)
    )
    stderr = StringIO()

    with pytest.raises(CommandError, match=r"^1 other secret\(s\) could not be re-encrypted$"):
        call_command("rotate_encryption_key", stdout=StringIO(), stderr=stderr)
    assert f"webhook endpoint {endpoint.pk}" in stderr.getvalue()
