"""The connection wizard in headless Chromium: create, test live, edit, fail, inline errors,
showWhen, and the whole create path with JavaScript turned off."""

import re

import pytest
from playwright.sync_api import expect

from connections.models import Connection
from connections.selectors import connection_credentials
from tests.accounts.factories import UserFactory
from tests.conftest import sign_in
from tests.connections.factories import ConnectionFactory, acme, integration_from_document, provider_document
from tests.provider_server import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def local_connection(user, integration, *, password=PASSWORD, name="Local account") -> Connection:
    return ConnectionFactory(
        user=user,
        integration=integration,
        auth_method_id="basic",
        auth_method_label="Username and password",
        connection_name=name,
        configured_variables={},
        credentials={"username": USERNAME, "password": password},
    )


def run_test_and_wait(page, expected: str):
    """Click "Test connection" and watch the live region go from queued/running to the result."""
    status = page.locator("[data-test-status]").first
    page.get_by_role("button", name=re.compile("^Test")).first.click()
    expect(status.locator(".test-progress, .test-result").first).to_be_visible()
    expect(status.locator(".test-result")).to_contain_text(expected, timeout=30_000)
    return status


def test_connect_through_the_wizard_and_watch_the_test_succeed(page, screenshot, local_provider, live_worker):
    user = UserFactory()
    sign_in(page, user)
    page.goto("/connections/new/")
    expect(page.get_by_role("heading", name="Choose an integration")).to_be_visible()
    screenshot("step-1-integration")

    # Live search narrows the catalog without a page load.
    page.get_by_label("Search").fill("local test")
    expect(page.locator(".catalog-item:visible")).to_have_count(1)
    page.get_by_role("link", name=re.compile("Local Test Provider")).click()

    # Its one auth method needs no choosing: step 2 is skipped.
    expect(page.get_by_label("Connection name")).to_have_value("Local Test Provider")
    assert "authMethod=" in page.url
    page.get_by_label("Connection name").fill("My local account")
    page.get_by_label(re.compile("^Username")).fill(USERNAME)
    password = page.get_by_label(re.compile("^Password"))
    password.fill(PASSWORD)
    # Show/hide: the secret can be checked before saving.
    page.get_by_role("button", name="Show Password").click()
    expect(password).to_have_attribute("type", "text")
    page.get_by_role("button", name="Hide Password").click()
    expect(password).to_have_attribute("type", "password")
    screenshot("step-3-details")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Review and test")).to_be_visible()
    expect(page.locator(".summary")).to_contain_text(USERNAME)
    expect(page.locator("body")).not_to_contain_text(PASSWORD)
    screenshot("step-4-review")
    status = run_test_and_wait(page, "Connection successful")
    expect(status).to_contain_text("Status code")
    expect(status).to_contain_text("200")
    expect(status).to_contain_text(re.compile(r"\d+ ms"))
    expect(page.locator(".toast-success")).to_be_visible()
    screenshot("step-4-tested")

    page.get_by_role("link", name="Done", exact=True).click()
    card = page.locator(".connection-card", has_text="My local account")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Connection successful")
    connection = Connection.objects.get(user=user)
    assert connection.last_test_status == "success"


def test_edit_leaving_the_password_blank_keeps_it_and_still_tests(
    page, screenshot, local_provider, live_worker
):
    user = UserFactory()
    connection = local_connection(user, local_provider)
    sign_in(page, user)
    page.goto("/my-connections/")
    page.locator(".connection-card", has_text="Local account").get_by_role(
        "link", name=re.compile("^Edit")
    ).click()

    password = page.get_by_label(re.compile("^Password"))
    expect(password).to_have_value("")
    expect(page.locator("#credentials__password-field")).to_contain_text(
        "Leave blank to keep the current value."
    )
    expect(page.get_by_label(re.compile("^Username"))).to_have_value(USERNAME)
    page.get_by_label("Connection name").fill("Local account, renamed")
    screenshot("edit-details")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("heading", name="Review and test")).to_be_visible()
    expect(page.locator(".toast-success")).to_contain_text("Changes saved")
    run_test_and_wait(page, "Connection successful")
    screenshot("edit-tested")
    connection.refresh_from_db()
    assert connection.connection_name == "Local account, renamed"
    assert connection_credentials(connection=connection)["password"] == PASSWORD


