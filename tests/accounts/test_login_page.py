import pytest
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.conftest import sign_in_with_the_form

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_out_in_a_real_browser(page, screenshot):
    user = UserFactory(name="Dana Browser")
    page.goto("/login/")
    screenshot("login")

    sign_in_with_the_form(page, user)

    assert "/login/" not in page.url
    assert page.get_by_role("link", name="API").count() == 0  # end users have no use for it
    page.click("text=Sign out")
    page.wait_for_url("**/login/")
    expect(page.locator(".toast")).to_contain_text("You are signed out.")


def test_wrong_password_is_refused(page, screenshot):
    user = UserFactory()
    sign_in_with_the_form(page, user, password="wrong password")

    assert page.locator("[role=alert]").is_visible()
    screenshot("refused")
