"""Queueing tasks safely, periodic work that runs once per period, and the worker's ping task.

Tasks take ids, never credentials: their arguments sit in the broker in plain text.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable

from celery import Signature, Task, shared_task
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


def publish_many(
    task: Task | Signature, args_list: Iterable[tuple], *, countdown_step: float = 0, **options
) -> int:
    """Send one ``task`` message per tuple of arguments over one producer (one broker
    connection, taken once), not one connection checkout per message: a beat tick's thousands of
    messages go out in well under a second. With ``countdown_step`` message *i* waits
    ``i × countdown_step`` seconds (a batch spread over time). ``ServiceUnavailable`` as
    ``publish``; the messages sent before the broker failed stay sent (each task must be safe to
    receive twice anyway). ``task`` may be a signature of a task named only (one this process
    has not imported)."""
    sent = 0
    try:
        # Kombu's publish batch: on Redis one pipeline round trip per 1,000 messages (other
        # transports publish each at once); leaving the block flushes what is still buffered.
        with task.app.producer_or_acquire() as producer, producer.batch():
            for args in args_list:
                countdown = round(sent * countdown_step, 1) or None
                task.apply_async(args=args, producer=producer, countdown=countdown, **options)
                sent += 1
    except (OperationalError, OSError) as exc:
        name = task.task if isinstance(task, Signature) else task.name
        logger.error("Could not queue %s after %d: broker unreachable (%s)", name, sent, type(exc).__name__)
        raise ServiceUnavailable(
            "The task queue is unavailable. Please try again shortly.", error="Task queue unavailable"
        ) from None
    return sent


def enqueue_on_commit(task: Task, *args) -> None:
    """Queue ``task`` once the current transaction commits (at once outside a transaction).

    A worker must never pick up an id whose row is not committed yet. If the broker is down the
    ``ServiceUnavailable`` surfaces when the ``atomic`` block exits, after the commit: the caller's
    rows are saved (nothing is lost) and the request still answers 503.
    """
    transaction.on_commit(lambda: publish(task, *args))


def once_per_period(every_seconds: Callable[[], float]):
    """Run the decorated periodic task at most once per period of ``every_seconds()`` seconds,
    whatever the number of schedulers: the first worker to claim the period (an atomic ``add`` in
    the shared cache) runs it, the others skip it. So a second ``celery beat``, or ``worker -B`` on
    every machine by mistake, never doubles the periodic work. With the cache down it runs
    (re-tests and the sweeper are safe to repeat; missing them is worse)."""

    def decorate(work: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(work)
        def run_once() -> None:
            every = every_seconds()
            period = int(time.time() // every)
            name = f"{work.__module__}.{work.__name__}"
            try:
                claimed = cache.add(f"periodic:{name}:{period}", 1, timeout=int(every * 2) + 1)
            except Exception as exc:
                logger.warning(
                    "periodic %s: cache unavailable (%s); running anyway", name, type(exc).__name__
                )
                claimed = True
            if not claimed:
                logger.info("periodic %s: period %d already run by another scheduler; skipped", name, period)
                return
            logger.info("periodic %s: running for period %d", name, period)
            work()

        return run_once

    return decorate


@shared_task(name="core.ping")
def ping(token: str) -> None:
    """Record that a worker ran: proves the broker → worker path (tests, health checks)."""
    cache.set(PING_KEY.format(token=token), timezone.now().isoformat(), timeout=300)
    logger.info("Worker ping %s", token)
