"""The browsable API's breadcrumbs, on every kind of route: each level named once, in words,
never a not-found view."""

import re

import pytest

from tests.accounts.factories import UserFactory
from tests.connections.factories import ConnectionFactory
from tests.features.factories import FeatureMappingFactory, IntegrationFactory

pytestmark = pytest.mark.django_db


def crumbs(client, url: str) -> list[str]:
    page = client.get(url, HTTP_ACCEPT="text/html").content.decode()
    return re.findall(
        r"<a [^>]*>([^<]+)</a>", re.search(r'<ul class="breadcrumb">(.*?)</ul>', page, re.S).group(1)
    )


def test_every_level_is_named_once(client):
    operator = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(operator)
    connection = ConnectionFactory(user=operator)
    mapping = FeatureMappingFactory(integration=IntegrationFactory())
    conn = f"/api/user-integrations/{connection.connection_id}"
    expected = {
        "/api/user-integrations/my-connections": ["My connections"],
        conn: ["Connection"],
        f"{conn}/history": ["Connection", "History"],
        f"{conn}/tests": ["Connection", "Test history"],
        "/api/feature-templates/create_contact": ["Feature templates", "Feature template"],
        f"/api/integrations/hubspot/feature-mappings/{mapping.pk}": [
            "Integrations",
            "Integration",
            "Feature mappings",
            "Feature mapping",
        ],
        "/api/feature-handlers": ["Feature handlers"],
        f"/api/users/{operator.user_id}": ["Users", "User"],
        f"/api/users/{operator.user_id}/connections/status": ["Users", "User", "Connection status"],
        "/api/connection-tests/run_unknown": ["Test run"],
    }
    for url, names in expected.items():
        found = crumbs(client, url)
        assert found == names, url
        assert not any("Not Found" in name for name in found)