def test_a_failing_test_shows_the_providers_message(page, screenshot, local_provider, live_worker):
    user = UserFactory()
    local_connection(user, local_provider, password="not-the-password")
    sign_in(page, user)
    page.goto("/my-connections/")
    card = page.locator(".connection-card", has_text="Local account")
    card.get_by_role("button", name=re.compile("^Test")).click()
    result = card.locator("[data-test-status] .test-result")
    expect(result).to_contain_text("Failed", timeout=30_000)
    expect(result).to_contain_text("Bad username or password")
    expect(result).to_contain_text("401")
    expect(page.locator(".toast-error")).to_contain_text("Bad username or password")
    screenshot("failed-test")


def test_bad_input_shows_inline_errors(page, screenshot):
    acme()
    sign_in(page, UserFactory())
    page.goto("/connections/new/?integration=acme&authMethod=basic")
    page.get_by_label(re.compile("^Account")).fill("XY12")
    page.get_by_role("button", name="Save and continue").click()

    # Checked in the browser first: every problem next to its field and in a focused summary.
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Username is required")
    expect(page.locator("#credentials__account-errors")).to_have_text("Account must look like AC1234")
    expect(page.get_by_label(re.compile("^Username"))).to_have_attribute("aria-invalid", "true")
    screenshot("client-errors")

    # What only the server can judge comes back next to its field too.
    page.get_by_label(re.compile("^Username")).fill("dana")
    page.get_by_label(re.compile("^Password")).fill("secret-value")
    page.get_by_label(re.compile("^Account")).fill("AC1234")
    page.get_by_label(re.compile("^Subdomain")).fill("bad_host!")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator("#configuredVariables__subdomain-errors")).to_contain_text("Subdomain")
    expect(page.locator("[data-error-summary]")).to_be_focused()
    expect(page.get_by_label(re.compile("^Username"))).to_have_value("dana")
    expect(page.get_by_label(re.compile("^Password"))).to_have_value("")
    screenshot("server-errors")
    assert not Connection.objects.exists()


def test_show_when_fields_appear_and_disappear(page, screenshot):
    acme()
    sign_in(page, UserFactory())
    page.goto("/connections/new/?integration=acme&authMethod=basic")
    eu_token = page.locator("#credentials__euToken-field")
    expect(eu_token).to_be_hidden()
    page.get_by_label(re.compile("^Region")).select_option("eu")
    expect(eu_token).to_be_visible()
    # With fields appearing live, the "only needed when" note is redundant and hidden.
    expect(eu_token.locator("[data-show-when-note]")).to_be_hidden()
    expect(page.get_by_label(re.compile("^EU token"))).to_have_attribute("required", "")
    screenshot("show-when-visible")
    page.get_by_label(re.compile("^Region")).select_option("us")
    expect(eu_token).to_be_hidden()


@pytest.mark.no_javascript
def test_the_create_path_works_without_javascript(page, screenshot, local_provider):
    user = UserFactory()
    sign_in(page, user)
    page.goto("/connect-integration.html")
    # app.js marks the page as enhanced; here it never ran.
    expect(page.locator("html")).not_to_have_class("js")
    screenshot("step-1-integration")
    page.get_by_label("Search").fill("local")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".catalog-item")).to_have_count(1)
    page.get_by_role("link", name=re.compile("Local Test Provider")).click()
    # Step 2 (one auth method) is skipped by a redirect: no script needed.
    page.get_by_label(re.compile("^Username")).fill(USERNAME)
    page.get_by_label(re.compile("^Password")).fill(PASSWORD)
    screenshot("step-3-details")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Review and test")).to_be_visible()
    screenshot("step-4-review")

    # The test button is a plain form: the server runs the test and shows the result.
    page.get_by_role("button", name=re.compile("^Test")).click()
    expect(page.locator("[data-test-status] .test-result")).to_contain_text("Connection successful")
    screenshot("step-4-tested")
    page.get_by_role("link", name="Done", exact=True).click()
    expect(page.locator(".connection-card", has_text="Local Test Provider")).to_contain_text(
        "Connection successful"
    )
    assert Connection.objects.get(user=user).last_test_status == "success"


