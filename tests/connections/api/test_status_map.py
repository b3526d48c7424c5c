"""GET /api/users/:userId/connections/status (seed 004): one query whatever the number of ids."""

import pytest

from connections.models import Connection
from tests.connections.factories import (
    ConnectionFactory,
    acme,
    hubspot,
    integration_from_document,
    salesforce,
)
from tests.connections.factories import provider_document as catalog_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    return {
        "salesforce": salesforce(),
        "hubspot": hubspot(),
        "acme": acme(),
        "github": integration_from_document(catalog_document("github")),
    }


def status_url(user, ids: str) -> str:
    return f"/api/users/{user.user_id}/connections/status?integrationIds={ids}"


def test_each_integration_answers_connected_invalid_or_not_connected(key_client, user, catalog):
    ConnectionFactory(user=user, integration=catalog["salesforce"], last_test_status="success")
    # A failing connection next to a working one: the user is connected.
    ConnectionFactory(user=user, integration=catalog["salesforce"], last_test_status="error")
    ConnectionFactory(user=user, integration=catalog["hubspot"], last_test_status="error")
    # Never tested yet: nothing says it fails.
    ConnectionFactory(user=user, integration=catalog["acme"], last_test_status=None)
    # Deleted (inactive) connections do not count.
    ConnectionFactory(user=user, integration=catalog["github"], status=Connection.Status.INACTIVE)

    response = key_client.get(status_url(user, "salesforce,hubspot,acme,github"))

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "success": True,
        "salesforce": "connected",
        "hubspot": "invalid",
        "acme": "connected",
        "github": "not-connected",
    }


def test_other_users_connections_do_not_count(key_client, user, other_user, catalog):
    ConnectionFactory(user=other_user, integration=catalog["salesforce"], last_test_status="success")
    body = key_client.get(status_url(user, "salesforce")).json()
    assert body == {"success": True, "salesforce": "not-connected"}


def test_unknown_ids_answer_400_listing_them(key_client, user, catalog):
    response = key_client.get(status_url(user, "salesforce,nope,Bad%20Id,hubspot"))
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["message"] == "Unknown integrationIds: nope, Bad Id"
    assert body["errors"] == [
        "integrationIds: no integration 'nope'",
        "integrationIds: no integration 'Bad Id'",
    ]


def test_integration_ids_are_required(key_client, user):
    response = key_client.get(f"/api/users/{user.user_id}/connections/status")
    assert response.status_code == 400
    assert response.json()["errors"] == ["integrationIds is required: comma-separated integration ids"]


def test_one_query_whatever_the_number_of_ids(key_client, user, catalog, django_assert_max_num_queries):
    for integration in catalog.values():
        ConnectionFactory.create_batch(3, user=user, integration=integration, last_test_status="success")
    # API key lookup, its last-used stamp, the user, then the status map itself.
    with django_assert_max_num_queries(4):
        one = key_client.get(status_url(user, "salesforce"))
    with django_assert_max_num_queries(4):
        four = key_client.get(status_url(user, "salesforce,hubspot,acme,github"))
    assert one.status_code == four.status_code == 200
    assert len(four.json()) == 5


def test_a_signed_in_user_reads_only_their_own_map(user_client, user, other_user, catalog):
    assert user_client.get(status_url(user, "salesforce")).status_code == 200
    response = user_client.get(status_url(other_user, "salesforce"))
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "User not found"}


def test_an_unknown_user_is_not_found(key_client, catalog):
    response = key_client.get("/api/users/nobody/connections/status?integrationIds=salesforce")
    assert response.status_code == 404
    assert response.json()["message"] == "User not found"


def test_anonymous_callers_are_refused(anon_client, user, catalog):
    response = anon_client.get(status_url(user, "salesforce"))
    assert response.status_code == 401
    assert response.json()["success"] is False
