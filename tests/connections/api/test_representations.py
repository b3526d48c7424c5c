"""The plain functions that build connection answers agree with the serializer classes the
OpenAPI schema is made from: same keys, same order, same values."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.authentication import ApiKeyPrincipal
from accounts.models import ApiKey
from connections.api.representations import connection_detail, connection_list_item, connection_list_items
from connections.api.serializers import ConnectionDetailOutput, ConnectionListItemOutput
from connections.selectors import connection_get_for_actor, connection_list_for_user, connection_rows_for_user
from tests.accounts.factories import OperatorFactory
from tests.connections.factories import ConnectionFactory, hubspot

pytestmark = pytest.mark.django_db


def as_json(data) -> str:
    return json.dumps(data)  # keeps key order: equal strings mean equal shapes


@pytest.fixture
def connections(user):
    tested = timezone.now() - timedelta(hours=3)
    return [
        ConnectionFactory(user=user),
        ConnectionFactory(
            user=user,
            status="inactive",
            last_test_status="error",
            last_test_message="Invalid credentials — “quoted”\u2028",
            last_test_date=tested,
            consecutive_failures=4,
            account_id="005xx0000012345",
            account_email="jane@example.com",
        ),
        ConnectionFactory(
            user=user,
            integration=hubspot(),
            auth_method_id="api-key",
            auth_method_label="API Key",
            configured_variables={},
            credentials={"apiKey": "pat-na1-secret"},
            last_test_status="success",
            last_test_message="Connection successful",
            last_test_date=tested,
        ),
    ]


def test_list_items_agree_with_the_list_serializer(user, connections):
    page = connection_list_for_user(user=user)

    assert len(page.items) == 3
    for item in page.items:
        assert as_json(connection_list_item(item)) == as_json(ConnectionListItemOutput(item).data)


@pytest.mark.parametrize("filters", [{}, {"status": "inactive"}, {"integration_id": "hubspot"}, {"limit": 2}])
def test_list_items_from_rows_agree_with_the_list_serializer(user, connections, filters):
    instances = connection_list_for_user(user=user, **filters).items
    for owner in (user, user.user_id):
        page = connection_rows_for_user(user=owner, **filters)

        assert page.items and len(page.items) == len(instances)
        assert as_json(connection_list_items(page)) == as_json(
            [ConnectionListItemOutput(item).data for item in instances]
        )


@pytest.mark.parametrize("who", ["owner", "api_key", "operator"])
def test_details_agree_with_the_detail_serializer_for_every_kind_of_reader(user, connections, who):
    actor = {
        "owner": lambda: user,
        "api_key": lambda: ApiKeyPrincipal(ApiKey.objects.create(name="k", prefix="p", key_hash="h")),
        "operator": OperatorFactory,
    }[who]()
    for connection in connections:
        loaded = connection_get_for_actor(actor=actor, connection_id=connection.connection_id)
        expected = ConnectionDetailOutput(loaded, context={"reveal_secrets_to": actor}).data

        assert as_json(connection_detail(loaded, actor=actor)) == as_json(expected)
