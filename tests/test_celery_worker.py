"""Real Celery worker processes: on the real Redis, on the filesystem transport, and a broker down."""

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.core.cache.backends.redis import RedisCache

from config.celery import app as celery_app
from core.tasks import PING_KEY, ping

pytestmark = pytest.mark.worker

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).with_name("celery"))
# A Redis database of its own, so tests never touch the app's data.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def worker_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "CELERY_FILESYSTEM_DIR": str(tmp_path / "celery"),
        "PYTHONUNBUFFERED": "1",
    }
    return env | extra


def start_worker(tmp_path, queue: str, **env):
    log = open(tmp_path / "worker.log", "w+")  # noqa: SIM115 - closed by stop_worker
    process = subprocess.Popen(
        # No --pool: the settings choose threads.
        [
            CELERY,
            "-A",
            "config",
            "worker",
            "--concurrency",
            "4",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=worker_env(tmp_path, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, log


def stop_worker(process, log) -> str:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.seek(0)
    output = log.read()
    log.close()
    return output


def wait_for(condition, timeout: float = 30) -> bool:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_worker_on_redis_runs_a_task_end_to_end(tmp_path):
    queue = f"test-{uuid.uuid4().hex[:12]}"
    token = uuid.uuid4().hex
    store = redis.Redis.from_url(REDIS_URL)
    store.ping()  # the real Redis must be there; this test does not skip
    results = RedisCache(REDIS_URL, {})
    process, log = start_worker(tmp_path, queue, REDIS_URL=REDIS_URL)
    try:
        with celery_app.connection_for_write(REDIS_URL) as connection:
            ping.apply_async(args=[token], connection=connection, queue=queue)
        arrived = wait_for(lambda: results.get(PING_KEY.format(token=token)) is not None)
    finally:
        output = stop_worker(process, log)
        results.delete(PING_KEY.format(token=token))
        store.delete(queue, f"_kombu.binding.{queue}")
    assert arrived, f"the worker never ran the task:\n{output}"
    assert "concurrency: 4 (thread)" in output
    assert "core.ping" in output and "succeeded" in output


def test_worker_on_the_filesystem_transport_needs_no_server(tmp_path):
    queue = f"test-{uuid.uuid4().hex[:12]}"
    folder = tmp_path / "celery"
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
    }
    for sub in ("queue", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    process, log = start_worker(tmp_path, queue)
    try:
        with celery_app.connection_for_write("filesystem://", transport_options=options) as connection:
            result = ping.apply_async(args=[uuid.uuid4().hex], connection=connection, queue=queue)
        done = wait_for(lambda: f"core.ping[{result.id}] succeeded" in (tmp_path / "worker.log").read_text())
    finally:
        output = stop_worker(process, log)
    assert done, f"the worker never ran the task:\n{output}"
    assert "filesystem://" in output
    assert not list((folder / "queue").iterdir()), "the message was not consumed"


BROKER_DOWN_SCRIPT = textwrap.dedent(
    """
    import time
    import django
    django.setup()
    from django.db import connection, transaction
    from core.errors import ServiceUnavailable
    from core.tasks import enqueue_on_commit, ping

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE saved (id integer)")
    started = time.monotonic()
    try:
        with transaction.atomic():
            connection.cursor().execute("INSERT INTO saved VALUES (1)")
            enqueue_on_commit(ping, "token")
            print("queued only after commit")
    except ServiceUnavailable as exc:
        print(f"{exc.status_code} after {time.monotonic() - started:.2f} s: {exc.message}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM saved")
        print("rows kept:", cursor.fetchone()[0])
    """
)


def test_publishing_with_the_broker_down_answers_503_fast_and_keeps_the_rows(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", BROKER_DOWN_SCRIPT],
        cwd=ROOT,
        env=worker_env(tmp_path, REDIS_URL="redis://127.0.0.1:1/0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "queued only after commit", result.stdout + result.stderr
    status, _, rest = lines[1].partition(" after ")
    assert status == "503"
    assert float(rest.split(" s:")[0]) < 5
    assert rest.endswith("The task queue is unavailable. Please try again shortly.")
    assert lines[2] == "rows kept: 1"
