import collections
import gc
import os
from pathlib import Path

import pytest
from _pytest.nodeid import NodeId
from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.cache import cache
from django.db import connection as db_connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from integrations.catalog import catalog_forget
from tests.accounts.factories import OperatorFactory, UserFactory

PASSWORD = "correct horse battery staple"


@pytest.hookimpl(trylast=True)  # after pytest-django's ordering within each module
def pytest_collection_modifyitems(items):
    """``bin/test`` hands each process a whole module, in this order (``--dist loadfile
    --no-loadscope-reorder``): the slowest modules first, so the run does not end waiting on one
    process that took a slow module last."""
    for item in items:
        _name_schemathesis_item(item)
    module_seconds = collections.Counter()
    for item in items:
        module_seconds[item.path] += _expected_seconds(item)
    items.sort(key=lambda item: -module_seconds[item.path])


def _expected_seconds(item) -> float:
    # Roughly: a test that drives the browser or starts a worker, cluster or benchmark takes
    # seconds; a contract operation sends a few hundred requests; the rest take milliseconds.
    if item.path.parent.name == "bench" or any(
        item.get_closest_marker(name) for name in ("browser", "worker", "scale_out")
    ):
        return 2
    if type(item).__name__ == "SchemathesisFunction":
        return 0.5
    return 0.02


def pytest_collection_finish(session):
    # Everything imported and collected so far lives until the end of the run: moved out of the
    # garbage collector's generations, no full collection walks it again (about 5% of the CPU).
    gc.collect()
    gc.freeze()


def _name_schemathesis_item(item) -> None:
    # pytest 9.2 builds an item's id from its original name and its callspec; schemathesis 4
    # gives one item per operation, named "test[GET /api/...]", without a callspec, so every
    # operation had the same id and pytest-xdist ran only the first of them.
    if type(item).__name__ == "SchemathesisFunction" and not item.nodeid.endswith("]"):
        item._id = NodeId.parse(f"{item.parent.nodeid}::{item.name}")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, which it drops at the end of the run. On PostgreSQL a thread
    that outlived its test (a live-server thread on a browser's keep-alive connection) may still
    hold a connection to it (connections live CONN_MAX_AGE), and DROP DATABASE refuses while one
    does: those are ended first, so no test database is left behind."""
    yield
    if db_connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and API keys live in the cache, the catalog in memory: one test's must
    # not leak into the next (its database rows are rolled back under them).
    cache.clear()
    catalog_forget()
    yield
    cache.clear()
    catalog_forget()


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def operator(db):
    return OperatorFactory()


@pytest.fixture
def raw_api_key(db) -> str:
    return api_key_create(name="tests")[1]


@pytest.fixture
def key_client(raw_api_key) -> APIClient:
    """A host product's backend calling with an API key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_api_key}")
    return client


@pytest.fixture
def user_client(user) -> APIClient:
    """The signed-in end user ``user`` (session authentication)."""
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(operator) -> Client:
    """An operator signed in to the pages and admin (pytest-django's would be a superuser)."""
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def operator_client(operator) -> APIClient:
    client = APIClient()
    client.force_login(operator)
    return client


# --- Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Chromium honours only the last --disable-features, so this list replaces Playwright's own: it
# repeats Playwright 1.x's (first line; the storage partitioning it turns off matters to the
# embedded wizard's tests), then the run's own. Headless Chromium opens a window per browser
# context, each with two omnibox popups preloaded in a renderer of their own (a tenth of the
# browser tests' Chromium CPU, for a bar no test has).
DISABLED_CHROMIUM_FEATURES = [
    *("AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades"),
    *("HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding"),
    *("ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect", "OptimizationHints"),
    *("NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch"),
    *("site-per-process", "IsolateOrigins", "Translate"),
    *("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "PreloadTopChromeWebUI"),
]


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # in between are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                # One renderer process for the live server's pages, shared by every test's context
                # (each context still has its own cookies and storage): a renderer started per
                # test cost about a tenth of the browser tests' CPU.
                "--process-per-site",
                "--disable-site-isolation-trials",
                "--disable-features=" + ",".join(DISABLED_CHROMIUM_FEATURES),
                # Only loopback resolves (the live server, the OAuth test server): no other host
                # can be reached by name.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
            ],
        )
        yield chromium
        chromium.close()


