"""Admin › Connections › Health by integration: counts per integration, failing tests of the last
24 h, masked error samples and links to the filtered lists, in a bounded number of queries."""

from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from connections.models import CheckRun, Connection
from tests.conftest import sign_in
from tests.connections.factories import ConnectionFactory, hubspot, salesforce

pytestmark = pytest.mark.django_db

URL = "/admin/connections/connection/health/"
LEAKY = "401 Unauthorized: token rejected, Authorization: Bearer sk-live-4f9a8b7c6d5e"


def failed_run(connection: Connection, *, hours_ago: float, message: str = "503 Service Unavailable"):
    finished = timezone.now() - timedelta(hours=hours_ago)
    return CheckRun.objects.create(
        connection=connection,
        status=CheckRun.Status.ERROR,
        status_code=int(message[:3]),
        message=message,
        error_message=message,
        queued_at=finished,
        finished_at=finished,
        requested_by="schedule",
        trigger=CheckRun.Trigger.SCHEDULE,
    )


@pytest.fixture
def fleet(settings):
    settings.CONNECTION_ATTENTION_AFTER = 3
    sf, hs = salesforce(), hubspot()
    broken = ConnectionFactory(integration=sf, consecutive_failures=5)
    ConnectionFactory.create_batch(2, integration=sf)
    ConnectionFactory(integration=sf, status=Connection.Status.INACTIVE)
    ConnectionFactory(integration=hs, auth_method_id="apiKey", auth_method_label="API key")
    failed_run(broken, hours_ago=1, message=LEAKY)
    failed_run(broken, hours_ago=2)
    failed_run(broken, hours_ago=30)  # outside the window
    return broken


def test_the_health_view_counts_per_integration_and_masks_error_samples(
    admin_client, fleet, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        response = admin_client.get(URL)
    assert response.status_code == 200
    rows = {row.integration_id: row for row, _links in response.context["rows"]}
    sf, hs = rows["salesforce"], rows["hubspot"]
    assert (sf.active, sf.inactive, sf.needs_attention, sf.failed_runs, sf.failing_connections) == (
        3,
        1,
        1,
        2,
        1,
    )
    assert (hs.active, hs.inactive, hs.needs_attention, hs.failed_runs) == (1, 0, 0, 0)
    assert [row.integration_id for row, _ in response.context["rows"]][0] == "salesforce"  # failing first
    page = unescape(response.content.decode())
    assert "sk-live-4f9a8b7c6d5e" not in page
    assert "Bearer ***" in page and fleet.connection_id in page
    assert "?integration__id__exact=salesforce&needs_attention=yes" in page
    assert response.context["workers"] == 0 and "no worker is running" in page
    assert "?integration__id__exact=salesforce&status__exact=inactive" in page
    assert "connection__integration__id__exact=salesforce&status__exact=error&finished_at__gte=" in page


def test_the_links_open_the_filtered_lists(admin_client, fleet):
    response = admin_client.get(URL)
    (links,) = [links for row, links in response.context["rows"] if row.integration_id == "salesforce"]
    attention = admin_client.get(links["attention"])
    assert list(attention.context["cl"].queryset) == [fleet]
    failed = admin_client.get(links["failed_runs"])
    assert failed.context["cl"].result_count == 2


def test_the_health_view_is_for_operators_only(user_client):
    response = user_client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_operator_reaches_the_health_view_from_the_connection_list(page, screenshot, operator, fleet):
    sign_in(page, operator)
    page.goto("/admin/connections/connection/")
    page.click("text=Health by integration")
    page.wait_for_selector(".integration-health table")
    assert page.locator(".integration-health tbody tr").count() == 2
    assert "sk-live-4f9a8b7c6d5e" not in page.content()
    screenshot("health-by-integration")
    page.click(".integration-health tbody tr:first-child td:nth-child(4) a")  # needs attention
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 1
