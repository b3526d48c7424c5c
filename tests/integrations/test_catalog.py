"""The catalog held in memory for the hot paths is never stale: a change by this process or any
other is seen by the next request."""

import pytest

from integrations import catalog
from integrations.models import Integration
from integrations.services import integration_update
from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(user):
    return ConnectionFactory(user=user)


def detail_integration(client, connection) -> dict:
    return client.get(f"/api/user-integrations/{connection.connection_id}").json()["connection"][
        "integration"
    ]


def test_a_change_through_the_service_shows_at_once(key_client, connection):
    assert detail_integration(key_client, connection)["displayName"] == "Salesforce"
    integration = Integration.objects.get(pk="salesforce")

    integration_update(integration=integration, document={**integration.document, "displayName": "SFDC"})

    assert detail_integration(key_client, connection)["displayName"] == "SFDC"


def test_a_change_made_by_another_process_shows_at_once(key_client, connection, django_assert_num_queries):
    detail_integration(key_client, connection)
    with django_assert_num_queries(1):  # served from memory: no catalog query
        detail_integration(key_client, connection)

    # Another process: its rows and its revision bump, never this process's memory.
    Integration.objects.filter(pk="salesforce").update(description="Changed elsewhere")
    catalog.catalog_changed()

    with django_assert_num_queries(2):  # the detail, then the catalog loaded again
        assert detail_integration(key_client, connection)["description"] == "Changed elsewhere"
