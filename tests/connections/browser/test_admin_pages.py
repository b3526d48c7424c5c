"""The connections admin as an operator sees it at 1280 px, in real Chromium: every status
column on screen without scrolling sideways, field labels written as words, and the History page
fed by the audit trail."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from connections.services import ConnectionChanges, connection_create, connection_update
from tests.accounts.factories import OperatorFactory, UserFactory
from tests.conftest import sign_in
from tests.connections.factories import SEED_CREDENTIALS, ConnectionFactory, salesforce

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STATUS_COLUMNS = ["Status", "Last test", "Needs attention", "Updated at"]


def test_connections_list_shows_its_status_columns_without_scrolling(page, screenshot):
    operator = OperatorFactory()
    integration = salesforce()
    for n in range(3):
        ConnectionFactory(
            integration=integration,
            user=UserFactory(email=f"a.very.long.address.for.user.{n}@subsidiary.example.com"),
            connection_name=f"Salesforce production for the EMEA sales organisation, team {n}",
            last_test_status="error",
            last_test_date=timezone.now(),
            consecutive_failures=4,
        )
    sign_in(page, operator)

    page.goto("/admin/connections/connection/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate(
        "(() => { const t = document.querySelector('#changelist .results');"
        " return t.scrollWidth <= t.clientWidth; })()"
    )
    for heading in STATUS_COLUMNS:
        box = page.locator("#result_list thead th", has_text=heading).bounding_box()
        assert box and box["x"] + box["width"] <= 1280, heading
    screenshot("connections-list-1280")


def test_connection_admin_labels_read_as_words_and_history_shows_the_audit(page, screenshot):
    operator = OperatorFactory()
    integration = salesforce()
    connection = connection_create(
        actor=operator,
        user=UserFactory(),
        integration_id=integration.pk,
        auth_method_id="oauth2",
        credentials=dict(SEED_CREDENTIALS),
        configured_variables={"instance_url": "https://mycompany.salesforce.com"},
        connection_name="Salesforce production",
    )
    connection_update(
        connection=connection, actor=operator, changes=ConnectionChanges(connection_name="Salesforce EMEA")
    )
    sign_in(page, operator)

    page.goto(f"/admin/connections/connection/{connection.pk}/change/")
    labels = page.locator("#connection_form .form-row label").all_inner_texts()
    assert "Connection ID:" in labels and "Connection name:" in labels and "Auth method:" in labels
    camel = [label for label in labels if re.search(r"[a-z][A-Z]|\.", label.rstrip(":"))]
    assert camel == [], camel
    screenshot("connection-change")

    page.get_by_role("link", name="History").click()
    rows = page.locator("#audit-history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("connectionName")
    screenshot("connection-history")
