"""Browser-test fixtures for the connection pages: a local provider integration, and a page with
JavaScript turned off (guarded against other hosts like the shared ``page`` fixture)."""

import pytest

from integrations.documents import validate_document
from tests.conftest import SCREENSHOT_DIR
from tests.connections.factories import integration_from_document


@pytest.fixture
def local_provider(provider_server, settings):
    """An integration whose test request is the provider server's HTTP basic endpoint."""
    # The provider listens on 127.0.0.1 over plain http: only an allowlisted host may be reached.
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    document = validate_document({
        "id": "localtest",
        "displayName": "Local Test Provider",
        "description": "A provider running on this machine for the browser tests",
        "category": "testing",
        "status": "active",
        "baseUrl": provider_server.url("").rstrip("/"),
        "allowedHosts": ["127.0.0.1"],
        "testRequest": {"method": "GET", "path": "/basic", "expectedStatus": [200]},
        "authMethods": [{
            "id": "basic",
            "type": "BASIC",
            "label": "Username and password",
            "description": "Your account's username and password",
            "fields": [
                {"name": "username", "label": "Username", "type": "string", "required": True},
                {"name": "password", "label": "Password", "type": "password", "required": True,
                 "helpText": "Sent with HTTP basic authentication."},
            ],
            "additionalFields": [],
            "apply": {"type": "basic", "username": "{{username}}", "password": "{{password}}"},
        }],
    })
    return integration_from_document(document, icon_url="")


@pytest.fixture
def no_js_page(browser, live_server, request):
    """Like ``page``, with JavaScript disabled: the plain-HTML path of every page."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    foreign: list[str] = []
    origin = live_server.url.rstrip("/")

    def guard(route):
        if route.request.url.startswith(origin):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not foreign, f"pages requested other hosts: {foreign}"


@pytest.fixture
def no_js_screenshot(no_js_page, request):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(name: str):
        no_js_page.screenshot(path=str(SCREENSHOT_DIR / f"{request.node.name}-{name}.png"), full_page=True)

    return take
