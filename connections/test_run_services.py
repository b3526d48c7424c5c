"""Connection tests as ``CheckRun`` records: run now (inline, or many in threads), or queued for
the workers and run there.

A test is three steps, so that the slow middle one never holds a transaction or a lock:
take the run up (``running``), call the provider (``perform_test_request``: network only, no
database), then record the outcome on the run and on the connection. The periodic jobs (re-tests,
the sweeper) are in ``connections.test_run_schedule``; reads in ``connections.selectors``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from typing import Any

from celery import signature
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from accounts.access import actor_label
from connections.encryption import CredentialsUnreadable
from connections.models import AuditEvent, CheckRun, Connection
from connections.oauth.tokens import (
    ReconnectRequired,
    TokenRefreshFailed,
    connection_credentials_for_use,
)
from connections.selectors import connection_base_url
from connections.services import audit_record_many, identity_values
from connections.webhooks import webhook_events_for_test_failure
from core import metrics
from core.errors import ApplicationError, ServiceUnavailable, ValidationFailed
from core.tasks import publish_many
from integrations.catalog import catalog_integration, catalog_revision
from integrations.connectivity import CheckOutcome, perform_test_request

logger = logging.getLogger(__name__)

Status = CheckRun.Status
Trigger = CheckRun.Trigger

# Faults of our own that may pass (a database restarting, SQLite busy): a task retries on these.
# A provider's error is never one of them: it is the test's result.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
# The name connections.tasks registers the worker's side under.
EXECUTE_TEST_RUN_TASK = "connections.execute_test_run"


def _label(actor: Any) -> str:
    return actor if isinstance(actor, str) else actor_label(actor)


def _require_active(connection: Connection) -> None:
    if connection.status != Connection.Status.ACTIVE:
        raise ApplicationError(
            "Connection is inactive and cannot be tested",
            error="Reactivate it (PUT status active) before testing it",
        )


# --- The three steps of a test


def _outcome_without_call(message: str) -> CheckOutcome:
    return CheckOutcome(
        status="error",
        status_code=None,
        response_time_ms=None,
        endpoint="",
        message=message,
        timestamp=timezone.now(),
    )


def _call_provider(connection: Connection) -> CheckOutcome:
    """Run the integration's test request with the connection's credentials. Touches no database
    (the integration must be loaded already) unless a sign-in token needs refreshing first, so
    bulk tests can run it in threads."""
    try:
        credentials = connection_credentials_for_use(connection=connection)
        base_url = connection_base_url(connection=connection)
    except CredentialsUnreadable:
        return _outcome_without_call("The stored credentials could not be read: enter them again")
    except (ReconnectRequired, TokenRefreshFailed) as exc:
        return _outcome_without_call(f"{exc.message}: {exc.error}" if exc.error else exc.message)
    except ValidationFailed as exc:
        return _outcome_without_call("; ".join(exc.errors or [exc.message]))
    try:
        return perform_test_request(
            integration_document=connection.integration.document,
            auth_method_id=connection.auth_method_id,
            base_url=base_url,
            credentials=credentials,
            configured_variables=connection.configured_variables,
        )
    except SoftTimeLimitExceeded:
        # Only pools that enforce time limits (prefork) get here; in threads the outbound
        # client's deadline bounds the call.
        return _outcome_without_call(
            f"The test did not finish within {settings.CELERY_TASK_SOFT_TIME_LIMIT} s"
        )
    except Exception as exc:
        # A bug of ours must end this run with a verdict, not leave it "running" or stop the
        # other tests of a batch. The text may quote a credential: only the type is kept.
        where = "".join(traceback.format_tb(exc.__traceback__))  # code lines, no values
        logger.error("test of %s: unexpected %s at\n%s", connection.connection_id, type(exc).__name__, where)
        return _outcome_without_call(
            f"The test could not be completed (internal error: {type(exc).__name__})"
        )


def _record(*, run: CheckRun, outcome: CheckOutcome, on_connection: bool = True) -> CheckRun:
    """Finish ``run`` with ``outcome`` and, unless told otherwise, put it on the connection.

    Only a run still "running" is finished: one the sweeper gave up on keeps its verdict.
    """
    values = {
        "status": outcome.status,
        "status_code": outcome.status_code,
        "response_time_ms": outcome.response_time_ms,
        "message": outcome.message,
        "error_message": outcome.error_message,
        "endpoint": outcome.endpoint or None,
        "finished_at": timezone.now(),
    }
    with transaction.atomic():
        recorded = _finish_run(run_pk=run.pk, values=values)
        if recorded and on_connection:
            _record_on_connection(connection_pk=run.connection_id, outcome=outcome, tested_at=run.started_at)
            if not outcome.succeeded:
                webhook_events_for_test_failure(
                    connection_pk=run.connection_id, reason=outcome.message, run_id=run.run_id
                )
    if not recorded:
        logger.warning("test run %s: finished after it was given up on; result dropped", run.run_id)
        run.refresh_from_db()
        return run
    for name, value in values.items():
        setattr(run, name, value)
    _count(run=run, outcome=outcome)
    logger.info(
        "test run %s of %s: %s %s in %s ms",
        run.run_id,
        run.connection.connection_id,
        outcome.status,
        outcome.status_code,
        outcome.response_time_ms,
    )
    return run


def _count(*, run: CheckRun, outcome: CheckOutcome) -> None:
    integration = run.connection.integration_id
    metrics.CONNECTION_TESTS.labels(integration, outcome.status, run.trigger).inc()
    if outcome.response_time_ms is not None:
        metrics.CONNECTION_TEST_DURATION.labels(integration).observe(outcome.response_time_ms / 1000)


def _record_on_connection(*, connection_pk: int, outcome: CheckOutcome, tested_at: datetime) -> None:
    # A run that started before the one already recorded (concurrent tests) does not overwrite it,
    # and a run that finishes after a permanent delete leaves the erased connection alone.
    # Test results are not the user's data: the version (the ETag) stays, so a test between a
    # read and a conditional update does not make the update fail.
    values = {
        "last_test_status": outcome.status,
        "last_test_message": outcome.message,
        "last_test_date": tested_at,
        **identity_values(outcome.identity),
    }
    connection = Connection._meta
    failures = _column(connection, "consecutive_failures")
    tested = _column(connection, "last_test_date")
    sql, params = _assignments(connection, values)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(connection)} SET {sql}, {failures} = CASE WHEN %s THEN 0 ELSE {failures} + 1 END"
            f" WHERE {_column(connection, 'id')} = %s AND {_column(connection, 'deleted_at')} IS NULL"
            f" AND ({tested} IS NULL OR {tested} <= %s)",
            [*params, outcome.succeeded, connection_pk, _adapt(tested_at)],
        )


# --- The worker's statements, written as SQL: built with the ORM, the four statements of a
# queued test cost more CPU than everything else it does (about 3 ms of 7: each queryset is
# compiled anew on every call). Column names come from the models; values are adapted as the
# ORM adapts them (datetimes in the form each database compares correctly).


def _table(meta) -> str:
    return db_connection.ops.quote_name(meta.db_table)


def _column(meta, name: str) -> str:
    return db_connection.ops.quote_name(meta.get_field(name).column)


def _adapt(value: Any) -> Any:
    return db_connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value


def _assignments(meta, values: dict[str, Any]) -> tuple[str, list[Any]]:
    sql = ", ".join(f"{_column(meta, name)} = %s" for name in values)
    return sql, [_adapt(value) for value in values.values()]


def _finish_run(*, run_pk: int, values: dict[str, Any]) -> int:
    """Write the outcome on a run still "running"; 1 if it was, else 0."""
    run = CheckRun._meta
    sql, params = _assignments(run, values)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(run)} SET {sql} WHERE {_column(run, 'id')} = %s AND {_column(run, 'status')} = %s",
            [*params, run_pk, Status.RUNNING],
        )
        return cursor.rowcount


def _claim(run_id: str) -> CheckRun | None:
    """Take a queued run up and read it, in one statement (UPDATE … RETURNING); None when it is
    no longer queued (finished, or taken by another worker)."""
    run = CheckRun._meta
    attempts, status = _column(run, "attempts"), _column(run, "status")
    values = {"status": Status.RUNNING, "started_at": timezone.now()}
    sql, params = _assignments(run, values)
    claimed = CheckRun.objects.raw(
        f"UPDATE {_table(run)} SET {sql}, {attempts} = {attempts} + 1"
        f" WHERE {_column(run, 'run_id')} = %s AND {status} = %s RETURNING *",
        [*params, run_id, Status.QUEUED],
    )
    return next(iter(claimed), None)


def _connection_to_test(connection_pk: int) -> Connection:
    """The connection, with its integration from the in-memory catalog (no document decoded per
    test): one query, which also reads the catalog's revision."""
    meta, revision = Connection._meta, catalog_revision()
    (connection,) = Connection.objects.raw(
        f"SELECT *, {revision.sql} AS revision FROM {_table(meta)} WHERE {_column(meta, 'id')} = %s",
        [*revision.params, connection_pk],
    )
    integration = catalog_integration(integration_id=connection.integration_id, revision=connection.revision)
    if integration is not None:
        connection.integration = integration
    return connection


