"""My Connections and the operator's connection list in headless Chromium."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from connections.models import Connection
from tests.accounts.factories import OperatorFactory, UserFactory
from tests.conftest import sign_in, sign_in_with_the_form
from tests.connections.factories import ConnectionFactory, acme, hubspot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Salesforce production account for the European sales and customer success teams (primary)"


def some_connections(user) -> None:
    tested = timezone.now() - timedelta(hours=3)
    ConnectionFactory(
        user=user,
        connection_name=LONG_NAME,
        last_test_status="success",
        last_test_message="Connection successful",
        last_test_date=tested,
    )
    ConnectionFactory(
        user=user,
        connection_name="Salesforce sandbox",
        last_test_status="error",
        last_test_message="Invalid credentials. Please check your client ID and secret.",
        last_test_date=tested,
    )
    ConnectionFactory(
        user=user,
        integration=hubspot(),
        auth_method_id="api-key",
        auth_method_label="API Key",
        connection_name="HubSpot marketing",
        credentials={"apiKey": "pat-na1-abc"},
        configured_variables={},
    )
    ConnectionFactory(
        user=user,
        integration=acme(),
        auth_method_id="token",
        auth_method_label="API token",
        connection_name="Old Acme",
        status="inactive",
        credentials={"apiToken": "t"},
        configured_variables={"subdomain": "old"},
    )


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_my_connections_on_desktop_and_at_375px(page, screenshot):
    user = UserFactory(name="Dana Example")
    some_connections(user)
    sign_in(page, user)
    page.goto("/my-connections/")
    expect(page.locator(".connection-card")).to_have_count(4)
    expect(page.locator(".stat").first).to_contain_text("3")
    assert no_horizontal_overflow(page)
    # A long name wraps, then is cut with an ellipsis instead of stretching the card.
    title = page.get_by_role("heading", name=LONG_NAME)
    assert title.evaluate("el => el.scrollHeight > el.clientHeight && el.scrollWidth <= el.clientWidth")
    screenshot("desktop")

    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    assert no_horizontal_overflow(page)
    screenshot("375px")

    page.goto("/connections/new/")
    assert no_horizontal_overflow(page)
    screenshot("wizard-375px")


def test_filters_narrow_the_list(page):
    user = UserFactory()
    some_connections(user)
    sign_in(page, user)
    page.goto("/my-connections.html")
    page.get_by_label("Status").select_option("inactive")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".connection-card")).to_have_count(1)
    expect(page.locator(".connection-card")).to_contain_text("Old Acme")
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Search").fill("hubspot")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".connection-card")).to_have_count(1)


def test_delete_and_reactivate(page, screenshot):
    user = UserFactory()
    connection = ConnectionFactory(user=user, connection_name="Salesforce main")
    sign_in(page, user)
    page.goto("/my-connections/")
    card = page.locator(".connection-card", has_text="Salesforce main")
    card.get_by_role("link", name=re.compile("^Delete")).click()

    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete “Salesforce main”?")
    screenshot("delete-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    card.get_by_role("link", name=re.compile("^Delete")).click()
    dialog.get_by_role("button", name="Deactivate").click()

    expect(page.locator(".toast-success")).to_contain_text("was deactivated")
    expect(card).to_contain_text("Inactive")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.INACTIVE
    screenshot("deleted")

    card.get_by_role("button", name=re.compile("^Reactivate")).click()
    expect(page.locator(".toast-success")).to_contain_text("is active again")
    expect(card).to_contain_text("Active")
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE

    # The reloaded page's script must have run, or Delete opens the no-JavaScript page instead.
    expect(page.locator("html.js")).to_have_count(1)
    card.get_by_role("link", name=re.compile("^Delete")).click()
    dialog.get_by_role("button", name="Delete permanently").click()
    expect(page.locator(".toast-success")).to_contain_text("was deleted permanently")
    expect(card).to_have_count(0)
    connection.refresh_from_db()
    assert connection.deleted_at is not None and connection.credentials_encrypted == ""


def test_empty_state_leads_to_the_wizard(page, screenshot):
    sign_in_with_the_form(page, UserFactory())
    expect(page.get_by_role("heading", name="No connections yet")).to_be_visible()
    screenshot("empty")
    page.get_by_role("link", name="Connect your first integration").click()
    expect(page.get_by_role("heading", name="Choose an integration")).to_be_visible()


def test_admin_connection_list(page, screenshot):
    some_connections(UserFactory(name="Dana Example"))
    sign_in(page, OperatorFactory())
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/admin/connections/connection/")
    # The list gets the whole width with the navigation column folded away.
    page.locator("#toggle-nav-sidebar").click()
    expect(page.locator("#result_list")).to_contain_text("Salesforce sandbox")
    expect(page.locator("body")).not_to_contain_text("pat-na1-abc")
    screenshot("admin-connections")


def test_filters_apply_live_without_reloading_the_page(page, screenshot):
    user = UserFactory()
    some_connections(user)
    sign_in(page, user)
    page.goto("/my-connections/")
    cards = page.locator(".connection-card")
    expect(cards).to_have_count(4)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    page.get_by_label("Search").fill("hub")  # no button pressed
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("HubSpot marketing")
    expect(page.get_by_role("status").filter(has_text="match")).to_have_text("1 connection matches")
    assert page.url.endswith("/my-connections/?q=hub")

    page.get_by_label("Search").fill("")
    page.get_by_label("Status").select_option("inactive")
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("Old Acme")
    page.get_by_label("Status").select_option("active")
    page.get_by_label("Search").fill("nothing like this")
    expect(page.get_by_role("heading", name="No connection matches these filters")).to_be_visible()
    screenshot("no-match")
    page.get_by_label("Search").fill("salesforce")
    expect(cards).to_have_count(2)
    assert page.evaluate("window.sameDocument === true")
    screenshot("live-filtered")

    # The cards that arrived are as alive as the first ones: Delete opens the dialog.
    cards.filter(has_text="Salesforce sandbox").get_by_role("link", name=re.compile("^Delete")).click()
    expect(page.get_by_role("dialog")).to_contain_text("Delete “Salesforce sandbox”?")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()

    page.get_by_role("link", name="Clear").click()
    expect(cards).to_have_count(4)


@pytest.mark.no_javascript
def test_filters_work_without_javascript(page):
    user = UserFactory()
    some_connections(user)
    sign_in(page, user)
    page.goto("/my-connections/")
    page.get_by_label("Search").fill("hub")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".connection-card")).to_have_count(1)
    assert page.url.endswith("/my-connections/?q=hub&status=&integration=")
