"""Redis down: the cache fails open (requests go on, throttling is off, the outage is logged) and
the broker's outage is the documented 503. Against a real redis-server this test starts on a free
port and stops, never the shared one."""

import logging
import socket
import subprocess
import time

import pytest
import redis

from connections.models import CheckRun
from tests.connections.factories import local_connection, local_provider
from tests.connections.task_queue import broker

pytestmark = pytest.mark.django_db


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, with nothing saved to disk; stopped at the end."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield process, url
    process.terminate()
    process.wait(timeout=10)


def use_redis_cache(settings, url: str) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.FailOpenRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def rename(client, user_id: str, name: str):
    return client.patch(f"/api/users/{user_id}", {"name": name}, format="json")


def test_with_the_cache_stopped_writes_go_on_unthrottled_and_the_outage_is_logged(
    settings, own_redis, key_client, user, caplog
):
    process, url = own_redis
    use_redis_cache(settings, url)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"writes": "2/min"}}

    # Redis up: the throttle counts.
    assert [rename(key_client, user.user_id, f"Ada {n}").status_code for n in range(3)] == [200, 200, 429]

    process.terminate()
    process.wait(timeout=10)
    caplog.set_level(logging.WARNING, logger="core.cache")
    started = time.monotonic()
    statuses = [rename(key_client, user.user_id, f"Grace {n}").status_code for n in range(4)]

    assert statuses == [200, 200, 200, 200], "the cache's outage fails open"
    assert time.monotonic() - started < 10
    user.refresh_from_db()
    assert user.name == "Grace 3"
    warnings = [r.getMessage() for r in caplog.records if r.name == "core.cache"]
    assert len(warnings) == 1, "logged once, not once a call"
    assert warnings[0].startswith("cache unavailable (ConnectionError on ")
    assert url not in warnings[0]


@pytest.mark.django_db(transaction=True)
def test_with_cache_and_broker_on_a_closed_port_reads_and_writes_work_and_async_tests_answer_503(
    settings, key_client, user, provider_server, allow_local_provider
):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    use_redis_cache(settings, closed)
    connection = local_connection(local_provider(provider_server.origin), user=user)

    with broker(closed):
        listed = key_client.get("/api/user-integrations/my-connections", {"userId": user.user_id})
        renamed = rename(key_client, user.user_id, "Still here")
        tested = key_client.post(f"/api/user-integrations/{connection.connection_id}/test?async=true")

    assert (listed.status_code, renamed.status_code) == (200, 200)
    assert tested.status_code == 503
    assert tested.json() == {
        "success": False,
        "message": "The task queue is unavailable. Please try again shortly.",
        "error": "1 test run(s) saved as queued; they are sent automatically once the queue is back",
    }
    # The run is whole (queued, for the sweeper to send), not half-written.
    (run,) = CheckRun.objects.all()
    assert (run.status, run.started_at, run.finished_at) == (CheckRun.Status.QUEUED, None, None)
