"""Every Prometheus metric the app exports, in one place, and the ``/metrics`` exposition.

Count into these objects from anywhere (``metrics.PROXY_REQUESTS.labels(...).inc()``); never create
metrics elsewhere, so the list below stays the whole list (the README's "Operating it" repeats it).

Labels are bounded: an integration id from the catalog, an outcome from a short fixed list, a
route *pattern*. Never a user id, connection id, run id, URL with values, or anything secret.

Processes: with ``PROMETHEUS_MULTIPROC_DIR`` set before start (gunicorn workers, Celery workers and
beat on one machine sharing one empty folder), each process writes its samples to that folder and
``/metrics`` (or a worker's own exporter, ``WORKER_METRICS_PORT``) adds them up. Without it each
process reports its own.

Metrics (all prefixed ``connections_``):

- ``http_requests_total{method, route, status}`` and ``http_request_duration_seconds{method, route}``
- ``connection_tests_total{integration, outcome, trigger}`` (outcome ``success``/``error``) and
  ``connection_test_duration_seconds{integration}`` (the provider call)
- ``oauth_refreshes_total{integration, outcome}`` (outcome ``success``/``failure``/``reconnect_required``)
- ``proxy_requests_total{integration, method, status_class}`` (``2xx`` … ``5xx``, ``error`` when no
  answer) and ``proxy_request_duration_seconds{integration}``
- ``webhook_deliveries_total{event, outcome}`` (outcome ``delivered``/``retrying``/``failed``)
- ``key_rotation_rows_total{outcome}`` (``rotated``/``failed``); ``credentials_on_old_keys`` and
  ``credentials_total`` at scrape time (rotation progress)
- ``celery_tasks_total{task, state}`` (``succeeded``/``failed``/``retried``) and
  ``celery_task_duration_seconds{task}``, counted by the workers
- at scrape time: ``queue_depth{queue}`` (messages waiting in the broker), ``test_runs_pending{status}``
  (queued/running test runs), ``broker_up``
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 90.0)

HTTP_REQUESTS = Counter(
    "connections_http_requests_total",
    "Web requests answered, by URL pattern (never ids) and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "connections_http_request_duration_seconds",
    "Time to answer a web request, by URL pattern.",
    ["method", "route"],
    buckets=FAST_BUCKETS,
)
CONNECTION_TESTS = Counter(
    "connections_connection_tests_total",
    "Connection tests finished, by integration, outcome (success/error) and trigger.",
    ["integration", "outcome", "trigger"],
)
CONNECTION_TEST_DURATION = Histogram(
    "connections_connection_test_duration_seconds",
    "Time the provider call of a connection test took, by integration.",
    ["integration"],
    buckets=SLOW_BUCKETS,
)
OAUTH_REFRESHES = Counter(
    "connections_oauth_refreshes_total",
    "OAuth token refreshes, by integration and outcome (success/failure/reconnect_required).",
    ["integration", "outcome"],
)
PROXY_REQUESTS = Counter(
    "connections_proxy_requests_total",
    "Requests proxied to providers, by integration, method and status class (2xx…5xx, error).",
    ["integration", "method", "status_class"],
)
PROXY_REQUEST_DURATION = Histogram(
    "connections_proxy_request_duration_seconds",
    "Time a proxied request took end to end (retries included), by integration.",
    ["integration"],
    buckets=SLOW_BUCKETS,
)
WEBHOOK_DELIVERIES = Counter(
    "connections_webhook_deliveries_total",
    "Webhook delivery attempts, by event and outcome (delivered/retrying/failed).",
    ["event", "outcome"],
)
KEY_ROTATION_ROWS = Counter(
    "connections_key_rotation_rows_total",
    "Stored credentials re-encrypted with the newest key (rotated) or left unreadable (failed).",
    ["outcome"],
)
CELERY_TASKS = Counter(
    "connections_celery_tasks_total",
    "Celery tasks run by the workers, by task name and state (succeeded/failed/retried).",
    ["task", "state"],
)
CELERY_TASK_DURATION = Histogram(
    "connections_celery_task_duration_seconds",
    "Time a Celery task ran on a worker, by task name.",
    ["task"],
    buckets=SLOW_BUCKETS,
)


def status_class(status: int | None) -> str:
    """``2xx`` … ``5xx`` for a status code, ``error`` when there was no answer."""
    return f"{status // 100}xx" if status and 100 <= status < 600 else "error"


# --- Values computed when Prometheus scrapes (queue depth, rotation progress). Higher apps register
# a function returning metric families; core cannot import them. Each must be cheap and bounded.

_scrape_collectors: dict[str, Callable[[], Iterable[Metric]]] = {}


def register_scrape_collector(name: str, collect: Callable[[], Iterable[Metric]]) -> None:
    _scrape_collectors[name] = collect


class _ScrapeTimeCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        for name, collect in list(_scrape_collectors.items()):
            try:
                yield from collect()
            except Exception as exc:
                # A failing source must not cost the whole scrape; its metrics are simply missing.
                logger.warning("metrics: %s could not be collected (%s)", name, type(exc).__name__)


def process_registry() -> CollectorRegistry:
    """What this process exports: every local process's samples in multiprocess mode, its own otherwise.

    A worker's own exporter serves this; ``/metrics`` adds the scrape-time values to it."""
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class _RegistryCollector(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def render(*, accept: str | None) -> tuple[bytes, str]:
    """The body and content type of ``/metrics``: Prometheus text, or OpenMetrics if ``Accept`` asks."""
    registry = CollectorRegistry()
    registry.register(_RegistryCollector(process_registry()))
    registry.register(_ScrapeTimeCollector())
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
