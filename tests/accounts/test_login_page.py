import pytest

from tests.accounts.factories import UserFactory
from tests.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_out_in_a_real_browser(page, screenshot):
    user = UserFactory(name="Dana Browser")
    page.goto("/login/")
    screenshot("login")

    sign_in(page, user)

    assert "/login/" not in page.url
    page.click("text=Sign out")
    page.wait_for_url("**/login/")


def test_wrong_password_is_refused(page, screenshot):
    user = UserFactory()
    sign_in(page, user, password="wrong password")

    assert page.locator("[role=alert]").is_visible()
    screenshot("refused")
