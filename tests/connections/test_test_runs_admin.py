"""Admin: test history on the connection page and on its own (read-only), the "needs attention"
filter, and the "Test selected" action that queues tests for the workers."""

import pytest

from connections import test_run_services
from connections.models import CheckRun, Connection
from tests.connections.factories import local_connection, local_provider
from tests.connections.task_queue import clear_published, published_messages
from tests.provider_server import BEARER_TOKEN

pytestmark = pytest.mark.django_db

WRONG_TOKEN = "wrong-token-Ad77Qe"


@pytest.fixture
def local(provider_server, allow_local_provider):
    return local_provider(provider_server.origin)


def test_the_connection_page_shows_its_recent_test_runs_without_secrets(admin_client, local):
    connection = local_connection(local, credentials={"token": WRONG_TOKEN})
    run = test_run_services.test_run_create(connection=connection, actor="tests")

    page = admin_client.get(f"/admin/connections/connection/{connection.pk}/change/").content.decode()

    assert "Recent test runs (newest 20)" in page
    assert run.run_id in page and "Invalid credentials" in page
    assert f"/admin/connections/checkrun/?q={connection.connection_id}" in page
    assert WRONG_TOKEN not in page


def test_test_runs_are_listed_and_shown_read_only(admin_client, local):
    run = test_run_services.test_run_create(connection=local_connection(local), actor="tests")

    listing = admin_client.get("/admin/connections/checkrun/", {"status__exact": "success"})
    detail = admin_client.get(f"/admin/connections/checkrun/{run.pk}/change/")

    assert listing.status_code == 200 and run.run_id in listing.content.decode()
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client.get("/admin/connections/checkrun/add/").status_code == 403
    assert BEARER_TOKEN not in listing.content.decode() + detail.content.decode()


def test_connections_needing_attention_can_be_filtered(admin_client, local, settings):
    settings.CONNECTION_ATTENTION_AFTER = 3
    failing = local_connection(local, connection_name="Failing one")
    Connection.objects.filter(pk=failing.pk).update(consecutive_failures=3)
    local_connection(local, connection_name="Healthy one")

    page = admin_client.get("/admin/connections/connection/", {"needs_attention": "yes"}).content.decode()

    assert "Failing one" in page and "Healthy one" not in page
    assert "By needs attention" in page


def test_test_selected_queues_a_test_per_active_connection(
    admin_client, local, django_capture_on_commit_callbacks
):
    clear_published()
    active = [local_connection(local) for _ in range(2)]
    inactive = local_connection(local, status=Connection.Status.INACTIVE)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/connections/connection/",
            {"action": "test_selected", "_selected_action": [c.pk for c in [*active, inactive]]},
            follow=True,
        )

    assert "Queued 2 connection test(s) (1 inactive skipped)" in response.content.decode()
    runs = CheckRun.objects.all()
    assert {r.connection_id for r in runs} == {c.pk for c in active}
    assert {(r.status, r.trigger) for r in runs} == {("queued", "admin")}
    # Queued together: one message carries both run ids.
    assert [sorted(m.args) for m in published_messages()] == [sorted(r.run_id for r in runs)]
    clear_published()
