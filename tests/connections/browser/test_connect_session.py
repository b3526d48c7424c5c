"""Connect sessions in headless Chromium: a host product's link opened in a fresh browser
completes a connection and lands on the host's returnUrl with its id; the session stays in its
bounds, ends, and is refused in a second browser; framing obeys CONNECT_FRAME_ANCESTORS.

The host product is a real HTTP server on another port of the same machine (tests/host_site)."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect

from accounts.api_keys import api_key_create
from connections.models import Connection, ConnectSession
from connections.oauth.clients import oauth_app_save
from integrations.documents import validate_document
from tests.conftest import SCREENSHOT_DIR
from tests.connections.factories import ConnectionFactory, integration_from_document, sign_in_document
from tests.host_site import HostSite
from tests.oauth_provider import PASSWORD as OAUTH_PASSWORD
from tests.oauth_provider import USERNAME as OAUTH_USERNAME
from tests.provider_server import BEARER_TOKEN

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def host_site(live_server):
    # Same host name as the live server, another port: another origin, the same site.
    with HostSite(hostname=urlsplit(live_server.url).hostname) as site:
        yield site


@pytest.fixture
def connect_settings(settings, host_site):
    settings.CONNECT_RETURN_URL_ALLOWLIST = [host_site.url("/done")]
    settings.CONNECT_FRAME_ANCESTORS = []
    return settings


@pytest.fixture
def identity_provider(provider_server, allow_local_provider):
    """A bearer-token service whose test (GET /me) also says who the account is."""
    document = {
        "id": "localme",
        "displayName": "Local Me",
        "description": "A provider on this machine that knows its account",
        "category": "testing",
        "status": "active",
        "baseUrl": provider_server.origin,
        "allowedHosts": ["127.0.0.1"],
        "testRequest": {"method": "GET", "path": "/me"},
        "identity": {"accountId": "/id", "displayName": "/name", "email": "/email"},
        "authMethods": [
            {
                "id": "token",
                "type": "BEARER",
                "label": "Access token",
                "fields": [{"name": "token", "label": "Access token", "type": "password", "required": True}],
                "apply": {"type": "bearer", "field": "token"},
            }
        ],
    }
    return integration_from_document(validate_document(document), icon_url="")


@pytest.fixture
def connect_link(live_server):
    """What the host product's backend does: ask for a link over HTTP with its API key."""
    raw_key = api_key_create(name="host")[1]

    def create(user, **body) -> dict:
        response = requests.post(
            live_server.url + "/api/connect-sessions",
            json={"userId": user.user_id, **body},
            headers={"Authorization": f"Bearer {raw_key}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return response.json()

    return create


@pytest.fixture
def fresh_browser(browser, live_server, request):
    """A new browser context per call (a different browser each time: no shared cookies)."""
    contexts = []

    def open_page():
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1100, "height": 850})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def shot(page, request, name):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{request.node.name}-{name}.png"), full_page=True)


def test_a_connect_link_completes_a_connection_and_returns_to_the_host(
    fresh_browser, request, user, identity_provider, host_site, connect_settings, live_worker, connect_link
):
    link = connect_link(user, integrationIds=["localme"], returnUrl=host_site.url("/done?from=connections"))
    page = fresh_browser()

    page.goto(link["url"])  # no password, no account screen
    # One auth method: the wizard skips step 2 and asks for the details straight away.
    expect(page.get_by_label("Connection name")).to_be_visible()
    assert "cs_" not in page.url  # the token left the address bar
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    shot(page, request, "1-details")
    page.get_by_label("Connection name").fill("Ada's account")
    page.get_by_label(re.compile("^Access token")).fill(BEARER_TOKEN)
    shot(page, request, "2-details")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Review and test")).to_be_visible()
    page.get_by_role("button", name=re.compile("^Test")).first.click()
    expect(page.locator("[data-test-status] .test-result")).to_contain_text(
        "Connection successful", timeout=30_000
    )
    shot(page, request, "3-tested")
    page.goto("/my-connections/")
    expect(page.locator(".connection-card", has_text="Ada's account")).to_contain_text(
        "Connected as ada@example.com"
    )
    shot(page, request, "4-my-connections")
    page.go_back()
    page.get_by_role("button", name="Finish").click()

    page.wait_for_url(re.compile(re.escape(host_site.url("/done"))))
    connection = Connection.objects.get(user=user)
    assert parse_qs(urlsplit(page.url).query) == {
        "from": ["connections"],
        "connectionId": [connection.connection_id],
        "status": ["connected"],
    }
    expect(page.locator("#connection-id")).to_have_text(connection.connection_id)
    shot(page, request, "5-back-at-the-host")
    assert connection.account_email == "ada@example.com"

    # The link was used: another browser is refused, and so is this one's session now.
    other = fresh_browser()
    other.goto(link["url"])
    expect(other.locator("body")).to_contain_text("This link was already used.")
    page.goto("/my-connections/")
    expect(page).to_have_url(re.compile("/login/"))


