"""Sign-in connections as operators see them: refreshes in /metrics, reconnections in the health
view, OAuth apps in manage.py doctor."""

import re

import pytest

from connections.models import OAuthApp
from connections.oauth.clients import oauth_app_save
from connections.oauth.tokens import ReconnectRequired, oauth_access_token_get
from tests.connections.factories import (
    integration_from_document,
    sign_in_connection,
    sign_in_credentials,
    sign_in_document,
)
from tests.core.test_doctor import doctor, flat
from tests.core.test_monitoring import METRICS_TOKEN, sample, scrape
from tests.provider_server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def signin(provider_server, allow_local_provider):
    return integration_from_document(sign_in_document(provider_server.origin))


def expired(integration, refresh_token: str):
    credentials = sign_in_credentials(
        access_token="old-access-1", refresh_token=refresh_token, expires_in=-60
    )
    return sign_in_connection(integration, credentials=credentials)


def test_refreshes_are_counted_by_outcome(client, signin, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    oauth_app_save(
        integration=signin, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    before = scrape(client)
    oauth_access_token_get(connection=expired(signin, REFRESH_TOKEN))
    with pytest.raises(ReconnectRequired):
        oauth_access_token_get(connection=expired(signin, "revoked-refresh-token-7"))
    after = scrape(client)
    for outcome in ("success", "reconnect_required"):
        name, labels = "connections_oauth_refreshes_total", {"integration": "signin", "outcome": outcome}
        assert sample(after, name, **labels) - sample(before, name, **labels) == 1
    assert "revoked-refresh-token-7" not in after and REFRESH_TOKEN not in after


def test_the_health_view_counts_connections_needing_reconnection(admin_client, signin):
    oauth_app_save(
        integration=signin, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    broken = expired(signin, "revoked-refresh-token-8")
    with pytest.raises(ReconnectRequired):
        oauth_access_token_get(connection=broken)
    response = admin_client.get("/admin/connections/connection/health/")
    ((row, links),) = [
        (row, links) for row, links in response.context["rows"] if row.integration_id == "signin"
    ]
    assert row.reconnect_required == 1
    listed = admin_client.get(links["reconnect"])
    assert list(listed.context["cl"].queryset) == [broken]


def test_doctor_lists_sign_in_methods_without_an_app_and_apps_whose_secret_is_lost(signin, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/14"
    table, _failure = doctor()
    # The bundled catalog's sign-in methods are listed too, none of them set up in tests.
    warned = "oauth apps warn not set up (users see 'not set up by your administrator'): "
    assert warned in flat(table)
    missing = flat(table).split(warned, 1)[1].split(" fix:", 1)[0]
    assert "signin" in missing.split(", ")

    oauth_app_save(
        integration=signin, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    table, _failure = doctor()
    assert re.search(r"oauth apps ok 1 of \d+ sign-in method\(s\) have an OAuth app", flat(table))

    OAuthApp.objects.update(client_secret_encrypted="v1.gone.AAAA")
    table, failure = doctor()
    assert failure and "oauth apps FAIL client secret cannot be decrypted: signin" in flat(table)