class CachedStaticFilesHandler(StaticFilesHandler):
    """Static files with a max-age, as WhiteNoise serves them in production: a test's later pages
    take them from the browser's cache instead of asking the live server again."""

    def serve(self, request):
        response = super().serve(request)
        response["Cache-Control"] = "max-age=3600"
        return response


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server (same address options), its static files cached by the
    browser (above)."""
    from pytest_django.live_server_helper import LiveServer

    address = (
        request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    )
    server = LiveServer(address, start=False)
    server.thread.static_handler = CachedStaticFilesHandler
    server.start()
    yield server
    server.stop()


VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def browser_contexts(browser, live_server):
    """The run's browser contexts on the live server, one per JavaScript setting, each with a page
    kept open on the live server's site. That page keeps the site's renderer process alive between
    tests, and the tests' page is reused (``page`` below): a context, renderer and page started per
    test cost about 2.5 s of CPU each time, most of the browser tests' CPU. The app keeps nothing
    in the browser's storage; cookies are cleared between tests."""
    contexts = {}

    def get(*, java_script_enabled: bool):
        if java_script_enabled not in contexts:
            context = browser.new_context(
                base_url=live_server.url,
                viewport=VIEWPORT,
                java_script_enabled=java_script_enabled,
            )
            context.new_page().goto("/static/img/favicon.svg")
            contexts[java_script_enabled] = context
        return contexts[java_script_enabled]

    yield get
    for context in contexts.values():
        context.close()


@pytest.fixture
def page(browser_contexts, live_server, request):
    """A page on the live server, blank, with no cookies and no history, at the default viewport
    size; a page the test added listeners to is closed after it. Requests to any other host fail the
    test, except, under @pytest.mark.oauth_provider_origin, the OAuth test server's (its sign-in and
    consent pages are a real other origin the browser must visit)."""
    # @pytest.mark.no_javascript: the page as a browser without JavaScript sees it.
    context = browser_contexts(java_script_enabled=request.node.get_closest_marker("no_javascript") is None)
    context.clear_cookies()
    context.clear_permissions()
    keeper, *reusable = context.pages  # the first page keeps the renderer process alive
    foreign_requests: list[str] = []
    allowed = [live_server.url.rstrip("/") + "/", "data:", "blob:"]
    if request.node.get_closest_marker("oauth_provider_origin"):
        allowed.append(request.getfixturevalue("oauth_provider").origin.rstrip("/") + "/")

    def watch(browser_request):
        if not browser_request.url.startswith(tuple(allowed)):
            foreign_requests.append(browser_request.url)

    # Watched, not routed: routing a context turns off its HTTP cache (every page would fetch its
    # scripts and styles again) and holds each request until this process answers. Other host
    # names do not resolve in this browser at all (``--host-resolver-rules`` above).
    context.on("request", watch)
    page = reusable[0] if reusable else context.new_page()
    page.set_viewport_size(VIEWPORT)
    page.set_default_timeout(15_000)
    page.set_default_navigation_timeout(15_000)
    page.live_server_url = live_server.url  # where sign_in puts the session cookie
    yield page
    for opened in context.pages:  # pages the test opened
        if opened is not keeper and opened is not page:
            opened.close()
    if not page.is_closed():
        if _listened_to(page):
            page.close()  # the next test starts a new page rather than hear this test's handlers
        else:
            page.goto("about:blank")
            _forget_history(page)
    context.remove_listener("request", watch)
    context.clear_cookies()
    assert not foreign_requests, f"pages requested other hosts: {foreign_requests}"


def _listened_to(page) -> bool:
    # Playwright listens to a page's close and crash itself; any other listener is the test's.
    return bool(set(page._impl_obj.event_names()) - {"close", "crash"})


def _forget_history(page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.resetNavigationHistory")
    cdp.detach()


@pytest.fixture
def screenshot(page, request):
    """screenshot("step-1") saves test-artifacts/screenshots/<test>-step-1.png."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOT_DIR / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


def sign_in(page, user) -> None:
    """Sign the browser in as ``user``: a server-side session, as the test client's
    ``force_login`` makes, put in the browser's cookie jar. No page is loaded; the test goes where
    it wants next. The sign-in form itself is driven by ``sign_in_with_the_form`` (the login tests
    and the landing after sign-in), so the other browser tests skip its three page loads."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": page.live_server_url}])


def sign_in_with_the_form(page, user, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", password)
    # Done when the page the form posts to (the next page, or the form again) has loaded; waiting
    # for the network to stay idle half a second cost every browser test that much.
    with page.expect_navigation(wait_until="load"):
        page.click("button[type=submit]")


# --- Outbound HTTP: a local stand-in for providers (tests/provider_server.py), over real sockets.


@pytest.fixture(scope="session")
def provider_server():
    from tests.provider_server import ProviderServer

    with ProviderServer() as server:
        yield server


@pytest.fixture
def allow_local_provider(settings):
    """Let the guarded client reach the provider server (127.0.0.1 is refused otherwise)."""
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    return settings


# --- OAuth: a real authorization server in its own process (tests/oauth_provider/).


@pytest.fixture(scope="session")
def oauth_provider():
    """The OAuth 2.0 provider for the session; reset after each test that uses it."""
    from tests.oauth_provider import OAuthProvider

    with OAuthProvider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _reset_oauth_provider(request):
    # Only tests that asked for the provider pay for it; none inherits another's configuration.
    if "oauth_provider" not in request.fixturenames:
        yield
        return
    provider = request.getfixturevalue("oauth_provider")
    yield
    provider.reset()
