"""The periodic jobs of connection tests (the beat runs them): re-test connections not tested for
a while, and sweep up runs that would otherwise stay queued or running forever."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone

from connections.models import CheckRun, Connection
from connections.test_run_services import test_run_enqueue_many, test_run_send
from core.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

Status = CheckRun.Status

SCHEDULE_ACTOR = "schedule"
# A run still "running" this long after the task's hard time limit lost its worker.
ABANDONED_GRACE = timedelta(seconds=60)
# Runs the sweeper sends again per pass; the rest wait for the next pass.
REQUEUE_BATCH = 1000


@dataclass(frozen=True)
class SweepResult:
    requeued: int
    expired: int
    abandoned: int


def test_run_sweep(*, now: datetime | None = None) -> SweepResult:
    """Keep no run waiting forever (the beat runs this every minute):

    - "running" past the task's hard time limit: its worker died; the run fails with a message
      saying so (the connection's own status is left alone: this is our fault, not its).
    - "queued" for CONNECTION_TEST_EXPIRE_MINUTES: no worker took it; the run fails.
    - "queued" for CONNECTION_TEST_REQUEUE_MINUTES since last sent: its message was lost or never
      sent (broker down); sent again. Duplicates are harmless: only one worker can take a run up.
    """
    now = now or timezone.now()
    limit = settings.CELERY_TASK_TIME_LIMIT
    lost_worker = (
        f"The test did not finish: its worker stopped or passed the {limit} s time limit. Run it again."
    )
    abandoned = CheckRun.objects.filter(
        status=Status.RUNNING, started_at__lt=now - timedelta(seconds=limit) - ABANDONED_GRACE
    ).update(status=Status.ERROR, finished_at=now, message=lost_worker, error_message=lost_worker)

    expire = settings.CONNECTION_TEST_EXPIRE_MINUTES
    not_run = f"The test was not run: no worker took it up within {expire} minutes."
    expired = CheckRun.objects.filter(
        status=Status.QUEUED, queued_at__lt=now - timedelta(minutes=expire)
    ).update(status=Status.ERROR, finished_at=now, message=not_run, error_message=not_run)

    stale = list(
        CheckRun.objects.filter(status=Status.QUEUED)
        .alias(last_sent=Coalesce("requeued_at", "queued_at"))
        .filter(last_sent__lt=now - timedelta(minutes=settings.CONNECTION_TEST_REQUEUE_MINUTES))
        .order_by("queued_at")
        .values_list("run_id", flat=True)[:REQUEUE_BATCH]
    )
    sent: list[str] = []
    try:
        sent = test_run_send(run_ids=stale)
    except ServiceUnavailable:
        logger.warning("sweeper: the task queue is unavailable; %d queued test run(s) wait", len(stale))
    CheckRun.objects.filter(run_id__in=sent, status=Status.QUEUED).update(requeued_at=now)
    if abandoned or expired or sent:
        logger.info("sweeper: %d abandoned, %d expired, %d sent again", abandoned, expired, len(sent))
    return SweepResult(requeued=len(sent), expired=expired, abandoned=abandoned)


def test_run_enqueue_due(*, now: datetime | None = None) -> list[CheckRun]:
    """Queue tests of the active connections not tested for CONNECTION_RETEST_HOURS (the beat
    runs this): the longest-untested first, at most CONNECTION_RETEST_BATCH_SIZE, their starts
    spread over CONNECTION_RETEST_SPREAD_SECONDS. A connection with a test pending is left out."""
    now = now or timezone.now()
    pending = CheckRun.objects.filter(connection=OuterRef("pk"), status__in=[Status.QUEUED, Status.RUNNING])
    due = (
        Connection.objects.filter(status=Connection.Status.ACTIVE)
        .alias(last_checked=Coalesce("last_test_date", "created_at"))
        .filter(last_checked__lt=now - timedelta(hours=settings.CONNECTION_RETEST_HOURS))
        .filter(~Exists(pending))
        .order_by("last_checked", "pk")[: settings.CONNECTION_RETEST_BATCH_SIZE]
    )
    return test_run_enqueue_many(
        connections=list(due),
        actor=SCHEDULE_ACTOR,
        trigger=CheckRun.Trigger.SCHEDULE,
        spread_seconds=settings.CONNECTION_RETEST_SPREAD_SECONDS,
    )
