"""What connections count into /metrics: tests by integration and outcome, runs waiting, rotation."""

import pytest

from connections import metrics as connection_metrics
from connections.models import CheckRun
from tests.connections.factories import ConnectionFactory, local_connection, local_provider
from tests.core.test_monitoring import METRICS_TOKEN, sample, scrape

WRONG = "wrong-token-for-metrics"


@pytest.fixture(autouse=True)
def _metrics_on(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    connection_metrics._rotation["at"] = None  # no memo from another test


def test_connection_tests_are_counted_by_integration_and_outcome(
    client, key_client, user, provider_server, allow_local_provider
):
    local = local_provider(provider_server.origin)
    good, bad = (
        local_connection(local, user=user),
        local_connection(local, user=user, credentials={"token": WRONG}),
    )
    before = scrape(client)
    for connection in (good, good, bad):
        key_client.post(f"/api/user-integrations/{connection.connection_id}/test")
    after = scrape(client)

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    labels = {"integration": "local", "trigger": "api"}
    assert delta("connections_connection_tests_total", outcome="success", **labels) == 2
    assert delta("connections_connection_tests_total", outcome="error", **labels) == 1
    assert delta("connections_connection_test_duration_seconds_count", integration="local") == 3
    assert good.connection_id not in after and WRONG not in after


def test_waiting_runs_and_rotation_progress_are_read_at_scrape_time(client, db, settings):
    on_old_key = ConnectionFactory()
    CheckRun.objects.create(connection=on_old_key, requested_by="tests", trigger="api")
    settings.ENCRYPTION_KEYS = ["newest:" + "A" * 43 + "=", *settings.ENCRYPTION_KEYS]
    ConnectionFactory()  # encrypted with the newest key
    text = scrape(client)
    assert sample(text, "connections_test_runs_pending", status="queued") == 1
    assert sample(text, "connections_test_runs_pending", status="running") == 0
    assert sample(text, "connections_credentials_total") == 2
    assert sample(text, "connections_credentials_on_old_keys") == 1
