"""Connection tests when no worker is there to run them, in headless Chromium: "Save and test"
tests as it saves, and a test left queued says so plainly and offers to run it now."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from connections.models import CheckRun, Connection
from tests.accounts.factories import UserFactory
from tests.conftest import sign_in
from tests.connections.browser.test_wizard import local_connection
from tests.provider_server import PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_save_and_test_tests_the_connection_as_it_is_saved(page, screenshot, local_provider):
    user = UserFactory()
    sign_in(page, user)
    page.goto(f"/connections/new/?integration={local_provider.pk}&authMethod=basic")
    page.get_by_label(re.compile("^Username")).fill(USERNAME)
    page.get_by_label(re.compile("^Password")).fill(PASSWORD)
    page.get_by_role("button", name="Save and test").click()

    expect(page.get_by_role("heading", name="Review and test")).to_be_visible()
    expect(page.locator("[data-test-status] .test-result")).to_contain_text("Connection successful")
    expect(page.locator(".toast-success")).to_contain_text("connection test successful")
    screenshot("saved-and-tested")
    connection = Connection.objects.get(user=user)
    assert connection.last_test_status == "success"
    assert list(CheckRun.objects.filter(connection=connection).values_list("trigger", "status")) == [
        ("page", "success")
    ]


def test_a_test_no_worker_picks_up_says_so_and_runs_now_on_request(page, screenshot, local_provider):
    user = UserFactory()
    connection = local_connection(user, local_provider)
    sign_in(page, user)
    page.goto(reverse("connection-review", args=[connection.connection_id]))
    page.get_by_role("button", name=re.compile("^Test")).first.click()

    # No worker runs in this test: the run stays queued, and after a few seconds the page says so.
    status = page.locator("[data-test-status]").first
    expect(status).to_contain_text("Queued")
    offer = status.locator("[data-no-worker]")
    expect(offer).to_contain_text("No background worker has picked this test up yet", timeout=10_000)
    screenshot("no-worker")
    assert CheckRun.objects.get(connection=connection).status == "queued"

    offer.get_by_role("button", name="Run the test now").click()
    expect(status.locator(".test-result")).to_contain_text("Connection successful")
    screenshot("run-now")
    connection.refresh_from_db()
    assert connection.last_test_status == "success"
