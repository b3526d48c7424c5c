"""Worker and beat heartbeats: each process records itself every few seconds from a daemon thread,
so ``/readyz`` and ``doctor`` can tell "a worker was seen in the last minute" on any setup (the
database is the one store every process shares, whatever the cache and broker)."""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from core.models import ProcessHeartbeat

logger = logging.getLogger(__name__)

SEEN_WITHIN = timedelta(seconds=60)


def heartbeat_record(*, kind: str, name: str, started_at) -> None:
    ProcessHeartbeat.objects.update_or_create(
        kind=kind, name=name, defaults={"last_seen": timezone.now(), "started_at": started_at}
    )


def heartbeat_remove(*, kind: str, name: str) -> None:
    ProcessHeartbeat.objects.filter(kind=kind, name=name).delete()


def heartbeats_recent(*, kind: str, within: timedelta = SEEN_WITHIN) -> list[ProcessHeartbeat]:
    return list(ProcessHeartbeat.objects.filter(kind=kind, last_seen__gte=timezone.now() - within)[:100])


class HeartbeatThread(threading.Thread):
    """Records ``kind``/``name`` now and every WORKER_HEARTBEAT_SECONDS until ``stop()``."""

    def __init__(self, *, kind: str, name: str) -> None:
        super().__init__(name=f"{kind}-heartbeat", daemon=True)
        self.kind, self.node = kind, name
        self.started_at = timezone.now()
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                heartbeat_record(kind=self.kind, name=self.node, started_at=self.started_at)
            except DatabaseError as exc:
                logger.warning(
                    "%s heartbeat not recorded: database unavailable (%s)", self.kind, type(exc).__name__
                )
            finally:
                close_old_connections()
            self._stopped.wait(settings.WORKER_HEARTBEAT_SECONDS)
        connection.close()

    def stop(self) -> None:
        """Stop beating and remove the row: a cleanly stopped process is not "seen" any more."""
        self._stopped.set()
        self.join(timeout=5)
        # If the database is away, the row ages out of the last minute instead.
        with contextlib.suppress(DatabaseError):
            heartbeat_remove(kind=self.kind, name=self.node)
