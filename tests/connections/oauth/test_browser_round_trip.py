"""The whole sign-in round trip in headless Chromium: the wizard → the real OAuth test server's
sign-in and consent pages (another origin) → /oauth/callback → My Connections, active and tested."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from connections.models import Connection
from connections.oauth.clients import oauth_app_save
from connections.selectors import connection_credentials
from tests.accounts.factories import UserFactory
from tests.conftest import sign_in
from tests.connections.factories import integration_from_document
from tests.connections.oauth.conftest import CLIENT_ID, CLIENT_SECRET, idp_document, register
from tests.oauth_provider import PASSWORD as OAUTH_PASSWORD
from tests.oauth_provider import USERNAME as OAUTH_USERNAME

pytestmark = [
    pytest.mark.browser,
    pytest.mark.oauth_provider_origin,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def operator_app(oauth_provider, live_server, allow_local_provider):
    """The operator's OAuth app for the test server, registered there with the live server's
    callback URL (what the README tells operators to do at a real provider)."""
    register(oauth_provider, live_server.url + "/oauth/callback", require_pkce=True)
    integration = integration_from_document(idp_document(oauth_provider), icon_url="")
    oauth_app_save(
        integration=integration, auth_method_id="oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    return integration


def test_sign_in_at_the_provider_and_land_on_my_connections_tested(
    page, screenshot, oauth_provider, operator_app
):
    user = UserFactory()
    sign_in(page, user)
    page.goto("/connections/new/")
    page.get_by_label("Search").fill("test idp")
    expect(page.locator(".catalog-item:visible")).to_have_count(1)
    screenshot("1-choose-integration")
    page.get_by_role("link", name=re.compile("Test IdP")).click()

    # Its one method is sign-in: no secret fields, only the name and the provider's button.
    expect(page.get_by_label("Connection name")).to_be_visible()
    expect(page.locator("input[type=password]")).to_have_count(0)
    expect(page.locator("[data-oauth-scopes]")).to_have_text("read, write")
    page.get_by_label("Connection name").fill("Alice at Test IdP")
    screenshot("2-sign-in-step")
    page.get_by_role("button", name="Sign in with Test IdP").click()

    # The test server's own sign-in page, on its origin, asked for with PKCE S256.
    page.wait_for_url(re.compile("^" + re.escape(oauth_provider.origin)))
    page.locator("#username").fill(OAUTH_USERNAME)
    page.locator("#password").fill(OAUTH_PASSWORD)
    screenshot("3-provider-sign-in")
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("ul#scopes")).to_contain_text("read")
    expect(page.locator("ul#scopes")).to_contain_text("write")
    screenshot("4-provider-consent")
    page.locator("#approve").click()

    # Back through /oauth/callback to My Connections.
    page.wait_for_url(re.compile(r"/my-connections/$"))
    expect(page.locator(".toast-success")).to_contain_text(
        "“Alice at Test IdP” is connected and its test passed."
    )
    card = page.locator(".connection-card", has_text="Alice at Test IdP")
    expect(card).to_be_visible()
    expect(card.locator("[data-test-status]")).to_contain_text("Connection successful")
    expect(card.locator("[data-oauth-scopes]")).to_contain_text("read, write")
    expect(card.locator("[data-reconnect]")).to_be_visible()
    screenshot("5-my-connections")

    connection = Connection.objects.get(user=user)
    assert connection.status == Connection.Status.ACTIVE and connection.auth_method_id == "oauth"
    assert not connection.needs_reconnect
    run = connection.test_runs.get()
    assert (run.status, run.status_code) == ("success", 200)
    assert urlsplit(run.endpoint).path == urlsplit(oauth_provider.userinfo_url).path
    stats = oauth_provider.stats()
    assert stats["token_requests"] == {"authorization_code": 1}
    assert stats["pkce_failures"] == 0
    # Neither the tokens nor the app's secret ever reached the page.
    credentials = connection_credentials(connection=connection)
    body = page.content()
    for secret in (credentials["accessToken"], credentials["refreshToken"], CLIENT_SECRET):
        assert secret not in body
