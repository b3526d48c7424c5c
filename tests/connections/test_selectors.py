import pytest

from connections.selectors import connection_list_for_user
from tests.accounts.factories import UserFactory
from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_list_for_user_searches_connection_and_integration_names(user, django_assert_max_num_queries):
    ConnectionFactory(user=user, connection_name="Sales prod")
    ConnectionFactory(user=user, connection_name="Billing")
    ConnectionFactory(user=UserFactory(), connection_name="Sales prod of someone else")

    def names(q):
        with django_assert_max_num_queries(4):
            return sorted(c.connection_name for c in connection_list_for_user(user=user, q=q).items)

    assert names("PROD") == ["Sales prod"]
    assert names("salesforce billing") == ["Billing"]  # one word per name is enough
    assert names("salesforce") == ["Billing", "Sales prod"]
    assert names("nothing") == []
    page = connection_list_for_user(user=user, q="prod")
    assert page.total == 1 and page.stats.total == 2  # stats ignore the filters
