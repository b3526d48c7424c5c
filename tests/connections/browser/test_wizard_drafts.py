"""The wizard's draft in headless Chromium: a server-side error keeps the typed secret (shown as
kept, never filled back in), and Back after saving then saving again makes no second connection."""

import re

import pytest
from playwright.sync_api import expect

from connections.models import Connection
from connections.selectors import connection_credentials
from tests.accounts.factories import UserFactory
from tests.conftest import sign_in
from tests.connections.factories import acme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "typed-once-Passw0rd"


def fill_acme(page, *, subdomain: str) -> None:
    page.get_by_label("Connection name").fill("Acme production")
    page.get_by_label(re.compile("^Username")).fill("dana")
    page.get_by_label(re.compile("^Password")).fill(SECRET)
    page.get_by_label(re.compile("^Subdomain")).fill(subdomain)


def test_a_server_side_error_keeps_the_typed_secret(page, screenshot):
    acme()
    sign_in(page, UserFactory())
    page.goto("/connections/new/?integration=acme&authMethod=basic")
    fill_acme(page, subdomain="bad_host!")  # only the server judges hosts
    page.get_by_role("button", name="Save and continue").click()

    expect(page.locator("[data-error-summary]")).to_be_focused()
    expect(page.locator("#configuredVariables__subdomain-errors")).to_contain_text("Subdomain")
    password = page.get_by_label(re.compile("^Password"))
    expect(password).to_have_value("")  # never echoed into the page
    expect(password).to_have_attribute("placeholder", "•••••••• (kept)")
    expect(page.locator("#credentials__password-field [data-kept]")).to_contain_text(
        "Kept — leave blank to keep"
    )
    expect(page.locator("[data-reenter]")).to_have_count(0)
    assert SECRET not in page.content()
    screenshot("secret-kept")

    page.get_by_label(re.compile("^Subdomain")).fill("mycompany")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Review and test")).to_be_visible()
    assert connection_credentials(connection=Connection.objects.get())["password"] == SECRET


def test_back_after_saving_then_saving_again_makes_no_second_connection(page, screenshot):
    acme()
    sign_in(page, UserFactory())
    page.goto("/connections/new/?integration=acme&authMethod=basic")
    fill_acme(page, subdomain="mycompany")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", name="Review and test")).to_be_visible()
    review_url = page.url

    page.go_back()
    expect(page.get_by_role("button", name="Save and continue")).to_be_visible()
    fill_acme(page, subdomain="mycompany")
    page.get_by_role("button", name="Save and continue").click()
    # Whether the browser kept the draft (same connection) or reloaded the step (a new draft,
    # which is asked about first), no second connection appears without the user asking.
    outcome = page.locator("[data-duplicate-warning], .toast-info").first
    expect(outcome).to_be_visible()
    screenshot("resubmitted")
    assert Connection.objects.count() == 1
    if page.locator("[data-duplicate-warning]").count():
        expect(page.locator("[data-duplicate-warning]")).to_contain_text("You already have “Acme production”")
        page.get_by_role("link", name="Open the existing one").click()
    assert page.url == review_url or page.url.startswith(review_url)
