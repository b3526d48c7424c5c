"""Celery plumbing for the connection-test suites: the messages tests publish, switching the
broker, and real worker processes that see the test database."""

from __future__ import annotations

import base64
import json
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import kombu.pools
import redis
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from connections.tasks import deliver_webhook, execute_test_run, oauth_refresh_connections, oauth_refresh_due
from tests.test_celery_worker import CELERY, REDIS_URL, ROOT, stop_worker, wait_for, worker_env

# Tasks the tests send to a worker's own queue.
ROUTED_TASKS = (execute_test_run, deliver_webhook, oauth_refresh_connections, oauth_refresh_due)


@dataclass(frozen=True)
class Message:
    raw: str  # the whole message as the broker holds it
    task: str
    args: list
    eta: str | None


def decode(raw: str | bytes) -> Message:
    """A Celery (protocol 2) message as Kombu stores it: JSON with a base64 body [args, kwargs, embed]."""
    envelope = json.loads(raw)
    body = json.loads(base64.b64decode(envelope["body"]))
    headers = envelope["headers"]
    return Message(
        raw=raw if isinstance(raw, str) else raw.decode(),
        task=headers["task"],
        args=body[0],
        eta=headers["eta"],
    )


def _queue_folder() -> Path:
    return Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"])


def clear_published() -> None:
    for path in _queue_folder().glob("*.msg"):
        path.unlink(missing_ok=True)


def published_messages() -> list[Message]:
    """The messages waiting in the filesystem transport's queue (tests publish there)."""
    return [decode(path.read_text()) for path in sorted(_queue_folder().glob("*.msg"))]


@contextmanager
def broker(url: str, *, queue: str | None = None, transport_options: dict | None = None):
    """Publish to ``url`` (and ``queue``) instead of the configured broker until the block ends."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.broker_transport_options, [getattr(t, "queue", None) for t in ROUTED_TASKS]

    def reconnect():
        # The app (and Kombu, globally) keep connection pools for the broker first used, and the
        # tasks cache their options (the queue).
        kombu.pools.reset()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        for task in ROUTED_TASKS:
            task._exec_options = None

    conf.broker_url = url
    conf.broker_transport_options = transport_options or {"socket_connect_timeout": 2, "socket_timeout": 10}
    for task in ROUTED_TASKS:
        task.queue = queue
    reconnect()
    try:
        yield
    finally:
        conf.broker_url, conf.broker_transport_options, queues = saved
        for task, saved_queue in zip(ROUTED_TASKS, queues, strict=True):
            task.queue = saved_queue
        reconnect()


def database_url_for_workers() -> str:
    """The database this test runs on, as DATABASE_URL for another process."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class RealWorker:
    """``celery -A config worker`` (thread pool) on ``queue`` of the real Redis, using this test's
    database and allowed to reach the local provider."""

    def __init__(self, tmp_path: Path, queue: str, *, concurrency: int = 8, args: tuple = (), **env) -> None:
        self.tmp_path, self.queue = tmp_path, queue
        self.log_path = tmp_path / f"worker-{queue}.log"
        environment = worker_env(
            tmp_path,
            REDIS_URL=REDIS_URL,
            DATABASE_URL=database_url_for_workers(),
            OUTBOUND_ALLOWLIST="127.0.0.1",
            # What the worker itself queues (a webhook's retry) stays on its queue.
            CELERY_QUEUE=queue,
            **env,
        )
        self._log = open(self.log_path, "w+")  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [
                CELERY,
                "-A",
                "config",
                "worker",
                "--concurrency",
                str(concurrency),
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
                *args,
            ],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        if not wait_for(lambda: " ready." in self.log_path.read_text(), timeout):
            raise AssertionError(f"the worker did not start:\n{self.stop()}")

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        """Die at once, as on a lost machine: no task is finished or acknowledged."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> str:
        return stop_worker(self.process, self._log)

    def __enter__(self) -> RealWorker:
        self.wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.stop()
        else:
            self._log.close()


def unacked_messages(queue: str) -> dict[str, Message]:
    """Messages of ``queue`` a worker took but never acknowledged, by delivery tag: Kombu keeps
    them in Redis and hands them out again after the visibility timeout."""
    store = redis.Redis.from_url(REDIS_URL)
    held = {}
    for tag, value in store.hgetall("unacked").items():
        raw, _exchange, routing_key = json.loads(value)
        if routing_key == queue:
            held[tag.decode()] = decode(json.dumps(raw))
    return held


def drop_redis_queue(queue: str) -> None:
    store = redis.Redis.from_url(REDIS_URL)
    for tag in unacked_messages(queue):
        store.hdel("unacked", tag)
        store.zrem("unacked_index", tag)
    for key in store.scan_iter(match=f"*{queue}*"):
        store.delete(key)
