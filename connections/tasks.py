"""Celery tasks for connection tests. Each takes ids only (task arguments sit in the broker in
plain text, so never a credential) and calls one service of ``connections.test_run_services`` or
``connections.test_run_schedule``.

``acks_late`` with ``reject_on_worker_lost`` (also the project defaults): a message is
acknowledged only once its task finished, so a worker that dies mid-test does not lose it. Time
limits are the project's CELERY_TASK_*_TIME_LIMIT (enforced by prefork pools; in the thread pool
the outbound client's deadline bounds a test, and the sweeper closes runs whose worker died).
"""

from celery import shared_task
from django.conf import settings

from connections import test_run_schedule, test_run_services, webhooks
from connections.oauth import tokens
from core.tasks import once_per_period, publish_many

# Tokens queued for refresh per beat tick; the rest wait for the next tick (soonest first).
REFRESH_BATCH = 5000
# Connections per refresh task: one message, one load and one OAuth app lookup for all of them,
# so the per-task costs (broker, Celery, database session) are paid once per chunk; refreshed one
# after the other, so a chunk takes about REFRESH_CHUNK token round trips.
REFRESH_CHUNK = 10
# A chunk starts no refresh after this many seconds (under CELERY_TASK_SOFT_TIME_LIMIT, even
# against a provider at the outbound deadline); the rest is queued again by the next tick.
REFRESH_TASK_BUDGET = 60


@shared_task(
    name=test_run_services.EXECUTE_TEST_RUN_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    # Retried only on our own transient faults, a bounded number of times, with exponential
    # backoff and full jitter (so retries of a batch do not arrive together). A provider's
    # error is the test's result, never a reason to retry.
    autoretry_for=test_run_services.TRANSIENT_ERRORS,
    max_retries=3,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
)
def execute_test_run(*run_ids: str) -> None:
    # One run id per message, or a chunk of them (test_run_send): the same task, so a message
    # queued before chunks existed still runs.
    test_run_services.test_run_execute_queued_many(run_ids=list(run_ids))


@shared_task(name="connections.retest_due")
@once_per_period(lambda: settings.CONNECTION_RETEST_EVERY_MINUTES * 60)
def retest_due() -> None:
    test_run_schedule.test_run_enqueue_due()


@shared_task(name="connections.sweep_test_runs")
@once_per_period(lambda: settings.CONNECTION_SWEEP_EVERY_SECONDS)
def sweep_test_runs() -> None:
    test_run_schedule.test_run_sweep()


@shared_task(name="connections.oauth_refresh_due")
@once_per_period(lambda: settings.OAUTH_REFRESH_EVERY_SECONDS)
def oauth_refresh_due() -> None:
    """Beat: queue a refresh of every sign-in token expiring within the refresh window, in
    chunks of REFRESH_CHUNK connections per task, all over one broker connection. Exactly once
    still holds per token: a task refreshes only while the token is due, under the
    per-connection claim (connections/oauth/tokens.py)."""
    due = tokens.oauth_connections_due(within=tokens.oauth_refresh_window(), limit=REFRESH_BATCH)
    chunks = (due[start : start + REFRESH_CHUNK] for start in range(0, len(due), REFRESH_CHUNK))
    publish_many(oauth_refresh_connections, ((chunk,) for chunk in chunks))


@shared_task(
    name="connections.oauth_refresh_connections",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=test_run_services.TRANSIENT_ERRORS,
    max_retries=3,
    retry_backoff=2,
    retry_jitter=True,
)
def oauth_refresh_connections(connection_pks: list[int]) -> None:
    # Skips what is no longer due: a duplicate message, a retry, or a request got there first.
    tokens.oauth_refresh_many_if_due(
        connection_pks=connection_pks,
        within=tokens.oauth_refresh_window(),
        budget_seconds=REFRESH_TASK_BUDGET,
    )


@shared_task(
    name=webhooks.DELIVER_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    # Only our own transient faults; a receiver's failure is retried on WEBHOOK_RETRY_SCHEDULE.
    autoretry_for=test_run_services.TRANSIENT_ERRORS,
    max_retries=3,
    retry_backoff=2,
    retry_jitter=True,
)
def deliver_webhook(delivery_id: int) -> None:
    webhooks.webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="connections.sweep_webhook_deliveries")
def sweep_webhook_deliveries() -> None:
    webhooks.webhook_deliveries_sweep()