def _new_runs(*, connections: list[Connection], actor: Any, trigger: str, running: bool) -> list[CheckRun]:
    """Create a run per connection (and its audit record), in the caller's transaction."""
    label = _label(actor)
    now = timezone.now()
    state = {"status": Status.RUNNING, "started_at": now, "attempts": 1} if running else {}
    runs = CheckRun.objects.bulk_create(
        [
            CheckRun(connection=c, requested_by=label, trigger=trigger, queued_at=now, **state)
            for c in connections
        ]
    )
    for connection, run in zip(connections, runs, strict=True):
        run.connection = connection
    audit_record_many(connections=connections, action=AuditEvent.Action.TEST, actor=label)
    return runs


# --- Inline tests


def test_run_create(*, connection: Connection, actor: Any, trigger: str = Trigger.API) -> CheckRun:
    """Test ``connection`` now, in this process, and return the finished run.

    Bounded by the guarded client: OUTBOUND_DEADLINE per request (twice that when an OAuth token
    is fetched first). ApplicationError (400) for an inactive connection.
    """
    _require_active(connection)
    with transaction.atomic():
        (run,) = _new_runs(connections=[connection], actor=actor, trigger=trigger, running=True)
    return _record(run=run, outcome=_call_provider(connection))


def test_run_create_many(
    *,
    connections: Iterable[Connection],
    actor: Any,
    trigger: str,
    concurrency: int,
    on_finished: Callable[[CheckRun], None] = lambda run: None,
) -> list[CheckRun]:
    """Test many active connections now, ``concurrency`` provider calls at a time.

    The calls run in threads; every database write stays in this thread. Load the connections
    with their integration (``select_related``). Returns the finished runs in the given order.
    """
    active = [c for c in connections if c.status == Connection.Status.ACTIVE]
    with transaction.atomic():
        runs = _new_runs(connections=active, actor=actor, trigger=trigger, running=True)
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="connection-test") as pool:
        calls = {pool.submit(_call_provider, run.connection): index for index, run in enumerate(runs)}
        for call in as_completed(calls):
            index = calls[call]
            runs[index] = _record(run=runs[index], outcome=call.result())
            on_finished(runs[index])
    return runs