def test_the_session_cannot_leave_its_bounds_and_ends(
    fresh_browser, request, user, other_user, identity_provider, connect_settings, connect_link
):
    theirs = ConnectionFactory(user=other_user, integration=identity_provider, connection_name="Not yours")
    link = connect_link(user, integrationIds=["localme"])
    page = fresh_browser()
    page.goto(link["url"])
    expect(page.get_by_label("Connection name")).to_be_visible()

    assert page.goto("/admin/").status == 403
    expect(page.locator("body")).to_contain_text("Not available in a connect session")
    shot(page, request, "1-admin-refused")
    assert page.goto(f"/connections/{theirs.connection_id}/edit/").status == 404
    expect(page.locator("body")).not_to_contain_text("Not yours")
    assert page.goto("/api/users").status == 403

    # A second browser cannot use the link; the first one's session ends at expiry.
    other = fresh_browser()
    assert other.goto(link["url"]).status == 410
    shot(other, request, "2-second-browser-refused")
    ConnectSession.objects.update(expires_at=timezone.now())
    assert page.goto("/my-connections/").status == 401
    expect(page.locator("body")).to_contain_text("connect session has ended")
    shot(page, request, "3-expired")
    assert page.goto("/my-connections/").url.endswith("/login/?next=/my-connections/")


def frame_outcome(fresh_browser, host_site, link) -> tuple[object, list[str]]:
    page = fresh_browser()
    refusals: list[str] = []
    page.on(
        "console",
        lambda message: refusals.append(message.text) if "frame-ancestors" in message.text else None,
    )
    page.goto(host_site.url("/frame?src=" + link["url"]))
    return page, refusals


def test_framing_obeys_connect_frame_ancestors(
    fresh_browser, request, user, identity_provider, host_site, connect_settings, connect_link
):
    # Default: nobody may frame the connect pages.
    page, refusals = frame_outcome(fresh_browser, host_site, connect_link(user, integrationIds=["localme"]))
    page.wait_for_load_state("load")
    shot(page, request, "1-refused")
    assert any("frame-ancestors 'none'" in text for text in refusals), refusals
    wizard = page.frame_locator("#connect").get_by_label("Connection name")
    expect(wizard).to_have_count(0)

    # Listed: the host's page shows the wizard inside its frame and the user can go on there.
    connect_settings.CONNECT_FRAME_ANCESTORS = [host_site.origin]
    page, refusals = frame_outcome(fresh_browser, host_site, connect_link(user, integrationIds=["localme"]))
    frame = page.frame_locator("#connect")
    expect(frame.get_by_label("Connection name")).to_be_visible()  # one auth method: step 2 skipped
    assert not refusals
    shot(page, request, "2-framed")


@pytest.fixture
def sign_in_integration(oauth_provider, live_server, allow_local_provider):
    """An integration whose users sign in at the real OAuth server (tests/oauth_provider)."""
    oauth_provider.register_client(
        "connect-app",
        "connect-app-secret",
        [live_server.url + "/oauth/callback"],
        token_auth="client_secret_post",
    )
    document = sign_in_document(
        oauth_provider.origin, authorizeUrl=oauth_provider.authorize_url, tokenUrl=oauth_provider.token_url
    )
    document["testRequest"] = {"method": "GET", "path": urlsplit(oauth_provider.userinfo_url).path}
    document["identity"] = {"accountId": "/id", "displayName": "/name", "email": "/email"}
    integration = integration_from_document(validate_document(document), icon_url="")
    oauth_app_save(
        integration=integration,
        auth_method_id="oauth",
        client_id="connect-app",
        client_secret="connect-app-secret",
    )
    return integration


def test_oauth_sign_in_from_a_connect_link_returns_to_the_host(
    fresh_browser, request, user, sign_in_integration, host_site, connect_settings, connect_link
):
    link = connect_link(user, integrationIds=["signin"], returnUrl=host_site.url("/done"))
    page = fresh_browser()
    page.goto(link["url"])
    page.get_by_label("Connection name").fill("Alice at the provider")
    shot(page, request, "1-sign-in-step")
    page.get_by_role("button", name=re.compile("^Sign in with")).click()

    # At the provider (another origin): sign in and approve.
    page.locator("#username").fill(OAUTH_USERNAME)
    page.locator("#password").fill(OAUTH_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    shot(page, request, "2-provider-consent")
    page.locator("#approve").click()

    # The callback returns into the connect session, which sends the browser back to the host.
    page.wait_for_url(re.compile(re.escape(host_site.url("/done"))))
    connection = Connection.objects.get(user=user)
    assert parse_qs(urlsplit(page.url).query) == {
        "connectionId": [connection.connection_id],
        "status": ["connected"],
    }
    shot(page, request, "3-back-at-the-host")
    assert connection.connection_name == "Alice at the provider" and connection.auth_method_id == "oauth"
    assert connection.account_email == "alice@example.com"
    assert ConnectSession.objects.get().finished_at is not None
