"""The add-feature page's "Try it with a connection" panel, in real Chromium against the live
server, sending through the local provider over real sockets."""

import json
from urllib.parse import urlsplit

import pytest

from connections.models import ProxyCall
from tests.accounts.factories import OperatorFactory
from tests.conftest import sign_in
from tests.connections.factories import local_connection, local_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_tries_a_feature_with_a_connection(
    page, screenshot, local_integration, echo_mapping, user, provider_server
):
    connection = local_connection(local_integration, user=user, connection_name="Ada's account")
    operator = OperatorFactory()
    sign_in(page, operator)

    page.goto(f"/integrations/{local_integration.pk}/features/{echo_mapping.pk}/edit")
    page.select_option("#id_try_connection", connection.connection_id)
    page.fill("#id_try_input", '{"first_name": "ada", "email": "not-an-email"}')
    with page.expect_navigation():  # a form post: the answer is the next page
        page.click("[data-try]")
    errors = page.locator("[data-try-errors]").inner_text()
    assert "Nothing was sent." in errors and "Email" in errors
    screenshot("invalid-input")
    sent_before = len(provider_server.requests)

    page.fill("#id_try_input", '{"first_name": "ada", "email": "ada@example.com"}')
    with page.expect_navigation():  # a form post: the answer is the next page
        page.click("[data-try]")

    result = page.locator("[data-try-result]").inner_text()
    assert "The provider answered 200" in result
    echoed = json.loads(page.locator("[data-try-result] pre").inner_text())
    assert echoed["method"] == "POST" and echoed["path"] == "/echo/contacts"
    assert echoed["headers"]["authorization"] == "Bearer ***"  # operators never see the secret
    (sent,) = provider_server.requests[sent_before:]
    assert urlsplit(sent.path).path == "/echo/contacts"
    call = ProxyCall.objects.get(connection=connection)
    assert call.actor == f"user:{operator.user_id}" and call.feature_mapping_id == echo_mapping.pk
    screenshot("answered")


def test_the_panel_says_when_there_is_no_connection(page, provider_server, allow_local_provider):
    integration = local_provider(provider_server.origin)
    sign_in(page, OperatorFactory())

    page.goto(f"/integrations/{integration.pk}/add-feature?template=create_contact")

    assert "No active connection of Local provider yet" in page.locator("#try-it").inner_text()
