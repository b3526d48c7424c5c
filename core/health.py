"""Readiness checks of the parts the app needs: shared by ``/readyz`` and ``manage.py doctor``.

Each answers a ``CheckResult`` whose ``detail`` is safe to show anyone: a count, or the kind of
error (``OperationalError``), never an address, a URL or an exception's text (which can carry a
host name or a password).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from time import perf_counter

from celery import current_app
from django.core.cache import cache
from django.db import connection
from kombu.exceptions import ChannelError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from core.heartbeats import SEEN_WITHIN, heartbeats_recent
from core.models import ProcessHeartbeat


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    milliseconds: int = 0


def _timed(name: str, check, fix: str) -> CheckResult:
    started = perf_counter()
    try:
        ok, detail = check()
    except Exception as exc:
        ok, detail = False, f"unreachable ({type(exc).__name__})"
    elapsed = round((perf_counter() - started) * 1000)
    return CheckResult(name, ok, detail, "" if ok else fix, elapsed)


def _database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return True, connection.vendor


def _cache() -> tuple[bool, str]:
    key, value = f"readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    read = cache.get(key)
    cache.delete(key)
    return (True, "read and write") if read == value else (False, "a value written could not be read back")


def _broker() -> tuple[bool, str]:
    with current_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=2)
        broker.default_channel  # noqa: B018 - opening the channel talks to the broker
    return True, "connected"


def _seen(kind: str) -> tuple[bool, str]:
    seen = len(heartbeats_recent(kind=kind))
    window = int(SEEN_WITHIN.total_seconds())
    if not seen:
        return False, f"no {kind} seen in the last {window} s"
    return True, f"{seen} seen in the last {window} s"


def check_database() -> CheckResult:
    return _timed("database", _database, "Check DATABASE_URL and that the database accepts connections.")


def check_cache() -> CheckResult:
    return _timed("cache", _cache, "Check REDIS_URL and that Redis is running.")


def check_broker() -> CheckResult:
    return _timed("broker", _broker, "Check REDIS_URL (the Celery broker) and that Redis is running.")


def check_workers() -> CheckResult:
    return _timed(
        "workers",
        lambda: _seen(ProcessHeartbeat.Kind.WORKER),
        "Start a worker: celery -A config worker (see the README's Operating it).",
    )


def check_beat() -> CheckResult:
    return _timed(
        "beat",
        lambda: _seen(ProcessHeartbeat.Kind.BEAT),
        "Start exactly one scheduler: celery -A config beat.",
    )


def readiness() -> list[CheckResult]:
    """What a load balancer needs before sending traffic: database, cache, broker, a live worker."""
    return [check_database(), check_cache(), check_broker(), check_workers()]


def broker_queue_depths() -> dict[str, int]:
    """Messages waiting in each queue the app's tasks go to."""
    depths = {}
    with current_app.connection_for_read() as broker:
        broker.ensure_connection(max_retries=1, timeout=2)
        channel = broker.default_channel
        for name in current_app.amqp.queues:
            try:
                depths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except ChannelError:  # nothing ever sent to it yet
                depths[name] = 0
    return depths


def broker_metrics() -> Iterator[Metric]:
    """``/metrics`` at scrape time: ``broker_up`` and ``queue_depth{queue}``."""
    up = GaugeMetricFamily("connections_broker_up", "1 when the broker answered this scrape, else 0.")
    depth = GaugeMetricFamily("connections_queue_depth", "Messages waiting in the broker.", labels=["queue"])
    try:
        for queue, count in broker_queue_depths().items():
            depth.add_metric([queue], count)
        up.add_metric([], 1)
    except Exception:
        up.add_metric([], 0)
    yield up
    yield depth
