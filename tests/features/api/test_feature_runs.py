"""Running a feature mapping through a connection, end to end: the API, the preview's pipeline,
the proxy and the local provider over real sockets, which records what was sent."""

import json
from urllib.parse import urlsplit

import pytest

from connections.models import ProxyCall
from tests import provider_server as provider
from tests.connections.factories import hubspot, local_connection
from tests.features.factories import FeatureMappingFactory

pytestmark = pytest.mark.django_db


def run(client, connection, mapping_id, user_input):
    url = f"/api/user-integrations/{connection.connection_id}/features/{mapping_id}/run"
    return client.post(url, {"input": user_input}, format="json")


def test_a_feature_runs_through_the_connection(
    key_client, local_integration, echo_mapping, user, provider_server
):
    connection = local_connection(local_integration, user=user)

    response = run(key_client, connection, echo_mapping.pk, {"first_name": "ada", "email": "ada@example.com"})

    assert response.status_code == 200, response.json()
    assert response.json()["success"] is True and response.json()["status"] == 200
    sent = provider_server.requests[-1]
    assert sent.method == "POST" and urlsplit(sent.path).path == "/echo/contacts"
    assert json.loads(sent.body) == {"properties": {"first_name": "Ada"}, "email": "ada@example.com"}
    assert sent.headers["authorization"] == f"Bearer {provider.BEARER_TOKEN}"
    call = ProxyCall.objects.get(connection=connection)
    assert call.feature_mapping_id == echo_mapping.pk and call.path == "/echo/contacts"


def test_feature_runs_are_limited_by_proxy_rate_not_the_api_write_budget(
    key_client, local_integration, echo_mapping, user, provider_server, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"writes": "1/min"}}
    settings.PROXY_RATE = "2/min"
    connection = local_connection(local_integration, user=user)
    user_input = {"first_name": "ada", "email": "ada@example.com"}

    answers = [run(key_client, connection, echo_mapping.pk, user_input) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1].json()["message"] == "Rate limit reached for this connection"


def test_invalid_input_lists_every_field_error_and_sends_nothing(
    key_client, local_integration, echo_mapping, user, provider_server
):
    connection = local_connection(local_integration, user=user)
    before = len(provider_server.requests)

    response = run(key_client, connection, echo_mapping.pk, {"email": "not-an-email"})

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["message"] == "Validation error"
    assert len(body["errors"]) == 2
    assert any("First Name" in e for e in body["errors"]) and any("Email" in e for e in body["errors"])
    assert len(provider_server.requests) == before
    assert not ProxyCall.objects.exists()


def test_a_mapping_of_another_integration_is_not_found(key_client, local_integration, user, provider_server):
    other = FeatureMappingFactory(integration=hubspot())
    connection = local_connection(local_integration, user=user)

    response = run(key_client, connection, other.pk, {"first_name": "ada", "email": "ada@example.com"})

    assert response.status_code == 404 and response.json()["message"] == "Feature mapping not found"


def test_someone_elses_connection_is_not_found(user_client, local_integration, echo_mapping, other_user):
    connection = local_connection(local_integration, user=other_user)

    response = run(
        user_client, connection, echo_mapping.pk, {"first_name": "ada", "email": "ada@example.com"}
    )

    assert response.status_code == 404 and response.json()["message"] == "Connection not found"


def test_an_inactive_mapping_is_refused(key_client, local_integration, echo_mapping, user):
    echo_mapping.status = "inactive"
    echo_mapping.save()
    connection = local_connection(local_integration, user=user)

    response = run(key_client, connection, echo_mapping.pk, {"first_name": "ada", "email": "ada@example.com"})

    assert response.status_code == 409 and response.json()["message"] == "Feature mapping is inactive"
