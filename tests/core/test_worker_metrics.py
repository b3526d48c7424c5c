"""Workers export their metrics: counted in prometheus-client's multiprocess mode into the
machine's PROMETHEUS_MULTIPROC_DIR (which the web's /metrics adds up) and served on
WORKER_METRICS_PORT for workers on machines of their own."""

import os
import subprocess
import sys
import uuid

import pytest
import redis
import requests
from django.core.cache.backends.redis import RedisCache

from config.celery import app as celery_app
from core.tasks import PING_KEY, ping
from tests.test_celery_worker import REDIS_URL, ROOT, start_worker, stop_worker, wait_for
from tests.test_scale_out import free_port

pytestmark = pytest.mark.worker

SHARED_FOLDER_READER = (
    "from prometheus_client import generate_latest; from core import metrics; "
    "print(generate_latest(metrics.process_registry()).decode())"
)
SUCCEEDED = 'connections_celery_tasks_total{state="succeeded",task="core.ping"}'


def test_a_worker_serves_its_task_metrics_and_shares_them_with_the_web(tmp_path):
    queue, port = f"test-metrics-{uuid.uuid4().hex[:12]}", free_port()
    folder = tmp_path / "metrics"
    folder.mkdir()
    tokens = [uuid.uuid4().hex for _ in range(3)]
    results = RedisCache(REDIS_URL, {})
    process, log = start_worker(
        tmp_path,
        queue,
        REDIS_URL=REDIS_URL,
        PROMETHEUS_MULTIPROC_DIR=str(folder),
        WORKER_METRICS_PORT=str(port),
    )
    try:
        with celery_app.connection_for_write(REDIS_URL) as connection:
            for token in tokens:
                ping.apply_async(args=[token], connection=connection, queue=queue)
        assert wait_for(lambda: all(results.get(PING_KEY.format(token=t)) for t in tokens))
        assert wait_for(lambda: f"{SUCCEEDED} 3.0" in _scrape(port))
        served = _scrape(port)
        # What the web's /metrics on the same machine reads from the shared folder.
        web_side = subprocess.run(
            [sys.executable, "-c", SHARED_FOLDER_READER],
            cwd=ROOT,
            env={
                **os.environ,
                "PROMETHEUS_MULTIPROC_DIR": str(folder),
                "DJANGO_SETTINGS_MODULE": "config.settings_test",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        output = stop_worker(process, log)
        for token in tokens:
            results.delete(PING_KEY.format(token=token))
        store = redis.Redis.from_url(REDIS_URL)
        store.delete(queue, f"_kombu.binding.{queue}")
    assert "connections_celery_task_duration_seconds_count" in served, output
    assert f"{SUCCEEDED} 3.0" in web_side.stdout, web_side.stderr


def _scrape(port: int) -> str:
    try:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except requests.RequestException:
        return ""
