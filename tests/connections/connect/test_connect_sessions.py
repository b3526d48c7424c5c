"""Connect sessions through the API and the pages (Django's test client): creating the link, taking
it up once, the bounds of the session it gives, finishing and cancelling, and framing."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from connections.connect.services import return_url_allowed
from connections.models import ConnectSession
from tests.connections.factories import ConnectionFactory, acme, hubspot, salesforce

pytestmark = pytest.mark.django_db

RETURN_URL = "https://app.example.com/settings/integrations?tab=crm"


@pytest.fixture(autouse=True)
def connect_settings(settings):
    settings.CONNECT_RETURN_URL_ALLOWLIST = ["https://app.example.com/settings"]
    settings.CONNECT_FRAME_ANCESTORS = []
    return settings


@pytest.fixture
def catalog():
    return {"salesforce": salesforce(), "hubspot": hubspot(), "acme": acme()}


def create(key_client, **body):
    return key_client.post("/api/connect-sessions", body, format="json")


def open_link(key_client, user, **body) -> tuple[Client, dict]:
    """A fresh browser that took up a new link; the link's API answer."""
    answer = create(key_client, userId=user.user_id, **body).json()
    browser = Client()
    response = browser.get(urlsplit(answer["url"]).path)
    assert response.status_code == 302 and response["Location"] == "/connect/"
    return browser, answer


def test_an_api_key_gets_a_one_time_link(key_client, user, catalog):
    before = timezone.now()
    response = create(key_client, userId=user.user_id, integrationIds=["salesforce"], returnUrl=RETURN_URL)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"success", "token", "url", "expiresAt"}
    assert body["token"].startswith("cs_") and len(body["token"]) > 40
    assert body["url"] == f"http://testserver/connect/{body['token']}"
    session = ConnectSession.objects.get()
    assert session.token_hash != body["token"] and body["token"] not in str(session.__dict__)
    assert timedelta(minutes=29) < session.expires_at - before <= timedelta(minutes=30, seconds=5)
    assert body["expiresAt"].endswith("Z")


def test_only_api_keys_create_links(user_client, operator_client, anon_client, user):
    for client in (user_client, operator_client):
        response = create(client, userId=user.user_id)
        assert response.status_code == 403
        assert response.json() == {
            "success": False,
            "message": "Permission denied",
            "error": "This action needs an API key",
        }
    assert create(anon_client, userId=user.user_id).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"userId": "nobody"}, 404, "User not found"),
        ({"integrationIds": ["salesforce", "nope"]}, 400, "integrationIds: no active integration 'nope'"),
        ({"returnUrl": "https://evil.example.com/settings"}, 400, "returnUrl must match"),
        ({"returnUrl": "https://app.example.com/settings-other"}, 400, "returnUrl must match"),
        ({"connectionId": "conn_missing"}, 404, "Connection not found"),
    ],
)
def test_bad_requests_are_refused_clearly(key_client, user, catalog, body, status, message):
    response = create(key_client, **{"userId": user.user_id, **body})
    assert response.status_code == status
    assert message in str(response.json())
    assert not ConnectSession.objects.exists()


def test_operators_and_other_users_connections_are_refused(key_client, user, operator, other_user, catalog):
    assert "is an operator" in str(create(key_client, userId=operator.user_id).json())
    theirs = ConnectionFactory(user=other_user)
    assert create(key_client, userId=user.user_id, connectionId=theirs.connection_id).status_code == 404


def test_the_link_works_once_in_one_browser(key_client, user, catalog):
    browser, answer = open_link(key_client, user, integrationIds=["salesforce"])
    assert browser.get("/connect/")["Location"] == "/connections/new/?integration=salesforce"
    assert browser.get("/connections/new/?integration=salesforce").status_code == 200
    # A reload in the same browser goes on; any other browser is refused.
    assert browser.get(urlsplit(answer["url"]).path)["Location"] == "/connect/"
    other = Client().get(urlsplit(answer["url"]).path)
    assert other.status_code == 410
    assert "already opened in another browser" in other.content.decode()


def test_the_session_reaches_nothing_else(key_client, user, other_user, catalog):
    mine = ConnectionFactory(user=user, integration=catalog["salesforce"])
    other_integration = ConnectionFactory(user=user, integration=catalog["hubspot"])
    theirs = ConnectionFactory(user=other_user, integration=catalog["salesforce"])
    browser, _ = open_link(key_client, user, integrationIds=["salesforce", "acme"])

    assert browser.get(f"/connections/{mine.connection_id}/edit/").status_code == 200
    for path in (
        "/admin/",
        "/admin/connections/connection/",
        "/api/users",
        "/api/integrations",
        "/api/docs/",
    ):
        assert browser.get(path).status_code == 403, path
    assert browser.get("/api/users").json()["message"] == "Not available in a connect session"
    for connection in (theirs, other_integration):
        assert browser.get(f"/connections/{connection.connection_id}/edit/").status_code == 404
        assert browser.get(f"/api/user-integrations/{connection.connection_id}").status_code == 403
        assert browser.post(f"/api/user-integrations/{connection.connection_id}/test").status_code == 404
    assert browser.get("/connections/new/?integration=hubspot").status_code == 404
    assert (
        browser.get(f"/connect-integration.html?mode=edit&connectionId={theirs.connection_id}").status_code
        == 404
    )
    catalog_page = browser.get("/connections/new/").content.decode()
    assert "Salesforce" in catalog_page and "HubSpot" not in catalog_page
    listing = browser.get("/my-connections/").content.decode()
    assert mine.connection_name in listing and other_integration.connection_name not in listing


