"""Scale-out, proven: two gunicorn instances on different ports and two Celery workers (each with an
embedded beat, the worst case of "beat on every machine") share one PostgreSQL database and one
Redis (a database number and key prefix of its own; nothing is flushed).

- a session started on one instance works on the other;
- an Idempotency-Key raced across both instances yields one connection;
- the write rate limit is shared (one budget, not one per instance);
- tests queued on either instance are run by the workers exactly once each, by both workers;
- the beat's periodic work runs once per period, not once per worker;
- both instances are ready (/readyz) once the workers' heartbeats are in.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from django.db import connection

from accounts.api_keys import api_key_create
from connections.models import CheckRun, Connection
from tests.accounts.factories import UserFactory
from tests.conftest import PASSWORD
from tests.connections.factories import local_connection, local_provider, salesforce
from tests.connections.task_queue import database_url_for_workers
from tests.test_celery_worker import CELERY, ROOT, wait_for

# "worker" too: in a parallel run the cluster starts once, in the process that runs worker tests.
pytestmark = [pytest.mark.scale_out, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
# A Redis database of this test's own; keys and queues carry a per-run prefix besides.
REDIS_URL = os.environ.get("SCALE_OUT_REDIS_URL", "redis://127.0.0.1:6379/12")
WRITE_RATE = 30  # per minute, per API key
SWEEP_EVERY = 2  # seconds between the beat's sweeps
METRICS_TOKEN = "scale-out-metrics"


@pytest.fixture(scope="module", autouse=True)
def _needs_postgres(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        vendor = connection.vendor
    if vendor != "postgresql":
        pytest.skip(
            "scale-out needs PostgreSQL: two servers and two workers share one database over the network"
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Service:
    """One process of the cluster, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict, folder: Path) -> None:
        self.name, self.log_path = name, folder / f"{name}.log"
        self._log = open(self.log_path, "w+")  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Cluster:
    def __init__(self, folder: Path, prefix: str) -> None:
        self.prefix, self.queue = prefix, f"{prefix}-tasks"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")},
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": database_url_for_workers(),
            "REDIS_URL": REDIS_URL,
            "CACHE_KEY_PREFIX": prefix,
            "CELERY_QUEUE": self.queue,
            "API_WRITE_THROTTLE_RATE": f"{WRITE_RATE}/min",
            "OUTBOUND_ALLOWLIST": "127.0.0.1",
            "CONNECTION_SWEEP_EVERY_SECONDS": str(SWEEP_EVERY),
            "WORKER_HEARTBEAT_SECONDS": "1",
            "METRICS_TOKEN": METRICS_TOKEN,
            "PYTHONUNBUFFERED": "1",
        }
        self.ports = [free_port(), free_port()]
        self.webs = [
            Service(
                f"web-{port}",
                # The Procfile's web command, on loopback, two processes each adding up their
                # metrics in a folder of their "machine".
                [GUNICORN, "-c", "config/gunicorn.conf.py", "config.wsgi", "-b", f"127.0.0.1:{port}"],
                {
                    **self.env,
                    "WEB_CONCURRENCY": "2",
                    "WEB_THREADS": "4",
                    "PROMETHEUS_MULTIPROC_DIR": str(self._empty(folder / f"metrics-{port}")),
                },
                folder,
            )
            for port in self.ports
        ]
        self.workers = [
            Service(
                f"worker-{letter}",
                [
                    CELERY,
                    "-A",
                    "config",
                    "worker",
                    "-B",
                    "-s",
                    str(folder / f"beat-{letter}"),
                    "-n",
                    f"{prefix}-{letter}@%h",
                    "--concurrency",
                    "4",
                    "--without-gossip",
                    "--without-mingle",
                ],
                self.env,
                folder,
            )
            for letter in "ab"
        ]

    @staticmethod
    def _empty(folder: Path) -> Path:
        folder.mkdir()
        return folder

    def url(self, index: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[index]}{path}"

    def wait_ready(self) -> None:
        for index, web in enumerate(self.webs):
            if not wait_for(lambda index=index: self._answers(index), 60):
                raise AssertionError(f"{web.name} did not start:\n{web.log}")
        for worker in self.workers:
            if not wait_for(lambda worker=worker: " ready." in worker.log, 60):
                raise AssertionError(f"{worker.name} did not start:\n{worker.log}")

    def _answers(self, index: int) -> bool:
        try:
            return requests.get(self.url(index, "/healthz"), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        for service in [*self.webs, *self.workers]:
            service.stop()
        store = redis.Redis.from_url(REDIS_URL)
        for key in store.scan_iter(match=f"*{self.prefix}*"):
            store.delete(key)


@pytest.fixture(scope="module")
def cluster(_needs_postgres, tmp_path_factory):
    store = redis.Redis.from_url(REDIS_URL)
    store.ping()  # the real Redis must be there; this test does not skip on it
    running = Cluster(tmp_path_factory.mktemp("scale-out"), f"scaleout-{uuid.uuid4().hex[:10]}")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def api(raw_key: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {raw_key}"
    return session


def test_a_session_started_on_one_instance_works_on_the_other(cluster):
    user = UserFactory(name="Grace Hopper")
    browser = requests.Session()
    form = browser.get(cluster.url(0, "/login/"), timeout=10).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    signed_in = browser.post(
        cluster.url(0, "/login/"),
        data={"csrfmiddlewaretoken": token, "username": user.email, "password": PASSWORD},
        timeout=10,
    )
    assert signed_in.status_code == 200 and signed_in.url.endswith("/my-connections/")

    page = browser.get(cluster.url(1, "/my-connections/"), timeout=10, allow_redirects=False)
    assert page.status_code == 200 and "Grace Hopper" in page.text
    own = browser.get(cluster.url(1, "/api/user-integrations/my-connections"), timeout=10)
    assert own.status_code == 200 and own.json()["success"] is True


def test_an_idempotency_key_raced_across_both_instances_yields_one_connection(cluster):
    salesforce()
    user = UserFactory()
    client = api(api_key_create(name="race")[1])
    body = {
        "userId": user.user_id,
        "integrationId": "salesforce",
        "authMethodId": "oauth2",
        "connectionName": "Raced",
        "configuredVariables": {"instance_url": "https://mycompany.salesforce.com"},
        "credentials": {"clientId": "3MVG9...", "clientSecret": "1234567890ABCDEF"},
    }
    start = threading.Barrier(12)

    def connect(index: int) -> requests.Response:
        start.wait()
        return client.post(
            cluster.url(index % 2, "/api/user-integrations/connect"),
            json=body,
            headers={"Idempotency-Key": "raced-key"},
            timeout=30,
        )

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(connect, range(12)))
    assert {answer.status_code for answer in answers} == {201}, [a.text for a in answers]
    assert len({answer.json()["connectionId"] for answer in answers}) == 1
    assert Connection.objects.filter(user=user).count() == 1


def test_the_write_rate_limit_is_shared_by_both_instances(cluster):
    client = api(api_key_create(name="throttled")[1])
    statuses = [
        client.post(cluster.url(index % 2, "/api/user-integrations/connect"), json={}, timeout=10).status_code
        for index in range(WRITE_RATE + 10)
    ]
    # One budget for both: one per instance would let every request through.
    assert statuses.count(429) == 10, statuses
    assert set(statuses[:WRITE_RATE]) == {400}


def test_tests_queued_on_either_instance_run_exactly_once_on_either_worker(cluster, provider_server):
    local = local_provider(provider_server.origin, slow_ms=300)
    user = UserFactory()
    connections = [local_connection(local, user=user, auth_method_id="slow") for _ in range(16)]
    client = api(api_key_create(name="queue")[1])
    hits_before = len(provider_server.hits)
    for index, item in enumerate(connections):
        queued = client.post(
            cluster.url(index % 2, f"/api/user-integrations/{item.connection_id}/test?async=true"), timeout=10
        )
        assert queued.status_code == 202, queued.text

    runs = CheckRun.objects.filter(connection__in=connections)
    assert wait_for(lambda: not runs.exclude(status__in=["success", "error"]).exists(), 60)
    assert runs.count() == 16 and set(runs.values_list("status", flat=True)) == {"success"}
    assert set(runs.values_list("attempts", flat=True)) == {1}
    assert len(provider_server.hits) - hits_before == 16
    ran_by = Counter()
    for worker in cluster.workers:
        for run in runs:
            ran_by[run.run_id, worker.name] += worker.log.count(f"test run {run.run_id} of ")
    assert all(sum(ran_by[run.run_id, w.name] for w in cluster.workers) == 1 for run in runs)
    assert all(sum(ran_by[run.run_id, worker.name] for run in runs) > 0 for worker in cluster.workers)


def test_the_beat_work_runs_once_per_period_not_once_per_worker(cluster):
    def runs_per_period() -> Counter:
        periods = Counter()
        for worker in cluster.workers:
            periods.update(
                re.findall(
                    r"periodic connections\.tasks\.sweep_test_runs: running for period (\d+)", worker.log
                )
            )
        return periods

    assert wait_for(lambda: len(runs_per_period()) >= 4, 30)
    assert set(runs_per_period().values()) == {1}
    # Both embedded beats fired: the second scheduler of a period was turned away.
    skipped = sum(worker.log.count("sweep_test_runs: period") for worker in cluster.workers)
    assert skipped >= 1


def test_both_instances_are_ready_once_the_workers_beat(cluster):
    def ready_with_both_workers(index: int) -> bool:
        # Ready as soon as one worker has beaten; the second may beat a moment later.
        response = requests.get(cluster.url(index, "/readyz"), timeout=10)
        return response.status_code == 200 and response.json()["checks"]["workers"]["detail"].startswith("2 ")

    for index in (0, 1):
        assert wait_for(lambda index=index: ready_with_both_workers(index), 15)
        body = requests.get(cluster.url(index, "/readyz"), timeout=10).json()
        assert body["checks"]["workers"]["detail"] == "2 seen in the last 60 s"


def test_metrics_add_up_every_process_of_an_instance(cluster):
    for _ in range(20):
        assert requests.get(cluster.url(0, "/healthz"), timeout=10).status_code == 200
    scraped = requests.get(
        cluster.url(0, "/metrics"), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10
    ).text
    served = re.search(
        r'connections_http_requests_total\{method="GET",route="healthz",status="200"\} (\S+)', scraped
    )
    # Both gunicorn processes answered some of them; the count is theirs together.
    assert served and float(served.group(1)) >= 20, scraped[:2000]
    assert "connections_broker_up 1.0" in scraped
    assert f'connections_queue_depth{{queue="{cluster.queue}"}}' in scraped
