"""axe-core on the end-user pages and the add-feature page, and the screenshots of the wizard and
My Connections at desktop and phone widths.

axe.min.js comes from the npm package axe-core (tests/browser_assets/README.md); the app never
serves it. It is evaluated in the page (which the pages' CSP does not govern) and any serious or
critical violation fails the test.
"""

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.accounts.factories import OperatorFactory, UserFactory
from tests.conftest import sign_in
from tests.connections.factories import ConnectionFactory, integration_from_document, provider_document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).resolve().parents[2] / "browser_assets" / "axe.min.js").read_text()
WIDTHS = {"desktop": 1280, "phone": 375}
CATALOG = ["hubspot", "stripe", "github", "notion", "slack", "salesforce", "gitlab", "shopify"]


def assert_accessible(page, name: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    page.evaluate(AXE)
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    report = [f"{v['impact']} {v['id']}: {v['help']} → {[n['target'] for n in v['nodes']][:5]}" for v in bad]
    assert not bad, f"{name}: " + "\n".join(report)


def at_both_widths(page, screenshot, name: str) -> None:
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(f"{name}-{label}")
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
def catalog(db):
    return {key: integration_from_document(provider_document(key)) for key in CATALOG}


def cards(user, catalog):
    now = timezone.now()
    ConnectionFactory(
        user=user, connection_name="Salesforce production", last_test_status="success", last_test_date=now
    )
    ConnectionFactory(
        user=user,
        integration=catalog["hubspot"],
        auth_method_id="api-key",
        auth_method_label="API Key",
        connection_name="HubSpot marketing",
        credentials={"apiKey": "pat-na1-11111111-2222-3333-4444-555555555555"},
        configured_variables={},
        last_test_status="success",
        last_test_message="Connection successful",
        last_test_date=now,
    )
    ConnectionFactory(
        user=user,
        integration=catalog["stripe"],
        auth_method_id="api-key",
        auth_method_label="Secret key",
        connection_name="Stripe billing",
        credentials={"apiKey": "sk_test_1234567890abcdefghijklmn"},
        configured_variables={},
        last_test_status="error",
        last_test_message="401 Unauthorized: the key was revoked",
        last_test_date=now,
        consecutive_failures=4,
    )
    ConnectionFactory(
        user=user,
        integration=catalog["github"],
        auth_method_id="personal-access-token",
        auth_method_label="Personal access token",
        connection_name="GitHub (old)",
        credentials={"token": "ghp_" + "a" * 36},
        configured_variables={},
        status="inactive",
    )


def test_sign_in_page_is_accessible(page, screenshot):
    page.goto("/login/")
    assert_accessible(page, "login")
    at_both_widths(page, screenshot, "login")


def test_wizard_steps_are_accessible_and_show_brand_logos(page, screenshot, catalog):
    sign_in(page, UserFactory())
    page.goto("/connections/new/")
    logo = page.locator(".catalog-item", has_text="HubSpot").locator("img")
    expect(logo).to_have_attribute("src", "/static/img/brands/hubspot.svg")
    assert page.evaluate("src => fetch(src).then(r => r.ok)", "/static/img/brands/hubspot.svg")
    expect(page.locator(".catalog-item", has_text="Developer tools").first).to_be_visible()
    assert_accessible(page, "step 1")
    at_both_widths(page, screenshot, "step-1-integration")

    page.get_by_role("link", name=re.compile("HubSpot")).click()
    expect(page.get_by_role("heading", name=re.compile("How do you want to connect"))).to_be_visible()
    assert_accessible(page, "step 2")
    at_both_widths(page, screenshot, "step-2-auth-method")

    page.get_by_role("link", name=re.compile("API Key")).click()
    expect(page.get_by_label("Connection name")).to_be_visible()
    assert_accessible(page, "step 3")
    at_both_widths(page, screenshot, "step-3-details")
    page.get_by_role("button", name="Save and continue").click()  # empty: the error summary
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page, "step 3 with errors")

    user = UserFactory()
    connection = ConnectionFactory(user=user, connection_name="Salesforce production")
    page.context.clear_cookies()
    sign_in(page, user)
    page.goto(reverse("connection-review", args=[connection.connection_id]))
    expect(page.get_by_role("heading", name="Review and test")).to_be_visible()
    assert_accessible(page, "step 4")
    at_both_widths(page, screenshot, "step-4-review")

    page.goto(reverse("connection-edit", args=[connection.connection_id]))
    expect(page.get_by_label("Connection name")).to_have_value("Salesforce production")
    assert_accessible(page, "edit")
    at_both_widths(page, screenshot, "edit")

    page.goto(reverse("connection-delete", args=[connection.connection_id]))
    expect(page.get_by_role("button", name="Delete permanently")).to_be_visible()
    assert_accessible(page, "delete page")
    at_both_widths(page, screenshot, "delete")


def test_my_connections_is_accessible_empty_and_with_truthful_cards(page, screenshot, catalog):
    user = UserFactory()
    sign_in(page, user)
    page.goto("/my-connections/")
    expect(page.get_by_role("heading", name="No connections yet")).to_be_visible()
    assert_accessible(page, "My Connections, empty")
    at_both_widths(page, screenshot, "my-connections-empty")

    cards(user, catalog)
    page.goto("/my-connections/")
    stripe = page.locator(".connection-card", has_text="Stripe billing")
    expect(stripe.locator(".badge").first).to_have_text("Needs attention")
    expect(stripe.get_by_role("link", name=re.compile(r"^Reconnect \/ Fix"))).to_be_visible()
    expect(stripe.locator("img")).to_have_attribute("src", "/static/img/brands/stripe.svg")
    hubspot = page.locator(".connection-card", has_text="HubSpot marketing")
    expect(hubspot.locator(".badge").first).to_have_text("Active")
    expect(hubspot.get_by_role("link", name=re.compile("^Reconnect"))).to_have_count(0)
    expect(page.locator(".connection-card", has_text="GitHub (old)").locator(".badge").first).to_have_text(
        "Inactive"
    )
    assert_accessible(page, "My Connections with cards")
    at_both_widths(page, screenshot, "my-connections")


def test_add_feature_page_is_accessible(page, screenshot, catalog):
    call_command("sync_feature_templates")
    sign_in(page, OperatorFactory())
    page.goto("/integrations/hubspot/add-feature")
    assert_accessible(page, "add feature: choose a template")
    page.get_by_label("Start from").select_option("create_contact")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Feature name")).to_be_visible()
    assert_accessible(page, "add feature")
    screenshot("add-feature")