def test_self_managed_gitlab_is_not_prefilled_with_gitlab_com(page, screenshot):
    gitlab = integration_from_document(provider_document("gitlab"))
    user = UserFactory()
    sign_in(page, user)
    page.goto("/connections/new/?integration=gitlab&authMethod=access-token")
    page.get_by_label(re.compile("^GitLab deployment")).select_option("self-managed")
    server_url = page.get_by_label(re.compile("^GitLab URL"))
    expect(server_url).to_be_visible()
    expect(server_url).to_have_value("")
    screenshot("gitlab-self-managed-empty")

    # Editing a GitLab.com connection: its hidden default is not offered as the user's server.
    connection = ConnectionFactory(
        user=user,
        integration=gitlab,
        auth_method_id="access-token",
        auth_method_label="Access token",
        configured_variables={"deployment": "gitlab.com", "server_url": "https://gitlab.com"},
        credentials={"accessToken": "glpat-abc"},
    )
    page.goto(f"/connections/{connection.connection_id}/edit/")
    page.get_by_label(re.compile("^GitLab deployment")).select_option("self-managed")
    expect(page.get_by_label(re.compile("^GitLab URL"))).to_have_value("")


def test_review_test_at_375px_keeps_focus_names_the_connection_and_its_toast_closes(
    page, screenshot, local_provider, live_worker
):
    user = UserFactory()
    connection = local_connection(user, local_provider, password="not-the-password", name="Team CRM")
    sign_in(page, user)
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"/connections/{connection.connection_id}/review/")
    button = page.get_by_role("button", name="Test connection")
    button.focus()
    page.keyboard.press("Enter")
    toast = page.locator(".toast-error")
    expect(toast).to_contain_text("Team CRM: connection test failed", timeout=30_000)
    expect(toast).not_to_contain_text("Test connection:")
    # The keyboard user is still on the button and can run the test again with Enter.
    expect(button).to_be_focused()

    done = page.get_by_role("link", name="Done", exact=True)
    done.scroll_into_view_if_needed()
    toast_box, done_box = toast.bounding_box(), done.bounding_box()
    overlaps = not (
        toast_box["y"] + toast_box["height"] <= done_box["y"]
        or done_box["y"] + done_box["height"] <= toast_box["y"]
    )
    assert not overlaps, (toast_box, done_box)
    screenshot("review-error-toast-375")
    toast.get_by_role("button", name="Dismiss notification").click()
    expect(toast).to_have_count(0)


def test_setup_guide_sits_beside_the_form_and_below_it_on_a_phone(page, screenshot):
    integration_from_document(provider_document("stripe"))
    sign_in(page, UserFactory())
    page.goto("/connections/new/?integration=stripe")  # one method: straight to step 3
    guide = page.get_by_role("complementary", name="Setup guide")
    expect(guide).to_contain_text("Dashboard → Developers → API keys")
    expect(guide.get_by_role("link", name=re.compile("^Where do I find the secret key"))).to_have_attribute(
        "href", "https://docs.stripe.com/keys"
    )
    form, aside = page.locator("[data-connection-form]").bounding_box(), guide.bounding_box()
    assert aside["x"] >= form["x"] + form["width"] and aside["y"] < form["y"] + form["height"]
    screenshot("stripe-guide-1280")

    page.set_viewport_size({"width": 375, "height": 800})
    form, aside = page.locator("[data-connection-form]").bounding_box(), guide.bounding_box()
    assert aside["y"] >= form["y"] + form["height"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot("stripe-guide-375")
