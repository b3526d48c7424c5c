"""Queueing tasks safely, and the worker's own heartbeat task.

Tasks take ids, never credentials: their arguments sit in the broker in plain text.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from core.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

PING_KEY = "celery-ping:{token}"


def publish(task: Task, *args, **options) -> None:
    """Send ``task`` to the broker now; ``ServiceUnavailable`` (503) within seconds if it is down.

    ``options`` go to ``apply_async`` (e.g. ``countdown`` to spread a batch over time)."""
    try:
        task.apply_async(args=args, **options)
    except (OperationalError, OSError) as exc:
        # The exception text may carry the broker URL (and its password): log the type only.
        logger.error("Could not queue %s: broker unreachable (%s)", task.name, type(exc).__name__)
        raise ServiceUnavailable(
            "The task queue is unavailable. Please try again shortly.", error="Task queue unavailable"
        ) from None


def enqueue_on_commit(task: Task, *args) -> None:
    """Queue ``task`` once the current transaction commits (at once outside a transaction).

    A worker must never pick up an id whose row is not committed yet. If the broker is down the
    ``ServiceUnavailable`` surfaces when the ``atomic`` block exits, after the commit: the caller's
    rows are saved (nothing is lost) and the request still answers 503.
    """
    transaction.on_commit(lambda: publish(task, *args))


@shared_task(name="core.ping")
def ping(token: str) -> None:
    """Record that a worker ran: proves the broker → worker path (tests, health checks)."""
    cache.set(PING_KEY.format(token=token), timezone.now().isoformat(), timeout=300)
    logger.info("Worker ping %s", token)
