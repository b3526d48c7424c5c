"""Connection tests as ``CheckRun`` records: run now (inline, or many in threads), or queued for
the workers and run there.

A test is three steps, so that the slow middle one never holds a transaction or a lock:
take the run up (``running``), call the provider (``perform_test_request``: network only, no
database), then record the outcome on the run and on the connection. The periodic jobs (re-tests,
the sweeper) are in ``connections.test_run_schedule``; reads in ``connections.selectors``.

Runs queued together travel in chunks, several run ids per task message; the worker takes a
chunk's runs up in one statement, reads their connections in one, calls their providers at the
same time and records the outcomes as the calls finish.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait
from datetime import datetime
from typing import Any

from celery import signature
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.db import connections as db_connections
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
from core import metrics, request_context
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
# Runs per task message when many are queued at once (a bulk test, the schedule, the sweeper):
# Celery's own work per message (receive, trace, acknowledge, two log lines) and the statements
# that take runs up and read their connections are paid once per chunk, and the chunk's provider
# calls are made at the same time, so it takes about as long as its slowest call. A run queued
# on its own is a message of its own, taken up at once.
TEST_RUN_CHUNK = 10
# Runs spread over time share a message only when due within this many seconds of each other.
SPREAD_CHUNK_SECONDS = 1.0
# A worker process's threads for the provider calls of chunks: kept from one chunk to the next
# (threads start on demand), so each keeps its outbound sessions and a provider's keep-alive
# connection serves its next test. Enough for each of CELERY_WORKER_CONCURRENCY worker threads to
# have a whole chunk out at once (a larger --concurrency makes calls wait for a free thread).
_provider_calls = ThreadPoolExecutor(
    max_workers=TEST_RUN_CHUNK * settings.CELERY_WORKER_CONCURRENCY, thread_name_prefix="provider-call"
)


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


def _record(*, finished: list[tuple[CheckRun, CheckOutcome]], on_connection: bool = True) -> list[CheckRun]:
    """Finish each run with its outcome and, unless told otherwise, put it on the connection, all
    in one transaction. Returns the runs, as recorded.

    Only a run still "running" is finished: one the sweeper gave up on keeps its verdict (and is
    returned as the sweeper left it).
    """
    finished_at = timezone.now()
    recorded = []
    with transaction.atomic():
        for run, outcome in finished:
            values = _run_values(outcome, finished_at=finished_at)
            if not _finish_run(run_pk=run.pk, values=values):
                continue
            recorded.append(run)
            for name, value in values.items():
                setattr(run, name, value)
            if on_connection:
                _record_on_connection(
                    connection_pk=run.connection_id, outcome=outcome, tested_at=run.started_at
                )
                if not outcome.succeeded:
                    webhook_events_for_test_failure(
                        connection_pk=run.connection_id, reason=outcome.message, run_id=run.run_id
                    )
    for run, outcome in finished:
        if run in recorded:
            _count(run=run, outcome=outcome)
            logger.info(
                "test run %s of %s: %s %s in %s ms",
                run.run_id,
                run.connection.connection_id,
                outcome.status,
                outcome.status_code,
                outcome.response_time_ms,
            )
        else:
            logger.warning("test run %s: finished after it was given up on; result dropped", run.run_id)
            run.refresh_from_db()
    return [run for run, _ in finished]


def _run_values(outcome: CheckOutcome, *, finished_at: datetime) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "status_code": outcome.status_code,
        "response_time_ms": outcome.response_time_ms,
        "message": outcome.message,
        "error_message": outcome.error_message,
        "endpoint": outcome.endpoint or None,
        "finished_at": finished_at,
    }


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


def _in(values: list[Any]) -> str:
    return f"IN ({', '.join(['%s'] * len(values))})"


def _claim(run_ids: list[str]) -> list[CheckRun]:
    """Take up and read the runs still queued among ``run_ids``, in one statement
    (UPDATE … RETURNING); the others (finished, or taken by another worker) are left alone."""
    run = CheckRun._meta
    attempts, status = _column(run, "attempts"), _column(run, "status")
    values = {"status": Status.RUNNING, "started_at": timezone.now()}
    sql, params = _assignments(run, values)
    claimed = CheckRun.objects.raw(
        f"UPDATE {_table(run)} SET {sql}, {attempts} = {attempts} + 1"
        f" WHERE {_column(run, 'run_id')} {_in(run_ids)} AND {status} = %s RETURNING *",
        [*params, *run_ids, Status.QUEUED],
    )
    return list(claimed)


def _connections_to_test(connection_pks: list[int]) -> dict[int, Connection]:
    """The connections by pk, with their integration from the in-memory catalog (no document
    decoded per test): one query, which also reads the catalog's revision."""
    meta, revision = Connection._meta, catalog_revision()
    connections = Connection.objects.raw(
        f"SELECT *, {revision.sql} AS revision FROM {_table(meta)} WHERE {_column(meta, 'id')} {_in(connection_pks)}",
        [*revision.params, *connection_pks],
    )
    found = {}
    for connection in connections:
        integration = catalog_integration(
            integration_id=connection.integration_id, revision=connection.revision
        )
        if integration is not None:
            connection.integration = integration
        found[connection.pk] = connection
    return found


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
    (run,) = _record(finished=[(run, _call_provider(connection))])
    return run


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
            (runs[index],) = _record(finished=[(runs[index], call.result())])
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
    """Publish the runs (only their ids) in chunks of up to TEST_RUN_CHUNK per task message, all
    in one broker batch. Returns the ids sent; ServiceUnavailable if the broker is down, the runs
    staying queued (the sweeper sends again those still queued; a run taken up twice is skipped
    by its claim).

    With ``spread_seconds`` run *i* starts about ``i × spread_seconds / len(run_ids)`` seconds
    from now: only runs that would start within SPREAD_CHUNK_SECONDS of each other share a
    message, sent when the first of them is due.

    The task is named, not imported: ``connections.tasks`` calls this module, never the reverse.
    """
    size, step = TEST_RUN_CHUNK, 0.0
    if spread_seconds and run_ids:
        per_run = spread_seconds / len(run_ids)
        size = max(1, min(TEST_RUN_CHUNK, int(SPREAD_CHUNK_SECONDS / per_run)))
        step = per_run * size
    chunks = [tuple(run_ids[start : start + size]) for start in range(0, len(run_ids), size)]
    try:
        execute = signature(EXECUTE_TEST_RUN_TASK)
        publish_many(execute, chunks, countdown_step=step)
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(
            exc.message,
            error=f"{len(run_ids)} test run(s) saved as queued; they are sent automatically once the queue is back",
        ) from None
    return run_ids