def test_a_connection_session_reaches_that_connection_only(key_client, user, catalog):
    target = ConnectionFactory(user=user, integration=catalog["salesforce"])
    sibling = ConnectionFactory(user=user, integration=catalog["salesforce"])
    browser, _ = open_link(key_client, user, connectionId=target.connection_id)
    assert browser.get("/connect/")["Location"] == f"/connections/{target.connection_id}/edit/"
    assert browser.get(f"/connections/{sibling.connection_id}/edit/").status_code == 404
    assert browser.get("/connections/new/?integration=salesforce").status_code == 404
    assert browser.get("/connections/new/").status_code == 404
    assert (
        browser.get(f"/connect-integration.html?mode=edit&connectionId={target.connection_id}").status_code
        == 200
    )


def test_an_expired_session_signs_the_browser_out(key_client, user, catalog):
    browser, answer = open_link(key_client, user)
    ConnectSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = browser.get("/my-connections/")
    assert response.status_code == 401
    assert "connect session has ended" in response.content.decode()
    assert browser.get("/my-connections/")["Location"].startswith("/login/")


def test_an_expired_link_is_refused(key_client, user, catalog):
    answer = create(key_client, userId=user.user_id).json()
    ConnectSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().get(urlsplit(answer["url"]).path)
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert Client().get("/connect/cs_" + "x" * 43).status_code == 404


def test_finishing_returns_to_the_host_with_the_connection(key_client, user, catalog):
    browser, _ = open_link(key_client, user, integrationIds=["salesforce"], returnUrl=RETURN_URL)
    connection = ConnectionFactory(user=user, integration=catalog["salesforce"], last_test_status="success")

    response = browser.post(f"/connect/finish/{connection.connection_id}/")

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target._replace(query="").geturl() == "https://app.example.com/settings/integrations"
    assert parse_qs(target.query) == {
        "tab": ["crm"],
        "connectionId": [connection.connection_id],
        "status": ["connected"],
    }
    assert ConnectSession.objects.get().finished_at is not None
    assert browser.get("/my-connections/")["Location"].startswith("/login/")  # signed out


def test_a_failing_connection_finishes_as_invalid_and_cancel_has_no_id(key_client, user, catalog):
    browser, _ = open_link(key_client, user, returnUrl=RETURN_URL)
    failing = ConnectionFactory(user=user, integration=catalog["salesforce"], last_test_status="error")
    assert "status=invalid" in browser.post(f"/connect/finish/{failing.connection_id}/")["Location"]

    browser, _ = open_link(key_client, user, returnUrl=RETURN_URL)
    location = browser.post("/connect/cancel/")["Location"]
    assert parse_qs(urlsplit(location).query) == {"tab": ["crm"], "status": ["cancelled"]}


def test_without_a_return_url_finishing_says_so_on_the_page(key_client, user, catalog):
    browser, _ = open_link(key_client, user)
    connection = ConnectionFactory(user=user, integration=catalog["salesforce"])
    response = browser.post(f"/connect/finish/{connection.connection_id}/")
    assert response.status_code == 200 and "You can close this window" in response.content.decode()


def test_framing_obeys_connect_frame_ancestors(key_client, user, catalog, connect_settings):
    browser, answer = open_link(key_client, user)
    page = browser.get("/my-connections/")
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"

    connect_settings.CONNECT_FRAME_ANCESTORS = ["https://app.example.com"]
    page = browser.get("/my-connections/")
    assert "frame-ancestors https://app.example.com" in page["Content-Security-Policy"]
    assert "X-Frame-Options" not in page
    start = Client().get(urlsplit(create(key_client, userId=user.user_id).json()["url"]).path)
    assert "frame-ancestors https://app.example.com" in start["Content-Security-Policy"]
    # Outside a connect session nothing may be framed, whatever the setting.
    normal = Client()
    normal.force_login(user)
    assert "frame-ancestors 'none'" in normal.get("/my-connections/")["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://app.example.com/settings", True),
        ("https://app.example.com/settings/", True),
        ("https://app.example.com/settings/x?y=1#z", True),
        ("https://APP.example.com/settings/x", True),
        ("https://app.example.com/settingsx", False),
        ("https://app.example.com/", False),
        ("http://app.example.com/settings", False),
        ("https://app.example.com:8443/settings", False),
        ("https://user@app.example.com/settings", False),
        ("https://app.example.com.evil.com/settings", False),
        ("//app.example.com/settings", False),
        ("javascript:alert(1)//app.example.com/settings", False),
        ("https://app.example.com/settings/\\evil", False),
    ],
)
def test_return_urls_match_the_allowlist_exactly(url, allowed):
    assert return_url_allowed(url) is allowed
