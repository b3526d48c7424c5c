"""Connection tests on a real Celery worker process, on the real Redis at 127.0.0.1:6379, reading
and writing this test's database and calling the local provider over real sockets."""

import json
import uuid

import pytest
import redis
from django.utils import timezone

from connections import test_run_schedule, test_run_services
from connections.models import CheckRun, Connection
from tests.connections.factories import local_connection, local_provider
from tests.connections.task_queue import (
    REDIS_URL,
    RealWorker,
    broker,
    decode,
    drop_redis_queue,
    unacked_messages,
    wait_for,
)
from tests.provider_server import BEARER_TOKEN

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WRONG_TOKEN = "wrong-token-Wk31Hs"
CONCURRENCY = 20


@pytest.fixture(scope="module")
def queue():
    name = f"test-conn-{uuid.uuid4().hex[:12]}"
    redis.Redis.from_url(REDIS_URL).ping()  # the real Redis must be there; these tests do not skip
    yield name
    drop_redis_queue(name)


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory, queue):
    with RealWorker(tmp_path_factory.mktemp("worker"), queue, concurrency=CONCURRENCY) as running:
        yield running


@pytest.fixture
def on_worker(worker, queue):
    """Tests queued in the test publish to the worker's queue on Redis."""
    with broker(REDIS_URL, queue=queue):
        yield worker


@pytest.fixture
def local(provider_server, allow_local_provider):
    return local_provider(provider_server.origin, slow_ms=1000)


def wait_finished(*runs: CheckRun, timeout: float = 30) -> list[CheckRun]:
    pks = [run.pk for run in runs]

    def all_finished() -> bool:
        return not CheckRun.objects.filter(pk__in=pks, status__in=["queued", "running"]).exists()

    assert wait_for(all_finished, timeout), (
        f"runs still unfinished: {list(CheckRun.objects.filter(pk__in=pks))}"
    )
    return list(CheckRun.objects.filter(pk__in=pks).order_by("pk"))


def test_an_async_test_runs_end_to_end_on_the_worker(on_worker, key_client, local, user, provider_server):
    good = local_connection(local, user=user)
    bad = local_connection(local, user=user, credentials={"token": WRONG_TOKEN})

    queued = [
        key_client.post(f"/api/user-integrations/{c.connection_id}/test?async=true") for c in (good, bad)
    ]

    assert [response.status_code for response in queued] == [202, 202]
    status_urls = [response.json()["testRun"]["statusUrl"] for response in queued]
    wait_finished(*CheckRun.objects.all())
    passed, failed = (key_client.get(url).json()["testRun"] for url in status_urls)
    assert (passed["status"], passed["statusCode"], passed["message"]) == (
        "success",
        200,
        "Connection successful",
    )
    assert passed["endpoint"] == provider_server.url("/bearer")
    assert (failed["status"], failed["statusCode"]) == ("error", 401)
    assert failed["errorMessage"].startswith("Invalid credentials. The service answered 401 Unauthorized")
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.last_test_status, bad.last_test_status, bad.consecutive_failures) == ("success", "error", 1)
    log = on_worker.log
    assert log.count("connections.execute_test_run[") >= 4  # received and succeeded, twice
    assert BEARER_TOKEN not in log and WRONG_TOKEN not in log
    assert WRONG_TOKEN not in json.dumps(failed)


def test_one_worker_runs_many_tests_at_once(on_worker, provider_server):
    # Each test is answered only once all of them are in at once (an error after 20 s if not).
    together = local_provider(provider_server.origin, slow_ms=20_000, together=CONCURRENCY)
    connections = [local_connection(together, auth_method_id="slow") for _ in range(CONCURRENCY)]

    runs = wait_finished(
        *test_run_services.test_run_enqueue_many(connections=connections, actor="tests", trigger="command"),
        timeout=60,
    )

    assert [run.status for run in runs] == ["success"] * CONCURRENCY, [run.message for run in runs]
    assert max(run.started_at for run in runs) < min(run.finished_at for run in runs), "they overlapped"


def test_a_run_already_finished_is_not_run_again_by_the_worker(on_worker, local, provider_server):
    connection = local_connection(local)
    run = test_run_services.test_run_create(connection=connection, actor="tests")
    hits = len(provider_server.hits)

    test_run_services.test_run_send(
        run_ids=[run.run_id]
    )  # a duplicate message, as a re-delivery or the sweeper may send

    assert wait_for(lambda: f"test run {run.run_id}: no longer queued" in on_worker.log, 15), on_worker.log
    assert len(provider_server.hits) == hits
    assert CheckRun.objects.get(pk=run.pk).attempts == 1


def test_the_message_on_redis_holds_the_run_id_and_no_secret(local, django_db_blocker):
    queue = f"test-conn-{uuid.uuid4().hex[:12]}"
    connection = local_connection(local)
    try:
        with broker(REDIS_URL, queue=queue):
            run = test_run_services.test_run_enqueue(connection=connection, actor="tests")
        (raw,) = redis.Redis.from_url(REDIS_URL).lrange(queue, 0, -1)
    finally:
        drop_redis_queue(queue)

    message = decode(raw)
    assert (message.task, message.args) == ("connections.execute_test_run", [run.run_id])
    assert BEARER_TOKEN.encode() not in raw
    assert connection.credentials_encrypted.encode() not in raw


@pytest.mark.parametrize("count", [1, 3], ids=["one run", "a chunk"])
def test_a_run_whose_worker_died_is_failed_by_the_sweeper(
    count, local, provider_server, allow_local_provider, tmp_path, settings
):
    queue = f"test-conn-{uuid.uuid4().hex[:12]}"
    hanging = local_provider(provider_server.origin, slow_ms=30_000)
    connections = [local_connection(hanging, auth_method_id="slow") for _ in range(count)]
    try:
        with RealWorker(
            tmp_path, queue, concurrency=2, OUTBOUND_READ_TIMEOUT="60", OUTBOUND_DEADLINE="60"
        ) as worker:
            with broker(REDIS_URL, queue=queue):
                runs = test_run_services.test_run_enqueue_many(
                    connections=connections, actor="tests", trigger="api"
                )
            pks = [run.pk for run in runs]
            assert wait_for(
                lambda: CheckRun.objects.filter(pk__in=pks, status="running").count() == count, 20
            ), worker.log
            worker.kill()  # returns once the process is gone
        assert CheckRun.objects.filter(pk__in=pks, status="running").count() == count, (
            "nobody is left to finish them"
        )
        # Late acknowledgement: the message is not lost with its worker (another gets it after the
        # visibility timeout, and skips its runs once the sweeper has closed them).
        assert [m.args for m in unacked_messages(queue).values()] == [[run.run_id for run in runs]]
    finally:
        drop_redis_queue(queue)

    past_the_hard_limit = timezone.now() + timezone.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 61)
    assert test_run_schedule.test_run_sweep(now=past_the_hard_limit).abandoned == count

    for run in runs:
        run.refresh_from_db()
        assert run.status == "error"
        assert (
            run.error_message
            == "The test did not finish: its worker stopped or passed the 120 s time limit. Run it again."
        )
    for connection in connections:
        connection.refresh_from_db()
        assert connection.last_test_status is None
        assert Connection.objects.get(pk=connection.pk).consecutive_failures == 0
