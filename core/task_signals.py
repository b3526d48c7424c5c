"""Celery signal receivers (connected when the ``core`` app is ready, in web and worker processes):

- the request id travels from the code that queues a task to the worker that runs it (a message
  header), and is bound there with the task's name and id for its log lines;
- workers count their tasks into ``core.metrics`` and, with WORKER_METRICS_PORT, serve them;
- workers and beat record heartbeats (``core.heartbeats``);
- Celery keeps Django's LOGGING (``LOG_FORMAT``) instead of installing its own handlers.
"""

from __future__ import annotations

import logging
import os
import socket
from time import perf_counter

from celery import signals
from django.conf import settings

from core import metrics, request_context
from core.heartbeats import HeartbeatThread
from core.models import ProcessHeartbeat

logger = logging.getLogger(__name__)

HEADER = "request_id"
_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}
_running: dict[str, tuple[object, float]] = {}  # task id → (context token, start)
_heartbeats: list[HeartbeatThread] = []


@signals.before_task_publish.connect
def _carry_request_id(headers: dict | None = None, **kwargs) -> None:
    rid = request_context.request_id()
    if rid and headers is not None:
        headers.setdefault(HEADER, rid)


@signals.task_prerun.connect
def _bind_task_context(task_id: str, task, **kwargs) -> None:
    rid = getattr(task.request, HEADER, None)
    token = request_context.begin(request_id=rid, task_name=task.name, task_id=task_id)
    _running[task_id] = (token, perf_counter())


@signals.task_postrun.connect
def _count_task(task_id: str, task, state: str | None = None, **kwargs) -> None:
    token, started = _running.pop(task_id, (None, None))
    if started is not None:
        metrics.CELERY_TASK_DURATION.labels(task.name).observe(perf_counter() - started)
    metrics.CELERY_TASKS.labels(task.name, _STATES.get(state or "", "other")).inc()
    if token is not None:
        request_context.end(token)


@signals.setup_logging.connect
def _keep_django_logging(**kwargs) -> None:
    """Connected, so Celery leaves the root logger to settings.LOGGING (LOG_FORMAT, masking)."""


def _start_heartbeat(kind: str, name: str) -> None:
    thread = HeartbeatThread(kind=kind, name=name)
    thread.start()
    _heartbeats.append(thread)


@signals.worker_ready.connect
def _worker_started(sender=None, **kwargs) -> None:
    _start_heartbeat(ProcessHeartbeat.Kind.WORKER, getattr(sender, "hostname", None) or socket.gethostname())
    if settings.WORKER_METRICS_PORT:
        from prometheus_client import start_http_server

        start_http_server(settings.WORKER_METRICS_PORT, registry=metrics.process_registry())
        logger.info("worker metrics served on port %s", settings.WORKER_METRICS_PORT)


@signals.beat_init.connect
def _beat_started(sender=None, **kwargs) -> None:
    _start_heartbeat(ProcessHeartbeat.Kind.BEAT, f"beat@{socket.gethostname()}.{os.getpid()}")


@signals.worker_shutdown.connect
def _worker_stopping(**kwargs) -> None:
    while _heartbeats:
        _heartbeats.pop().stop()
