"""The seed's connection-testing endpoint and the asynchronous runs of CONTRACTS.md, over HTTP,
with the local provider answering over real sockets."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from connections import test_run_schedule, test_run_services
from connections.models import AuditEvent, CheckRun, Connection
from tests.connections.factories import (
    integration_from_document,
    local_connection,
    local_provider,
    local_provider_document,
)
from tests.connections.task_queue import broker, clear_published, published_messages
from tests.provider_server import BEARER_TOKEN, ProviderServer

pytestmark = pytest.mark.django_db

WRONG_TOKEN = "wrong-token-Zr58Kp"
SUCCESS_KEYS = {"status", "statusCode", "responseTime", "timestamp", "endpoint"}
FAILURE_KEYS = {"status", "statusCode", "errorMessage", "timestamp", "endpoint"}
RUN_KEYS = {
    "id",
    "connectionId",
    "status",
    "statusCode",
    "responseTime",
    "message",
    "errorMessage",
    "endpoint",
    "queuedAt",
    "startedAt",
    "finishedAt",
}


@pytest.fixture
def local(provider_server, allow_local_provider):
    return local_provider(provider_server.origin)


@pytest.fixture
def connection(local, user):
    return local_connection(local, user=user, connection_name="Local production")


@pytest.fixture
def queue():
    clear_published()
    yield
    clear_published()


def url_of_test(connection, suffix="") -> str:
    return f"/api/user-integrations/{connection.connection_id}/test{suffix}"


def iso_ms(value) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- POST /api/user-integrations/:connectionId/test (the seed)


def test_a_successful_test_as_in_the_seed(key_client, connection, provider_server):
    response = key_client.post(url_of_test(connection))

    assert response.status_code == 200
    body = response.json()
    assert (body["success"], body["message"]) == (True, "Connection test successful")
    result = body["testResult"]
    assert set(result) == SUCCESS_KEYS
    assert (result["status"], result["statusCode"]) == ("success", 200)
    assert result["endpoint"] == provider_server.url("/bearer")
    assert isinstance(result["responseTime"], int) and 0 <= result["responseTime"] < 5000
    connection.refresh_from_db()
    assert result["timestamp"] == iso_ms(connection.last_test_date)
    assert (connection.last_test_status, connection.last_test_message) == ("success", "Connection successful")

    listed = key_client.get(f"/api/user-integrations/{connection.connection_id}").json()["connection"]
    assert (listed["lastTestStatus"], listed["lastTestDate"]) == ("success", result["timestamp"])
    assert (listed["consecutiveFailures"], listed["needsAttention"]) == (0, False)
    assert connection.audit_events.filter(action=AuditEvent.Action.TEST).count() == 1


def test_bad_credentials_as_in_the_seed(key_client, local, user, provider_server):
    connection = local_connection(local, user=user, credentials={"token": WRONG_TOKEN})

    response = key_client.post(url_of_test(connection))

    assert response.status_code == 400
    body = response.json()
    assert (body["success"], body["message"]) == (False, "Connection test failed")
    result = body["testResult"]
    assert set(result) == FAILURE_KEYS
    assert (result["status"], result["statusCode"]) == ("error", 401)
    assert result["errorMessage"].startswith("Invalid credentials. The service answered 401 Unauthorized")
    assert result["endpoint"] == provider_server.url("/bearer")
    assert WRONG_TOKEN not in response.content.decode(), "the provider echoed it; it is scrubbed"
    connection.refresh_from_db()
    assert (connection.last_test_status, connection.consecutive_failures) == ("error", 1)
    assert connection.last_test_message == result["errorMessage"]


def test_unknown_connection_as_in_the_seed(key_client):
    response = key_client.post("/api/user-integrations/conn_nope/test")

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "Connection not found"}


def test_end_users_test_their_own_connections_only(user_client, connection, local, other_user):
    assert user_client.post(url_of_test(connection)).status_code == 200
    someone_elses = local_connection(local, user=other_user)

    response = user_client.post(url_of_test(someone_elses))

    assert response.status_code == 404
    assert response.json()["message"] == "Connection not found"
    assert not someone_elses.test_runs.exists()


def test_an_inactive_connection_is_refused_with_a_clear_message(key_client, local, user):
    connection = local_connection(local, user=user, status=Connection.Status.INACTIVE)

    response = key_client.post(url_of_test(connection))

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Connection is inactive and cannot be tested",
        "error": "Reactivate it (PUT status active) before testing it",
    }
    assert not CheckRun.objects.exists()


def test_a_slow_provider_is_bounded_by_the_outbound_deadline(
    key_client, allow_local_provider, user, settings
):
    settings.OUTBOUND_READ_TIMEOUT = 0.3
    with ProviderServer() as server:
        slow = local_provider(server.origin, slow_ms=30_000)
        connection = local_connection(slow, user=user, auth_method_id="slow")

        response = key_client.post(url_of_test(connection))

        assert len(server.hits) == 1 and server.answered == [], "the test gave up before the answer came"
    assert response.status_code == 400
    assert "timed out" in response.json()["testResult"]["errorMessage"].lower()


def test_inline_tests_are_kept_in_the_history(key_client, connection):
    key_client.post(url_of_test(connection))

    runs = key_client.get(f"/api/user-integrations/{connection.connection_id}/tests").json()["testRuns"]

    assert len(runs) == 1
    assert (runs[0]["status"], runs[0]["statusCode"], runs[0]["message"]) == (
        "success",
        200,
        "Connection successful",
    )


def test_the_test_call_makes_a_bounded_number_of_queries(
    key_client, connection, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        assert key_client.post(url_of_test(connection)).status_code == 200


# --- ?async=true, GET /api/connection-tests/:id, GET …/tests (CONTRACTS.md)


def test_async_answers_202_with_the_run_to_poll(
    key_client, connection, queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = key_client.post(url_of_test(connection, "?async=true"))

    assert response.status_code == 202
    body = response.json()
    run = CheckRun.objects.get()
    assert body == {
        "success": True,
        "message": "Connection test queued",
        "testRun": {"id": run.run_id, "status": "queued", "statusUrl": f"/api/connection-tests/{run.run_id}"},
    }
    assert run.run_id.startswith("run_") and len(run.run_id) > 20
    (message,) = published_messages()
    assert message.args == [run.run_id]
    assert BEARER_TOKEN not in message.raw

    polled = key_client.get(body["testRun"]["statusUrl"]).json()
    assert polled["success"] is True
    assert set(polled["testRun"]) == RUN_KEYS
    assert polled["testRun"] | {"queuedAt": None} == {
        "id": run.run_id,
        "connectionId": connection.connection_id,
        "status": "queued",
        "statusCode": None,
        "responseTime": None,
        "message": None,
        "errorMessage": None,
        "endpoint": None,
        "queuedAt": None,
        "startedAt": None,
        "finishedAt": None,
    }


def test_a_finished_run_reads_as_in_the_contract(key_client, connection, provider_server):
    run = CheckRun.objects.create(connection=connection, requested_by="tests", trigger="api")
    test_run_services.test_run_execute_queued(run_id=run.run_id)
    run.refresh_from_db()

    body = key_client.get(f"/api/connection-tests/{run.run_id}").json()

    assert body["testRun"] == {
        "id": run.run_id,
        "connectionId": connection.connection_id,
        "status": "success",
        "statusCode": 200,
        "responseTime": run.response_time_ms,
        "message": "Connection successful",
        "errorMessage": None,
        "endpoint": provider_server.url("/bearer"),
        "queuedAt": iso_ms(run.queued_at),
        "startedAt": iso_ms(run.started_at),
        "finishedAt": iso_ms(run.finished_at),
    }


def test_async_for_an_inactive_connection_is_refused(key_client, local, user):
    connection = local_connection(local, user=user, status=Connection.Status.INACTIVE)

    assert key_client.post(url_of_test(connection, "?async=true")).status_code == 400
    assert not CheckRun.objects.exists()


def test_runs_of_someone_elses_connection_are_not_found(user_client, local, other_user, user, connection):
    theirs = CheckRun.objects.create(
        connection=local_connection(local, user=other_user), requested_by="t", trigger="api"
    )
    mine = CheckRun.objects.create(connection=connection, requested_by="t", trigger="api")

    assert user_client.get(f"/api/connection-tests/{mine.run_id}").status_code == 200
    for url in (f"/api/connection-tests/{theirs.run_id}", "/api/connection-tests/run_unknown"):
        response = user_client.get(url)
        assert response.status_code == 404
        assert response.json() == {"success": False, "message": "Test run not found"}
    response = user_client.get(f"/api/user-integrations/{theirs.connection.connection_id}/tests")
    assert response.json() == {"success": False, "message": "Connection not found"}


def test_history_is_newest_first_with_a_limit(key_client, connection):
    now = timezone.now()
    runs = [
        CheckRun.objects.create(
            connection=connection, requested_by="t", trigger="api", queued_at=now - timedelta(minutes=m)
        )
        for m in (30, 10, 20)
    ]
    url = f"/api/user-integrations/{connection.connection_id}/tests"

    assert [r["id"] for r in key_client.get(url).json()["testRuns"]] == [
        runs[1].run_id,
        runs[2].run_id,
        runs[0].run_id,
    ]
    assert [r["id"] for r in key_client.get(url, {"limit": 1}).json()["testRuns"]] == [runs[1].run_id]
    bad = key_client.get(url, {"limit": 0})
    assert bad.status_code == 400
    assert bad.json()["errors"] == ["limit: Ensure this value is greater than or equal to 1."]


def test_history_and_status_reads_make_constant_queries(
    key_client, connection, django_assert_max_num_queries
):
    for _ in range(30):
        CheckRun.objects.create(connection=connection, requested_by="t", trigger="api")
    run = CheckRun.objects.first()

    url = f"/api/user-integrations/{connection.connection_id}/tests"
    key_client.get(url)  # the first request proves the API key and loads the catalog, once per process
    # The connection (1), the runs (1).
    with django_assert_max_num_queries(2):
        assert len(key_client.get(url).json()["testRuns"]) == 30
    with django_assert_max_num_queries(1):
        assert key_client.get(f"/api/connection-tests/{run.run_id}").status_code == 200


def test_the_openapi_schema_documents_the_test_endpoints(anon_client):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    test = schema["paths"]["/api/user-integrations/{connection_id}/test"]["post"]
    assert {"200", "202", "400", "404", "503"} <= set(test["responses"])
    assert "OUTBOUND_DEADLINE" in test["description"]
    assert "/api/connection-tests/{run_id}" in schema["paths"]
    assert "/api/user-integrations/{connection_id}/tests" in schema["paths"]


# --- The broker down


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_async_answers_503_fast_and_the_run_is_sent_later(
    key_client, connection, queue, settings
):
    def post():
        try:
            return key_client.post(url_of_test(connection, "?async=true"))
        finally:
            db_connection.close()  # this thread's own connection

    # Fast: within what the publish retry policy allows (a connect timeout per attempt, the
    # pauses between them), not after the broker client's own reconnection loop.
    policy = settings.CELERY_TASK_PUBLISH_RETRY_POLICY
    attempts = policy["max_retries"] + 1
    bound = (
        attempts * settings.CELERY_BROKER_CONNECTION_TIMEOUT + policy["max_retries"] * policy["interval_max"]
    )
    with broker("redis://127.0.0.1:1/0"), ThreadPoolExecutor(max_workers=1) as pool:
        response = pool.submit(post).result(timeout=bound)

    assert response.status_code == 503
    assert response.json() == {
        "success": False,
        "message": "The task queue is unavailable. Please try again shortly.",
        "error": "1 test run(s) saved as queued; they are sent automatically once the queue is back",
    }
    run = CheckRun.objects.get()
    assert run.status == CheckRun.Status.QUEUED
    assert published_messages() == []

    # The queue is back: the sweeper's next pass after CONNECTION_TEST_REQUEUE_MINUTES sends it.
    assert test_run_schedule.test_run_sweep(now=timezone.now() + timedelta(minutes=11)).requeued == 1
    assert [m.args for m in published_messages()] == [[run.run_id]]


def redirecting_connection(provider_server, user, location: str):
    document = local_provider_document(provider_server.origin)
    document["id"] = "redirecting"
    document["testRequest"] = {"method": "GET", "path": "/redirect", "query": {"to": location}}
    integration = integration_from_document(document)
    return local_connection(integration, user=user)


@pytest.mark.parametrize(
    "location", ["http://127.0.0.1:99999/", "http://h:8910 /", "https://h:8911\\.example.com/"]
)
def test_a_provider_redirecting_to_a_malformed_url_fails_the_test_cleanly(
    key_client, provider_server, allow_local_provider, user, location
):
    connection = redirecting_connection(provider_server, user, location)

    response = key_client.post(url_of_test(connection))

    assert response.status_code == 400
    result = response.json()["testResult"]
    assert result["status"] == "error"
    assert result["errorMessage"].startswith(
        "The redirect from 127.0.0.1 (its Location header) is not a valid URL ("
    )
    assert not CheckRun.objects.filter(status__in=["queued", "running"]).exists()


def test_tests_started_from_the_pages_are_recorded_as_page(key_client, user_client, user, connection):
    from django.test import Client

    assert key_client.post(url_of_test(connection)).status_code == 200
    assert user_client.post(url_of_test(connection)).status_code == 200  # the Test button's call
    browser = Client()
    browser.force_login(user)
    browser.post(f"/connections/{connection.connection_id}/test/")  # the Test button without JS

    triggers = list(connection.test_runs.order_by("queued_at", "id").values_list("trigger", flat=True))
    assert triggers == ["api", "page", "page"]