# --- Queued tests (run by connections.tasks on the workers)


def test_run_enqueue_many(
    *, connections: Iterable[Connection], actor: Any, trigger: str, spread_seconds: float = 0
) -> list[CheckRun]:
    """Record a queued run per active connection and send each to the workers once committed.

    With ``spread_seconds`` the runs start spread evenly over that time, so a batch does not hit
    the providers and the workers all at once. With the broker down: ServiceUnavailable (503)
    after the commit; the runs stay queued and the sweeper sends them when it is back.
    """
    active = [c for c in connections if c.status == Connection.Status.ACTIVE]
    with transaction.atomic():
        runs = _new_runs(connections=active, actor=actor, trigger=trigger, running=False)
        run_ids = [run.run_id for run in runs]
        transaction.on_commit(lambda: test_run_send(run_ids=run_ids, spread_seconds=spread_seconds))
    return runs


def test_run_enqueue(*, connection: Connection, actor: Any, trigger: str = Trigger.API) -> CheckRun:
    """Queue one test; ApplicationError (400) for an inactive connection."""
    _require_active(connection)
    (run,) = test_run_enqueue_many(connections=[connection], actor=actor, trigger=trigger)
    return run


def test_run_send(*, run_ids: list[str], spread_seconds: float = 0) -> list[str]:
    """Publish a task per run (only its id), all in one broker batch. Returns the ids sent;
    ServiceUnavailable if the broker is down, the runs staying queued (the sweeper sends again
    those still queued; a run taken up twice is skipped by its claim).

    The task is named, not imported: ``connections.tasks`` calls this module, never the reverse.
    """
    step = spread_seconds / len(run_ids) if spread_seconds and run_ids else 0
    try:
        execute = signature(EXECUTE_TEST_RUN_TASK)
        publish_many(execute, ((run_id,) for run_id in run_ids), countdown_step=step)
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(
            exc.message,
            error=f"{len(run_ids)} test run(s) saved as queued; they are sent automatically once the queue is back",
        ) from None
    return run_ids


def test_run_execute_queued(*, run_id: str) -> CheckRun | None:
    """The worker's side: take the run up, test, record. Idempotent: a run that is no longer
    queued (finished, or taken by another worker) is skipped and None returned.

    On a transient fault of our own the run goes back to "queued" and the error is raised for
    the task to retry.
    """
    run = _claim(run_id)
    if run is None:
        logger.info("test run %s: no longer queued (finished or taken by another worker); skipped", run_id)
        return None
    try:
        run.connection = _connection_to_test(run.connection_id)
        if run.connection.status != Connection.Status.ACTIVE:
            outcome = _outcome_without_call("The connection was deactivated before the test ran")
            return _record(run=run, outcome=outcome, on_connection=False)
        return _record(run=run, outcome=_call_provider(run.connection))
    except TRANSIENT_ERRORS:
        _release(run_id)
        raise


def _release(run_id: str) -> None:
    try:
        CheckRun.objects.filter(run_id=run_id, status=Status.RUNNING).update(
            status=Status.QUEUED, started_at=None
        )
    except TRANSIENT_ERRORS:
        logger.warning("test run %s: could not be put back in the queue; the sweeper will close it", run_id)