def test_run_execute_queued(*, run_id: str) -> CheckRun | None:
    """``test_run_execute_queued_many`` for one run: the finished run, or None if it was skipped."""
    finished = test_run_execute_queued_many(run_ids=[run_id])
    return finished[0] if finished else None


def test_run_execute_queued_many(*, run_ids: list[str]) -> list[CheckRun]:
    """The worker's side: take the runs up, test them (their provider calls at the same time),
    record each outcome; returns the runs finished. Idempotent: a run that is no longer queued
    (finished, or taken by another worker) is skipped.

    On a transient fault of our own the runs not recorded yet go back to "queued" and the error
    is raised for the task to retry: the retry takes up only those.
    """
    runs = _claim(run_ids)
    taken = {run.run_id for run in runs}
    for run_id in run_ids:
        if run_id not in taken:
            logger.info(
                "test run %s: no longer queued (finished or taken by another worker); skipped", run_id
            )
    if not runs:
        return []
    try:
        return _test_claimed(runs)
    except TRANSIENT_ERRORS:
        _release([run.run_id for run in runs])
        raise


def _test_claimed(runs: list[CheckRun]) -> list[CheckRun]:
    connections = _connections_to_test(sorted({run.connection_id for run in runs}))
    runs = [run for run in runs if run.connection_id in connections]  # else erased meanwhile, runs and all
    for run in runs:
        run.connection = connections[run.connection_id]
    active = [run for run in runs if run.connection.status == Connection.Status.ACTIVE]
    finished = []
    if len(active) < len(runs):
        deactivated = _outcome_without_call("The connection was deactivated before the test ran")
        finished += _record(
            finished=[(run, deactivated) for run in runs if run not in active], on_connection=False
        )
    for called in _provider_calls_as_completed(active):
        finished += _record(finished=called)
    return finished


def _provider_calls_as_completed(runs: list[CheckRun]) -> Iterator[list[tuple[CheckRun, CheckOutcome]]]:
    """Each run's provider call, in groups of (run, outcome) as they finish: one run's in this
    thread, several at the same time on the process's provider-call threads."""
    if len(runs) == 1:
        yield [(runs[0], _call_provider(runs[0].connection))]
        return
    work = request_context.current()
    calls = {_provider_calls.submit(_call_in_thread, work, run.connection): run for run in runs}
    try:
        while calls:
            done, _ = wait(calls, return_when=FIRST_COMPLETED)
            yield [(calls.pop(call), call.result()) for call in done]
    except SoftTimeLimitExceeded:
        # Only pools that enforce time limits (prefork) get here: the calls still out are given up.
        timed_out = _outcome_without_call(
            f"The test did not finish within {settings.CELERY_TASK_SOFT_TIME_LIMIT} s"
        )
        yield [(run, timed_out) for run in calls.values()]


def _call_in_thread(work: request_context.WorkContext, connection: Connection) -> CheckOutcome:
    """``_call_provider`` on a provider-call thread, its log lines under the task's request id."""
    with request_context.work(request_id=work.request_id, task_name=work.task_name, task_id=work.task_id):
        try:
            return _call_provider(connection)
        finally:
            # Only a sign-in token refreshed first uses the database here; the thread outlives
            # the task, so it does not keep a connection open.
            db_connections.close_all()


def _release(run_ids: list[str]) -> None:
    """Put the runs still "running" back in the queue (those recorded already are not)."""
    try:
        CheckRun.objects.filter(run_id__in=run_ids, status=Status.RUNNING).update(
            status=Status.QUEUED, started_at=None
        )
    except TRANSIENT_ERRORS:
        logger.warning(
            "test run(s) %s: could not be put back in the queue; the sweeper will close them",
            ", ".join(run_ids),
        )
